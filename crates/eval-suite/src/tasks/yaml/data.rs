//! A task file's splits, read from local files as Hugging Face `datasets` reads them for
//! lm-eval: JSON Lines (or one JSON array) and CSV with a header row, its columns typed as
//! pandas and `datasets` type them ([`csv_types`]; an empty cell is `None`). Docs are
//! numbered in split order, lm-eval's `doc_id`.
//!
//! `dataset_kwargs.data_files` paths are absolute or relative to the data directory
//! (`--data` / `$PAINTERS_DATA`). A hub `dataset_path` such as `allenai/sciq` is looked up
//! as `DATA/sciq/<split>.jsonl` (or `DATA/sciq/<dataset_name>/<split>.jsonl`), the layout
//! of `../shared/data`; painters downloads nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::config::{Dataset, FileFormat};
use crate::data::{self, Row};
use crate::error::{DataError, DataProblem, EvalError};

/// One doc and where it was read.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub file: PathBuf,
    pub line: usize,
    /// A JSON object.
    pub value: serde_json::Value,
}

impl Doc {
    /// `FILE:LINE: message` about this doc.
    pub fn error(&self, message: String) -> EvalError {
        DataError::value(&self.file, self.line, message).into()
    }
}

/// The docs of `split`, in order.
pub(crate) fn read_split(
    dataset: &Dataset,
    split: &str,
    data_dir: &Path,
) -> Result<Vec<Doc>, EvalError> {
    let (format, files) = match dataset {
        Dataset::Files { format, splits, at } => {
            let Some((_, files)) = splits.iter().find(|(s, _)| s == split) else {
                let known: Vec<&str> = splits.iter().map(|(s, _)| s.as_str()).collect();
                return Err(at.error(format!(
                    "dataset_kwargs.data_files: no files for the {split} split (given: {})",
                    known.join(", ")
                )));
            };
            let paths = files.iter().map(|f| data_dir.join(f)).collect();
            (*format, paths)
        }
        Dataset::Hub { path, name, at } => {
            let base = data_dir.join(path.rsplit('/').next().unwrap_or(path));
            let mut tried = Vec::new();
            if let Some(name) = name {
                tried.push(base.join(name).join(format!("{split}.jsonl")));
            }
            tried.push(base.join(format!("{split}.jsonl")));
            let Some(found) = tried.iter().find(|p| p.is_file()) else {
                let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
                return Err(at.error(format!(
                    "dataset_path: {path} is a Hugging Face hub dataset and painters reads local files: \
                     put its {split} split at {}, or set dataset_path: json with dataset_kwargs.data_files: {{{split}: FILE}}",
                    tried.join(" or ")
                )));
            };
            (FileFormat::Json, vec![found.clone()])
        }
    };
    let csv_types = match (format, dataset) {
        (FileFormat::Csv, Dataset::Files { splits, .. }) => {
            let all: Vec<PathBuf> = splits
                .iter()
                .flat_map(|(_, fs)| fs)
                .map(|f| data_dir.join(f))
                .collect();
            Some(csv_types(&all)?)
        }
        _ => None,
    };
    let mut docs = Vec::new();
    for path in files {
        let rows = match &csv_types {
            None => read_json(&path)?,
            Some(types) => read_csv(&path, types)?,
        };
        for row in rows {
            if !row.value.is_object() {
                return Err(
                    DataError::value(&path, row.line, "expected a JSON object".into()).into(),
                );
            }
            docs.push(Doc {
                file: path.clone(),
                line: row.line,
                value: row.value,
            });
        }
    }
    Ok(docs)
}

/// JSON Lines, or one JSON array of objects (each then at line 1).
fn read_json(path: &Path) -> Result<Vec<Row<serde_json::Value>>, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    if !text.trim_start().starts_with('[') {
        return data::read_jsonl(path);
    }
    let items: Vec<serde_json::Value> = serde_json::from_str(&text)
        .map_err(|e| DataError::at(path, e.line(), DataProblem::Json(e.to_string())))?;
    Ok(items
        .into_iter()
        .map(|value| Row { line: 1, value })
        .collect())
}

/// A CSV file's header and records (with the line each starts on).
fn parse_csv(path: &Path) -> Result<CsvFile, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| DataError::at(path, 1, DataProblem::Csv(e.to_string())))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            DataError::at(path, line, DataProblem::Csv(e.to_string()))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() != header.len() {
            return Err(DataError::at(
                path,
                line,
                DataProblem::Columns {
                    expected: header.len(),
                    found: record.len(),
                    names: header.join(","),
                },
            ));
        }
        records.push((line, record));
    }
    Ok(CsvFile { header, records })
}

struct CsvFile {
    header: Vec<String>,
    /// Each record with the line it starts on.
    records: Vec<(usize, csv::StringRecord)>,
}

/// Column types of a CSV dataset: each file's columns typed as pandas types them
/// (integers, floats where a cell is missing or fractional, else text), then unified
/// across every file of every split as `datasets` unifies them (text wins, then integers).
fn csv_types(paths: &[PathBuf]) -> Result<HashMap<String, ColumnType>, DataError> {
    let mut types: HashMap<String, ColumnType> = HashMap::new();
    for path in paths {
        let CsvFile { header, records } = parse_csv(path)?;
        for (c, name) in header.iter().enumerate() {
            let cells = || records.iter().map(|(_, r)| &r[c]).filter(|v| !v.is_empty());
            let complete = records.iter().all(|(_, r)| !r[c].is_empty());
            let here = if complete && cells().all(|v| v.parse::<i64>().is_ok()) {
                ColumnType::Int
            } else if cells().all(|v| v.parse::<f64>().is_ok()) {
                ColumnType::Float
            } else {
                ColumnType::Text
            };
            let unified = match (types.get(name), here) {
                (Some(ColumnType::Text), _) | (_, ColumnType::Text) => ColumnType::Text,
                (Some(ColumnType::Int), _) | (_, ColumnType::Int) => ColumnType::Int,
                _ => ColumnType::Float,
            };
            types.insert(name.clone(), unified);
        }
    }
    Ok(types)
}

/// A CSV file's records as objects of columns typed by `types`.
fn read_csv(
    path: &Path,
    types: &HashMap<String, ColumnType>,
) -> Result<Vec<Row<serde_json::Value>>, DataError> {
    let CsvFile { header, records } = parse_csv(path)?;
    Ok(records
        .iter()
        .map(|(line, record)| {
            let object = header
                .iter()
                .zip(record.iter())
                .map(|(name, cell)| {
                    let ty = types.get(name).copied().unwrap_or(ColumnType::Text);
                    (name.clone(), ty.value(cell))
                })
                .collect();
            Row {
                line: *line,
                value: serde_json::Value::Object(object),
            }
        })
        .collect())
}

#[derive(Debug, Clone, Copy)]
enum ColumnType {
    Int,
    Float,
    Text,
}

impl ColumnType {
    fn value(self, cell: &str) -> serde_json::Value {
        if cell.is_empty() {
            return serde_json::Value::Null;
        }
        match self {
            // A float column of another file cast to integers: whole values convert.
            ColumnType::Int => match cell.parse::<i64>() {
                Ok(i) => i.into(),
                Err(_) => cell
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0)
                    .map_or(serde_json::Value::Null, |f| (f as i64).into()),
            },
            ColumnType::Float => cell
                .parse::<f64>()
                .map_or(serde_json::Value::Null, Into::into),
            ColumnType::Text => cell.into(),
        }
    }
}
