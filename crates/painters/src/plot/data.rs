//! The runner's result files as the figures need them: `summary.csv`, `medians.csv`,
//! `paired.csv`, `similarity.csv` and `variance.csv` read into the structs that wrote them (paired.csv:
//! the columns the figures use), and the model's name. Only
//! shape is checked here (types, required columns); what the numbers mean is the runner's.

use std::path::Path;

pub(super) use crate::cmd::similarity::{Entry as SimilarityEntry, Variance};
pub(super) use crate::paired::PairedRow as Paired;
pub(super) use crate::summary::{MedianRow as Median, Row as Score};
use crate::table::{self, TableError};

use super::PlotError;

/// A square matrix of mean cosine similarities between hidden states.
pub(super) struct Similarity {
    /// `flat` / `token`, when the file has a `mode` column.
    pub mode: Option<String>,
    /// The plan the hidden states are those of; `None` for the baseline (or a file from
    /// before the column).
    pub plan: Option<String>,
    pub size: usize,
    /// Row-major, `NaN` where the file has no value.
    pub cosine: Vec<f64>,
}

pub(super) struct Results {
    pub model: Option<String>,
    /// The model's number of layers T (resolved.toml), where known.
    pub layers: Option<usize>,
    pub scores: Vec<Score>,
    pub medians: Vec<Median>,
    /// Empty without paired.csv (`painters stats` writes it).
    pub paired: Vec<Paired>,
    pub similarity: Vec<Similarity>,
    /// Each hidden state's variance per plan; empty without variance.csv.
    pub variance: Vec<Variance>,
}

impl Results {
    /// Reads `dir`; `summary.csv` and `medians.csv` must exist, the rest is optional.
    pub fn load(dir: &Path) -> Result<Self, PlotError> {
        let scores = table::read(&dir.join("summary.csv"))?;
        let medians = table::read(&dir.join("medians.csv"))?;
        let file = dir.join("paired.csv");
        let paired = if file.exists() {
            table::read(&file)?
        } else {
            Vec::new()
        };
        let file = dir.join("similarity.csv");
        let similarity = if file.exists() {
            read_similarity(&file)?
        } else {
            Vec::new()
        };
        let file = dir.join("variance.csv");
        let variance = if file.exists() {
            table::read(&file)?
        } else {
            Vec::new()
        };
        let (model, layers) = model_facts(&dir.join("resolved.toml"))?;
        Ok(Self {
            model,
            layers,
            scores,
            medians,
            paired,
            similarity,
            variance,
        })
    }
}

/// One matrix per `mode` (in order of first appearance), symmetric where only one of
/// (i, j) and (j, i) is given.
fn read_similarity(file: &Path) -> Result<Vec<Similarity>, PlotError> {
    const MAX_INDEX: usize = 1024;
    let entries: Vec<SimilarityEntry> = table::read(file)?;
    if let Some(line) = entries.iter().position(|e| e.i.max(e.j) > MAX_INDEX) {
        return Err(TableError {
            file: file.to_path_buf(),
            at: format!(": line {}", line + 2),
            message: format!("hidden-state index above {MAX_INDEX}"),
        }
        .into());
    }
    let entries: Vec<_> = entries
        .into_iter()
        .map(|e| ((e.plan, e.mode), e.i, e.j, e.cosine))
        .collect();
    let mut keys: Vec<(Option<String>, Option<String>)> = Vec::new();
    for (key, ..) in &entries {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    let matrices = keys.into_iter().map(|key| {
        let mine = || entries.iter().filter(|e| e.0 == key);
        let size = mine().map(|&(_, i, j, _)| i.max(j) + 1).max().unwrap_or(0);
        let mut cosine = vec![f64::NAN; size * size];
        for &(_, i, j, c) in mine() {
            cosine[i * size + j] = c;
        }
        for (i, j) in (0..size).flat_map(|i| (0..size).map(move |j| (i, j))) {
            if cosine[i * size + j].is_nan() {
                cosine[i * size + j] = cosine[j * size + i];
            }
        }
        let (plan, mode) = key;
        // The baseline's plan is `0..T` with T + 1 hidden states.
        let plan = plan.filter(|p| *p != format!("0..{}", size.saturating_sub(1)));
        Similarity {
            mode,
            plan,
            size,
            cosine,
        }
    });
    Ok(matrices.collect())
}

/// From `resolved.toml`, the model's name — `experiment.model.name` when the experiment
/// gives one, else the last path component of a top-level `model` string or, as the
/// runner writes it, of `experiment.model.dir` — and its number of layers (`layers`).
fn model_facts(file: &Path) -> Result<(Option<String>, Option<usize>), PlotError> {
    let fail = |at: String, message: String| TableError {
        file: file.to_path_buf(),
        at,
        message,
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, None)),
        Err(e) => return Err(fail(String::new(), e.to_string()).into()),
    };
    let doc: toml::Table = toml::from_str(&text).map_err(|e| {
        let before = e
            .span()
            .and_then(|s| text.get(..s.start))
            .unwrap_or_default();
        fail(
            format!(": line {}", before.matches('\n').count() + 1),
            e.message().to_string(),
        )
    })?;
    let layers = doc
        .get("layers")
        .and_then(toml::Value::as_integer)
        .and_then(|n| usize::try_from(n).ok());
    let settings = doc.get("experiment").and_then(|e| e.get("model"));
    if let Some(name) = settings.and_then(|m| m.get("name")?.as_str()) {
        return Ok((Some(name.to_string()), layers));
    }
    let model = match doc.get("model") {
        Some(toml::Value::String(model)) => Some(model.as_str()),
        _ => settings.and_then(|m| m.get("dir")?.as_str()),
    };
    let model = model.map(|m| m.trim_end_matches('/'));
    let name = model
        .and_then(|m| Path::new(m).file_name())
        .map(|n| n.to_string_lossy().into_owned());
    Ok((name, layers))
}
