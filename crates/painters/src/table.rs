//! Reading the CSV files painters writes (summary.csv, medians.csv, similarity.csv) back
//! into the same serde structs that wrote them, with errors that name the file, the line
//! and the column. Column order is free; columns the struct does not have are ignored.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A results file that is missing, unreadable or malformed; `at` names the line and
/// column where there is one (`": line 3, column 13 (value)"`).
#[derive(Debug, thiserror::Error)]
#[error("{}{at}: {message}", file.display())]
pub struct TableError {
    pub file: PathBuf,
    pub at: String,
    pub message: String,
}

/// Every data row of `file` as a `T`; a missing file, a header-less file or a row that
/// does not fit `T` is an error.
pub fn read<T: DeserializeOwned>(file: &Path) -> Result<Vec<T>, TableError> {
    let fail = |at: String, message: String| TableError {
        file: file.to_path_buf(),
        at,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .map_err(|e| fail(String::new(), e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| fail(at_line(&e), e.to_string()))?
        .clone();
    if header.iter().all(str::is_empty) {
        return Err(fail(
            ": line 1".into(),
            "empty file: expected a header line".into(),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| match e.kind() {
            csv::ErrorKind::UnequalLengths { len, .. } => fail(
                at_line(&e),
                format!("{len} fields, but the header has {}", header.len()),
            ),
            _ => fail(at_line(&e), e.to_string()),
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        rows.push(record.deserialize(Some(&header)).map_err(|e| {
            let csv::ErrorKind::Deserialize { err, .. } = e.kind() else {
                return fail(format!(": line {line}"), e.to_string());
            };
            if let csv::DeserializeErrorKind::Message(message) = err.kind()
                && let Some(column) = message.strip_prefix("missing field ")
            {
                let column = column.trim_matches('`');
                return fail(
                    format!(": line 1 (header), column {column}"),
                    "no such column".into(),
                );
            }
            let field = err.field().map(|i| i as usize);
            let at = match field.and_then(|i| Some((i, header.get(i)?))) {
                Some((i, name)) => format!(": line {line}, column {} ({name})", i + 1),
                None => format!(": line {line}"),
            };
            let found = field.and_then(|i| record.get(i)).unwrap_or_default();
            fail(at, deserialize_message(err, found))
        })?);
    }
    Ok(rows)
}

fn at_line(e: &csv::Error) -> String {
    e.position()
        .map(|p| format!(": line {}", p.line()))
        .unwrap_or_default()
}

/// What was wrong with field text `found`, in words ("expected a number, found \"seventy\"").
fn deserialize_message(err: &csv::DeserializeError, found: &str) -> String {
    use csv::DeserializeErrorKind as Kind;
    let expected = match err.kind() {
        Kind::ParseFloat(_) => "a number",
        Kind::ParseInt(_) => "a whole number",
        Kind::ParseBool(_) => "true or false",
        Kind::Message(message) => return format!("{message}, found {found:?}"),
        other => return format!("{other}, found {found:?}"),
    };
    format!("expected {expected}, found {found:?}")
}
