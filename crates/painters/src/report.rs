//! `painters report DIR`: everything a results directory holds in one self-contained HTML
//! file a collaborator opens instead of the folder — the model and harness, every figure
//! (inline SVG, drawn afresh into DIR/plots), the paper tables (`painters table`), which
//! benchmarks are informative, every paired comparison, and a drill-down into one cell's
//! items (context, choices with their log-likelihoods, the prediction, right or wrong);
//! with `--compare`, the comparison figures of `painters plot --compare` too. No network:
//! no external scripts, styles or fonts; one small inline script filters the items.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

use crate::paired::PairedRow;
use crate::paper_table::{Table, TableBy};
use crate::summary::{Row, headline};

const TEMPLATE: &str = include_str!("report.html");

/// What to put in the report beside DIR's own results.
pub struct ReportOptions {
    /// The cell whose items are shown (a summary.csv variant); default: the first cell
    /// after the baseline.
    pub cell: Option<String>,
    /// Items shown per task.
    pub items: usize,
    /// Other results directories to compare with, and their labels (DIR's first).
    pub compare: Vec<PathBuf>,
    pub labels: Vec<String>,
}

/// Everything the template shows.
#[derive(Serialize)]
struct Page {
    title: String,
    version: &'static str,
    dir: String,
    model: String,
    layers: Option<String>,
    model_id: Option<String>,
    harness: Option<String>,
    figures: Vec<Figure>,
    tables: Vec<TableView>,
    benchmarks: Vec<Benchmark>,
    paired: Vec<PairedView>,
    cell: String,
    item_limit: usize,
    items: Vec<TaskItems>,
    compare: Vec<Figure>,
    compare_labels: String,
    resolved: String,
}

#[derive(Serialize)]
struct Figure {
    name: String,
    svg: String,
}

#[derive(Serialize)]
struct TableView {
    header: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
    caption: String,
}

#[derive(Serialize)]
struct Benchmark {
    task: String,
    metric: String,
    full: String,
    chance: String,
    n: usize,
    informative: bool,
}

#[derive(Serialize)]
struct PairedView {
    cell_a: String,
    cell_b: String,
    affected_layers: usize,
    task: String,
    n: usize,
    normalised_a: String,
    normalised_b: String,
    difference: String,
    interval: String,
    mcnemar_p: String,
    significant: bool,
}

#[derive(Serialize)]
struct TaskItems {
    task: String,
    metric: String,
    value: String,
    items: Vec<Item>,
}

#[derive(Serialize)]
struct Item {
    doc_id: Value,
    context: String,
    choices: Vec<Choice>,
    score: String,
    right: bool,
    /// The whole record, for item kinds without choices.
    raw: String,
}

#[derive(Serialize)]
struct Choice {
    text: String,
    loglikelihood: String,
    predicted: bool,
    gold: bool,
}

fn number(x: f64) -> String {
    format!("{x:.4}")
}

/// Writes the report of `dir` to `out`.
pub fn write(dir: &Path, out: &Path, options: &ReportOptions) -> Result<()> {
    let rows = crate::summary::read(dir)?;
    let resolved_path = dir.join("resolved.toml");
    let resolved = std::fs::read_to_string(&resolved_path).unwrap_or_default();
    let facts: toml::Table =
        toml::from_str(&resolved).with_context(|| format!("{}", resolved_path.display()))?;
    let model_settings = facts.get("experiment").and_then(|e| e.get("model"));
    let model = model_settings
        .and_then(|m| m.get("name").or(m.get("dir"))?.as_str())
        .unwrap_or("(unknown model)")
        .to_string();
    let text = |key: &str| {
        facts
            .get(key)
            .map(|v| v.to_string().trim_matches('"').to_string())
    };

    let figures = svg_figures(crate::plot::plot_results(dir)?)?;
    let paired_file = dir.join("paired.csv");
    let (tables, paired) = match paired_file.exists() {
        false => (Vec::new(), Vec::new()),
        true => {
            let tables = [TableBy::M, TableBy::Benchmark]
                .into_iter()
                .map(|by| {
                    let table = Table::build(dir, by, "baseline")?;
                    let (header, rows) = table.text_grid(2);
                    Ok(TableView {
                        header,
                        rows,
                        caption: table.caption(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let paired: Vec<PairedRow> = crate::table::read(&paired_file)?;
            (tables, paired.iter().map(paired_view).collect())
        }
    };
    let cell = match &options.cell {
        Some(cell) => cell.clone(),
        None => rows
            .iter()
            .find(|r| r.kind != "baseline")
            .or(rows.first())
            .map(|r| r.variant.clone())
            .unwrap_or_default(),
    };
    let items = cell_items(dir, &rows, &cell, options.items)?;
    let compare = match options.compare.is_empty() {
        true => Vec::new(),
        false => {
            let tmp = tempfile::tempdir()?;
            let mut dirs = vec![dir.to_path_buf()];
            dirs.extend(options.compare.iter().cloned());
            svg_figures(crate::plot::plot_compare(
                &dirs,
                &options.labels,
                tmp.path(),
            )?)?
        }
    };
    let page = Page {
        title: format!(
            "painters report: {}",
            dir.file_name().map_or_else(
                || dir.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        ),
        version: env!("CARGO_PKG_VERSION"),
        dir: dir.display().to_string(),
        model,
        layers: text("layers"),
        model_id: text("model_id"),
        harness: text("harness"),
        figures,
        tables,
        benchmarks: benchmarks(&rows),
        paired,
        cell,
        item_limit: options.items,
        items,
        compare,
        compare_labels: options
            .labels
            .iter()
            .skip(1)
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        resolved,
    };
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)
        .expect("the report template parses");
    let html = env
        .get_template("report.html")
        .expect("added above")
        .render(minijinja::Value::from(minijinja::value::Serde(&page)))
        .context("rendering the report")?;
    crate::atomic::write(out, html.as_bytes())
}

/// The SVG files among `written`, read, named by their stem.
fn svg_figures(written: Vec<PathBuf>) -> Result<Vec<Figure>> {
    written
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .map(|p| {
            let svg = std::fs::read_to_string(p).with_context(|| p.display().to_string())?;
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            Ok(Figure { name, svg })
        })
        .collect()
}

fn paired_view(p: &PairedRow) -> PairedView {
    let optional = |x: Option<f64>| x.map_or("–".into(), number);
    PairedView {
        cell_a: p.cell_a.clone(),
        cell_b: p.cell_b.clone(),
        affected_layers: p.affected_layers,
        task: p.task.clone(),
        n: p.n,
        normalised_a: number(p.normalised_a),
        normalised_b: number(p.normalised_b),
        difference: number(p.difference),
        interval: match (p.ci_lower, p.ci_upper) {
            (Some(lo), Some(hi)) => format!("[{}, {}]", number(lo), number(hi)),
            _ => "–".into(),
        },
        mcnemar_p: optional(p.mcnemar_p),
        significant: p.significant,
    }
}

/// The baseline's headline row of each benchmark.
fn benchmarks(rows: &[Row]) -> Vec<Benchmark> {
    rows.iter()
        .filter(|r| {
            r.kind == "baseline" && (r.metric.as_str(), r.filter.as_str()) == headline(&r.task)
        })
        .map(|r| Benchmark {
            task: r.task.clone(),
            metric: r.metric.clone(),
            full: number(r.value),
            chance: r.chance.map_or("–".into(), number),
            n: r.n,
            informative: r.informative,
        })
        .collect()
}

/// The first `limit` items of each task `cell` was scored on, from the store.
fn cell_items(dir: &Path, rows: &[Row], cell: &str, limit: usize) -> Result<Vec<TaskItems>> {
    let mine: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.variant == cell && (r.metric.as_str(), r.filter.as_str()) == headline(&r.task)
        })
        .collect();
    if mine.is_empty() {
        let mut cells: Vec<&str> = rows.iter().map(|r| r.variant.as_str()).collect();
        cells.dedup();
        bail!(
            "--cell {cell:?}: no such cell in {} (valid: {})",
            dir.join("summary.csv").display(),
            cells.join("; ")
        );
    }
    mine.into_iter()
        .map(|row| {
            let path = dir.join("store").join(format!("{}.jsonl", row.store_key));
            let text =
                std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
            let items = text
                .lines()
                .take(limit)
                .map(|line| {
                    let record: Value = serde_json::from_str(line)
                        .with_context(|| format!("{}: not a JSON record", path.display()))?;
                    Ok(item(&record, &row.metric))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(TaskItems {
                task: row.task.clone(),
                metric: row.metric.clone(),
                value: number(row.value),
                items,
            })
        })
        .collect()
}

/// One stored record as the drill-down shows it: a multiple-choice record's choices with
/// their log-likelihoods, the one predicted under `metric` (acc_norm: `pred_norm`) and the
/// gold one; any other record as its JSON.
fn item(record: &Value, metric: &str) -> Item {
    let texts = record["continuations"].as_array();
    let lls = record["loglikelihoods"].as_array();
    let predicted = match metric {
        "acc_norm" => &record["pred_norm"],
        _ => &record["pred"],
    }
    .as_u64();
    let gold = record["gold"].as_u64();
    let choices = match (texts, lls) {
        (Some(texts), Some(lls)) => texts
            .iter()
            .zip(lls)
            .enumerate()
            .map(|(i, (text, ll))| Choice {
                text: text.as_str().unwrap_or_default().to_string(),
                loglikelihood: ll.as_f64().map_or("–".into(), number),
                predicted: predicted == Some(i as u64),
                gold: gold == Some(i as u64),
            })
            .collect(),
        _ => Vec::new(),
    };
    let score = record[metric].as_f64();
    Item {
        doc_id: record["doc_id"].clone(),
        context: record["context"].as_str().unwrap_or_default().to_string(),
        choices,
        score: score.map_or("–".into(), |s| format!("{s}")),
        right: score.is_some_and(|s| s > 0.0),
        raw: serde_json::to_string_pretty(record).unwrap_or_default(),
    }
}
