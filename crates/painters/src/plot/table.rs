//! Reading a CSV file by column name, with errors that name the file, the line and the
//! column. Column order is free; columns nobody asks for are ignored.

use std::collections::HashMap;
use std::path::Path;

use csv::StringRecord;

use super::PlotError;

/// One data row, read through the header's column names.
pub(super) struct Fields<'a> {
    file: &'a Path,
    line: u64,
    columns: &'a HashMap<String, usize>,
    record: &'a StringRecord,
}

/// Parses each data row of `file` with `row`; a missing file is an error.
pub(super) fn read<T>(
    file: &Path,
    mut row: impl FnMut(&Fields) -> Result<T, PlotError>,
) -> Result<Vec<T>, PlotError> {
    let fail = |line: Option<u64>, message: String| PlotError::Input {
        file: file.to_path_buf(),
        at: line.map(|l| format!(": line {l}")).unwrap_or_default(),
        message,
    };
    let csv_error = |e: csv::Error| fail(e.position().map(csv::Position::line), e.to_string());
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(file)
        .map_err(|e| fail(None, e.to_string()))?;
    let header = reader.headers().map_err(csv_error)?.clone();
    if header.iter().all(str::is_empty) {
        return Err(fail(Some(1), "empty file: expected a header line".into()));
    }
    let columns = header
        .iter()
        .enumerate()
        .map(|(i, name)| (name.trim().to_string(), i))
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() > header.len() {
            let message = format!(
                "{} fields, but the header has {}",
                record.len(),
                header.len()
            );
            return Err(fail(Some(line), message));
        }
        rows.push(row(&Fields {
            file,
            line,
            columns: &columns,
            record: &record,
        })?);
    }
    Ok(rows)
}

impl Fields<'_> {
    pub(super) fn error(&self, column: &str, message: String) -> PlotError {
        let at = match self.columns.get(column) {
            Some(i) => format!(": line {}, column {} ({column})", self.line, i + 1),
            None => format!(": line 1 (header), column {column}"),
        };
        PlotError::Input {
            file: self.file.to_path_buf(),
            at,
            message,
        }
    }

    /// Whether the header has `column`.
    pub(super) fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// The trimmed text of `column`; an error if the header lacks it or the row is short.
    pub(super) fn text(&self, column: &str) -> Result<&str, PlotError> {
        let Some(&i) = self.columns.get(column) else {
            return Err(self.error(column, "no such column".into()));
        };
        let message = || format!("missing: the row has {} fields", self.record.len());
        self.record
            .get(i)
            .map(str::trim)
            .ok_or_else(|| self.error(column, message()))
    }

    /// `column` parsed as `T`, or `None` when empty.
    pub(super) fn optional<T: std::str::FromStr>(
        &self,
        column: &str,
    ) -> Result<Option<T>, PlotError> {
        let text = self.text(column)?;
        if text.is_empty() {
            return Ok(None);
        }
        let expected = match std::any::type_name::<T>() {
            "f64" => "a number",
            "usize" => "a whole number",
            other => other,
        };
        let message = || format!("expected {expected}, found {text:?}");
        text.parse()
            .map(Some)
            .map_err(|_| self.error(column, message()))
    }

    /// `column` parsed as `T`; empty is an error.
    pub(super) fn required<T: std::str::FromStr>(&self, column: &str) -> Result<T, PlotError> {
        self.optional(column)?
            .ok_or_else(|| self.error(column, "empty, expected a value".into()))
    }

    /// `column` as `true`/`false` (any case).
    pub(super) fn flag(&self, column: &str) -> Result<bool, PlotError> {
        match self.text(column)?.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(self.error(column, format!("expected true or false, found {other:?}"))),
        }
    }
}
