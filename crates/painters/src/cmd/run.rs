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
use crate::store::{HARNESS_VERSION, Store, cell_key, model_identity};

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
    let mut results = Vec::with_capacity(cells.len());
    let mut keys = Vec::with_capacity(cells.len());
    for cell in &cells {
        let mut row = Vec::with_capacity(exp.tasks.len());
        let mut row_keys = Vec::with_capacity(exp.tasks.len());
        for task in &exp.tasks {
            let key = cell_key(&model_id, &cell.plan, task);
            row_keys.push(key.clone());
            let stored = match store.load(&key)? {
                Some(stored) => stored,
                None => {
                    let bar = bars.add(ProgressBar::new(0).with_style(style("{prefix:>10} [{bar:30}] {pos}/{len} requests {per_sec} {msg}")));
                    bar.set_prefix(task.name.clone());
                    bar.set_message(cell.label.clone());
                    let mut backend = PlanBackend { model: &model, plan: cell.plan.clone(), batch_size: exp.model.batch_size, kv, progress: bar.clone() };
                    let mut resumable = store.resumable(&key, &mut backend)?;
                    let options = EvalOptions { num_fewshot: task.num_fewshot, limit: task.limit, chunk_size: cmd.chunk_size, ..EvalOptions::default() };
                    let result = evaluate(&task.name, &data, &mut resumable, &options, &mut |done, total| {
                        bar.set_length(total as u64);
                        bar.set_position(done as u64);
                    })
                    .with_context(|| format!("cell {:?}, task {}", cell.label, task.name))?;
                    bar.finish_and_clear();
                    store.save(&key, result)?
                }
            };
            overall.inc(1);
            row.push(stored);
        }
        results.push(row);
        keys.push(row_keys);
    }
    overall.finish();
    let task_names: Vec<String> = exp.tasks.iter().map(|t| t.name.clone()).collect();
    crate::summary::write(&out, &cells, &task_names, &results, &keys)?;
    println!("{}: {} cells x {} tasks -> summary.csv, medians.csv", out.display(), cells.len(), exp.tasks.len());
    Ok(())
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
