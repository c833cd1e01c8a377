//! `painters run`: every (variant x task) cell of an experiment file, resumable, with
//! progress bars; writes resolved.toml, the store, summary.csv and medians.csv.

use std::path::PathBuf;

use anyhow::{Context, Result};
use eval_suite::{EvalOptions, evaluate};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::backend::PlanBackend;
use crate::cli::{DataArgs, KvArg, ModelArgs, RunCmd};
use crate::experiment::{Cell, Experiment, ExperimentFile};
use crate::store::{FollowerLog, HARNESS_VERSION, Store, StoredResult, cell_key, model_identity};
use layer_graph::scoring::ScoreOptions;

#[derive(Serialize)]
struct Resolved<'a> {
    harness: &'a str,
    model_id: &'a str,
    layers: usize,
    data_dir: &'a std::path::Path,
    experiment: &'a Experiment,
    cells: Vec<ResolvedCell<'a>>,
}

#[derive(Serialize)]
struct ResolvedCell<'a> {
    label: &'a str,
    plan: String,
    plan_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    affected_layers: Option<usize>,
    layer_passes: usize,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("a valid progress template").progress_chars("=> ")
}

pub fn run(cmd: RunCmd) -> Result<()> {
    let file = ExperimentFile::read(&cmd.experiment)?;
    let exp = &file.experiment;
    let out = cmd.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(cmd.experiment.file_stem().unwrap_or_default())
    });
    let data = super::data_dir(&DataArgs { data: cmd.data.clone().or(exp.data.as_ref().map(|d| d.dir.clone())) });
    let model_args = ModelArgs { model: exp.model.dir.clone(), device: exp.model.device.clone(), dtype: exp.model.dtype.clone() };
    let kv = <KvArg as clap::ValueEnum>::from_str(&exp.model.kv, false)
        .map_err(|_| anyhow::anyhow!("{}: model.kv is {:?}, expected \"exact\" or \"paper\"", file.path.display(), exp.model.kv))?;
    let kv = super::kv_mode(kv);
    // Everything that can be checked without the model is checked before loading it.
    let layers = file.num_layers()?;
    let cells = file.cells(layers)?;
    let model = super::load_model(&model_args)?;
    if model.stack().num_layers() != layers {
        anyhow::bail!("{}: model.layers is {layers}, but {} has {} layers", file.path.display(), exp.model.dir.display(), model.stack().num_layers());
    }
    let model_id = model_identity(&exp.model.dir, &exp.model.dtype)?;
    let store = Store::open(&out)?;
    let resolved = Resolved {
        harness: HARNESS_VERSION,
        model_id: &model_id,
        layers,
        data_dir: &data,
        experiment: exp,
        cells: cells.iter().map(resolved_cell).collect(),
    };
    crate::atomic::write(&out.join("resolved.toml"), toml::to_string(&resolved)?.as_bytes())?;

    let bars = MultiProgress::new();
    let total = (cells.len() * exp.tasks.len()) as u64;
    let overall = bars.add(ProgressBar::new(total).with_style(style("{prefix:>10} [{bar:30}] {pos}/{len} cells, eta {eta}")));
    overall.set_prefix("grid");
    // Tasks outer, cells inner: the pending cells of a task run as one plan trie, the
    // first cell computing for all and the others replaying what it logged for them.
    let keys: Vec<Vec<String>> = cells.iter().map(|cell| exp.tasks.iter().map(|task| cell_key(&model_id, &cell.plan, task)).collect()).collect();
    let mut results: Vec<Vec<Option<StoredResult>>> = cells.iter().map(|_| exp.tasks.iter().map(|_| None).collect()).collect();
    let scoring = ScoreOptions { share_contexts: !cmd.no_reuse, ..ScoreOptions::new(exp.model.batch_size) };
    for (t, task) in exp.tasks.iter().enumerate() {
        for c in 0..cells.len() {
            let key = &keys[c][t];
            let stored = match store.load(key)? {
                Some(stored) => stored,
                None => {
                    let followers = if cmd.no_reuse { Vec::new() } else { followers(&store, &cells, &keys, t, c)? };
                    let bar = bars.add(ProgressBar::new(0).with_style(style("{prefix:>10} [{bar:30}] {pos}/{len} requests {per_sec} {msg}")));
                    bar.set_prefix(task.name.clone());
                    bar.set_message(match followers.len() {
                        0 => cells[c].label.clone(),
                        n => format!("{} (+{n} cells sharing)", cells[c].label),
                    });
                    let mut backend = PlanBackend { model: &model, plan: cells[c].plan.clone(), scoring, kv, followers, progress: bar.clone() };
                    let mut resumable = store.resumable(key, &mut backend)?;
                    let options = EvalOptions { num_fewshot: task.num_fewshot, limit: task.limit, chunk_size: cmd.chunk_size, ..EvalOptions::default() };
                    let result = evaluate(&task.name, &data, &mut resumable, &options, &mut |done, total| {
                        bar.set_length(total as u64);
                        bar.set_position(done as u64);
                    })
                    .with_context(|| format!("cell {:?}, task {}", cells[c].label, task.name))?;
                    bar.finish_and_clear();
                    store.save(key, result)?
                }
            };
            overall.inc(1);
            results[c][t] = Some(stored);
        }
    }
    let results: Vec<Vec<StoredResult>> = results.into_iter().map(|row| row.into_iter().map(|r| r.expect("every cell was run or loaded")).collect()).collect();
    overall.finish();
    let task_names: Vec<String> = exp.tasks.iter().map(|t| t.name.clone()).collect();
    crate::summary::write(&out, &cells, &task_names, &results, &keys)?;
    println!("{}: {} cells x {} tasks -> summary.csv, medians.csv", out.display(), cells.len(), exp.tasks.len());
    Ok(())
}

/// The cells after `c` that still lack task `t` (each distinct key once, `c`'s own key
/// excluded), with their logs opened for `c`'s backend to fill.
fn followers(store: &Store, cells: &[Cell], keys: &[Vec<String>], t: usize, c: usize) -> Result<Vec<(layer_plan::Plan, FollowerLog)>> {
    let mut seen = std::collections::HashSet::from([keys[c][t].as_str()]);
    let mut out = Vec::new();
    for (cell, row) in cells.iter().zip(keys).skip(c + 1) {
        let key = row[t].as_str();
        if seen.insert(key) && store.load(key)?.is_none() {
            out.push((cell.plan.clone(), store.follower(key)?));
        }
    }
    Ok(out)
}

fn resolved_cell(c: &Cell) -> ResolvedCell<'_> {
    ResolvedCell {
        label: &c.label,
        plan: c.plan.to_string(),
        plan_hash: c.plan.hash(),
        affected_layers: c.affected_layers,
        layer_passes: c.plan.layer_passes(),
    }
}
