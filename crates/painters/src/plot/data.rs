//! The runner's result files as the figures need them: the columns of `summary.csv`,
//! `medians.csv` and `similarity.csv` that are plotted, and the model's name. Only shape
//! is checked here (types, required columns); what the numbers mean is the runner's.

use std::path::Path;

use super::PlotError;
use super::table;

/// One row of `summary.csv`: a variant cell's score on one task and metric.
pub(super) struct Score {
    pub kind: String,
    pub times: Option<usize>,
    /// M; empty for explicit plans.
    pub affected: Option<usize>,
    pub layer: Option<usize>,
    pub task: String,
    pub metric: String,
    pub filter: String,
    pub value: f64,
    pub stderr: Option<f64>,
    pub chance: Option<f64>,
    pub full: Option<f64>,
    pub normalised: Option<f64>,
    pub normalised_stderr: Option<f64>,
    pub informative: bool,
}

/// One row of `medians.csv`: a variant cell's median normalised score.
pub(super) struct Median {
    pub kind: String,
    pub times: Option<usize>,
    pub affected: Option<usize>,
    pub median: Option<f64>,
    /// How many seeds' cells the row averages (1 without a `seeds` column).
    pub seeds: usize,
}

/// A square matrix of mean cosine similarities between hidden states.
pub(super) struct Similarity {
    /// `flat` / `token`, when the file has a `mode` column.
    pub mode: Option<String>,
    pub size: usize,
    /// Row-major, `NaN` where the file has no value.
    pub cosine: Vec<f64>,
}

pub(super) struct Results {
    pub model: Option<String>,
    pub scores: Vec<Score>,
    pub medians: Vec<Median>,
    pub similarity: Vec<Similarity>,
}

impl Results {
    /// Reads `dir`; `summary.csv` and `medians.csv` must exist, the rest is optional.
    pub fn load(dir: &Path) -> Result<Self, PlotError> {
        let scores = table::read(&dir.join("summary.csv"), |f| {
            Ok(Score {
                kind: f.text("kind")?.to_string(),
                times: f.optional("times")?,
                affected: f.optional("affected_layers")?,
                layer: f.optional("layer")?,
                task: f.text("task")?.to_string(),
                metric: f.text("metric")?.to_string(),
                filter: f.text("filter")?.to_string(),
                value: f.required("value")?,
                stderr: f.optional("stderr")?,
                chance: f.optional("chance")?,
                full: f.optional("full")?,
                normalised: f.optional("normalised")?,
                normalised_stderr: f.optional("normalised_stderr")?,
                informative: f.flag("informative")?,
            })
        })?;
        let medians = table::read(&dir.join("medians.csv"), |f| {
            Ok(Median {
                kind: f.text("kind")?.to_string(),
                times: f.optional("times")?,
                affected: f.optional("affected_layers")?,
                median: f.optional("median_normalised")?,
                seeds: if f.has("seeds") {
                    f.required("seeds")?
                } else {
                    1
                },
            })
        })?;
        let file = dir.join("similarity.csv");
        let similarity = if file.exists() {
            read_similarity(&file)?
        } else {
            Vec::new()
        };
        Ok(Self {
            model: model_name(&dir.join("resolved.toml"))?,
            scores,
            medians,
            similarity,
        })
    }
}

/// One matrix per `mode` (in order of first appearance), symmetric where only one of
/// (i, j) and (j, i) is given.
fn read_similarity(file: &Path) -> Result<Vec<Similarity>, PlotError> {
    const MAX_INDEX: usize = 1024;
    let entries = table::read(file, |f| {
        let mode = if f.has("mode") {
            Some(f.text("mode")?.to_string())
        } else {
            None
        };
        let (i, j) = (f.required::<usize>("i")?, f.required::<usize>("j")?);
        if i.max(j) > MAX_INDEX {
            let column = if i > MAX_INDEX { "i" } else { "j" };
            return Err(f.error(column, format!("hidden-state index above {MAX_INDEX}")));
        }
        Ok((mode, i, j, f.required::<f64>("cosine")?))
    })?;
    let mut modes: Vec<Option<String>> = Vec::new();
    for (mode, ..) in &entries {
        if !modes.contains(mode) {
            modes.push(mode.clone());
        }
    }
    let matrices = modes.into_iter().map(|mode| {
        let mine = || entries.iter().filter(|e| e.0 == mode);
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
        Similarity { mode, size, cosine }
    });
    Ok(matrices.collect())
}

/// The model's name in `resolved.toml`: `experiment.model.name` when the experiment gives
/// one, else the last path component of a top-level `model` string or, as the runner
/// writes it, of `experiment.model.dir`.
fn model_name(file: &Path) -> Result<Option<String>, PlotError> {
    let fail = |at: String, message: String| PlotError::Input {
        file: file.to_path_buf(),
        at,
        message,
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(String::new(), e.to_string())),
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
    let settings = doc.get("experiment").and_then(|e| e.get("model"));
    if let Some(name) = settings.and_then(|m| m.get("name")?.as_str()) {
        return Ok(Some(name.to_string()));
    }
    let model = match doc.get("model") {
        Some(toml::Value::String(model)) => Some(model.as_str()),
        _ => settings.and_then(|m| m.get("dir")?.as_str()),
    };
    let model = model.map(|m| m.trim_end_matches('/'));
    Ok(model
        .and_then(|m| Path::new(m).file_name())
        .map(|n| n.to_string_lossy().into_owned()))
}
