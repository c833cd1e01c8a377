//! Errors of this crate: malformed data (always one line naming the file and the 1-based
//! line or CSV record), task selection, few-shot settings the data cannot serve, backend
//! failures, and invalid input to the paired statistics.
//!
//! Nothing here panics or recovers; callers decide (the CLI wraps these in `anyhow`).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::lm::BackendError;

/// How to get a missing benchmark file.
const FETCH_HINT: &str = "; `painters data fetch` downloads the official files into the default data directory (or give --data DIR / $PAINTERS_DATA with them)";

/// What is wrong with a data file at one place.
#[derive(Debug, Error)]
pub enum DataProblem {
    /// The file is missing (with how to get it) or unreadable.
    #[error("cannot read: {error}{hint}", error = .0, hint = if .0.kind() == std::io::ErrorKind::NotFound { FETCH_HINT } else { "" })]
    Io(#[source] std::io::Error),
    /// A JSONL line that is not one JSON value.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// A missing field or a field of the wrong type (serde's message, prefixed by the
    /// field path where it is nested, e.g. `question.choices[1].label: invalid type: ...`).
    #[error("{0}")]
    Field(String),
    /// A well-typed value the task cannot use: a label out of range, a missing `_` blank.
    #[error("{0}")]
    Value(String),
    /// A CSV record with the wrong number of columns.
    #[error("expected {expected} columns ({names}), found {found}")]
    Columns {
        expected: usize,
        found: usize,
        names: String,
    },
    /// A CSV record that cannot be parsed (e.g. not UTF-8).
    #[error("not valid CSV: {0}")]
    Csv(String),
}

/// Malformed data: `path:line: problem`, or `path: problem` for whole-file problems.
#[derive(Debug, Error)]
#[error("{}{}: {problem}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct DataError {
    pub path: PathBuf,
    /// 1-based line number (for CSV: the line on which the record starts).
    pub line: Option<usize>,
    pub problem: DataProblem,
}

impl DataError {
    pub(crate) fn at(path: &Path, line: usize, problem: DataProblem) -> Self {
        DataError {
            path: path.to_path_buf(),
            line: Some(line),
            problem,
        }
    }

    pub(crate) fn value(path: &Path, line: usize, message: String) -> Self {
        Self::at(path, line, DataProblem::Value(message))
    }

    pub(crate) fn io(path: &Path, error: std::io::Error) -> Self {
        DataError {
            path: path.to_path_buf(),
            line: None,
            problem: DataProblem::Io(error),
        }
    }
}

/// Anything that stops [`crate::evaluate`].
#[derive(Debug, Error)]
pub enum EvalError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("unknown task {name:?}; known: {known}")]
    UnknownTask { name: String, known: String },
    /// A task YAML file that cannot be read or asks for what is not supported:
    /// `path:line: key: message`.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    TaskFile {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("{task}: {message}")]
    Fewshot { task: String, message: String },
    #[error("{task}: no documents to evaluate")]
    NoDocuments { task: String },
    /// Not a `#[source]`: its message is already in this one's, and chained printing would
    /// repeat it.
    #[error("backend: {0}")]
    Backend(BackendError),
    #[error("backend returned {got} results for {expected} {call} requests")]
    BackendCount {
        call: &'static str,
        expected: usize,
        got: usize,
    },
}

/// Invalid input to the paired statistics in [`crate::stats`].
#[derive(Debug, Error, PartialEq)]
pub enum StatsError {
    #[error("paired samples differ in length: {a} vs {b}")]
    Unpaired { a: usize, b: usize },
    #[error("item {index} is not the same doc in both results")]
    Mismatch { index: usize },
    #[error("items have no per-item score for {metric}")]
    NoScore { metric: String },
    #[error("no items to compare")]
    Empty,
    #[error("at least one bootstrap resample is needed")]
    NoResamples,
}

impl From<BackendError> for EvalError {
    fn from(error: BackendError) -> Self {
        EvalError::Backend(error)
    }
}
