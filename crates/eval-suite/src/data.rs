//! Reading the benchmark files: JSONL into typed rows, plain line lists, and header-less
//! CSV, each row tagged with its 1-based line so every error can say where it is.
//!
//! Only parsing and typing live here; what a row means (labels, prompts) is the task's.
//! Every line of a JSONL file must be a JSON value (a trailing newline is fine).

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{DataError, DataProblem};

/// One parsed row and the 1-based line it starts on. `line - 1` is lm-eval's `doc_id`
/// for JSONL and line-list files.
#[derive(Debug)]
pub(crate) struct Row<T> {
    pub line: usize,
    pub value: T,
}

fn read_text(path: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))
}

/// Every line of a JSONL file, deserialised as `T`.
pub(crate) fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<Row<T>>, DataError> {
    read_text(path)?
        .lines()
        .enumerate()
        .map(|(i, text)| {
            let line = i + 1;
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| DataError::at(path, line, DataProblem::Json(json_message(&e))))?;
            let value = serde_path_to_error::deserialize(value).map_err(|e| {
                let at = e.path().to_string();
                let message = e.into_inner().to_string();
                let problem = if at == "." {
                    message
                } else {
                    format!("{at}: {message}")
                };
                DataError::at(path, line, DataProblem::Field(problem))
            })?;
            Ok(Row { line, value })
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct Text {
    text: String,
}

/// A texts file (`painters importance/prune --texts`): JSONL, one `{"text": ...}` per line
/// (the LAMBADA file's format; other fields are ignored). The first `limit` texts, each
/// with its 1-based line; an empty text, or no text at all, is an error.
pub fn read_texts(path: &Path, limit: Option<usize>) -> Result<Vec<(usize, String)>, DataError> {
    let rows = read_jsonl::<Text>(path).map_err(|e| match e.problem {
        // A user's own file: no hint about fetching benchmark files.
        DataProblem::Io(io) => DataError {
            problem: DataProblem::Value(format!("cannot read: {io}")),
            ..e
        },
        _ => e,
    })?;
    let texts: Vec<(usize, String)> = rows
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|row| match row.value.text.is_empty() {
            true => Err(DataError::value(path, row.line, "text: empty".into())),
            false => Ok((row.line, row.value.text)),
        })
        .collect::<Result<_, _>>()?;
    if texts.is_empty() {
        return Err(DataError {
            path: path.to_path_buf(),
            line: None,
            problem: DataProblem::Value("no texts (expected one {\"text\": ...} per line)".into()),
        });
    }
    Ok(texts)
}

/// serde_json's message without its " at line 1 column N" (every JSONL value is one line).
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(message) => format!("{message} (column {})", e.column()),
        None => full,
    }
}

/// The lines of a text file, without line endings.
pub(crate) fn read_lines(path: &Path) -> Result<Vec<Row<String>>, DataError> {
    Ok(read_text(path)?
        .lines()
        .enumerate()
        .map(|(i, text)| Row {
            line: i + 1,
            value: text.to_string(),
        })
        .collect())
}

/// The records of a header-less CSV file (RFC 4180 quoting, as Python's `csv.reader`
/// reads it; quoted fields may span lines), each with exactly `columns.len()` fields.
pub(crate) fn read_csv(path: &Path, columns: &[&str]) -> Result<Vec<Row<Vec<String>>>, DataError> {
    let text = read_text(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        // Line of the record about to be read, for errors that come before it is parsed.
        let next_line = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(rows),
            Ok(true) => {
                let line = record.position().map_or(next_line, |p| p.line() as usize);
                if record.len() != columns.len() {
                    return Err(DataError::at(
                        path,
                        line,
                        DataProblem::Columns {
                            expected: columns.len(),
                            found: record.len(),
                            names: columns.join(","),
                        },
                    ));
                }
                rows.push(Row {
                    line,
                    value: record.iter().map(str::to_string).collect(),
                });
            }
            Err(e) => {
                let line = e.position().map_or(next_line, |p| p.line() as usize);
                return Err(DataError::at(path, line, DataProblem::Csv(e.to_string())));
            }
        }
    }
}
