//! `painters prune`: which layers to remove, by greedy search on the NLL of texts (SLEB)
//! or on a benchmark metric (Moslem et al.), or by the one-shot proxies (ShortGPT's Block
//! Influence, Gromov et al.'s angular distance), writing prune.csv and prune.json to the
//! results directory.
//!
//! Nothing is scored twice and a killed search resumes where it stopped: the NLL of a plan
//! is kept per chunk of texts in `cache/`, keyed by the model's identity, the plan and the
//! chunk's tokens; a benchmark score is a cell of `store/`, keyed as `painters run` keys
//! its cells (model, plan, task settings).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use layer_graph::Model;
use layer_graph::scoring::{ScoreOptions, ScoreRequest};
use layer_plan::Plan;
use serde::Serialize;

use super::importance::{nll_per_text, nll_requests, text_stats, tokenize};
use crate::cells::{TaskScores, checked_task, store_model_id};
use crate::cli::{PruneCmd, PruneObjective};
use crate::experiment::config_layers;
use crate::importance::proxies;
use crate::outln;
use crate::prune::{
    Objective, PruneStep, Stop, greedy, layer_passes, least_distant_blocks, lowest_influence,
    removable, single_removals,
};
use crate::store::Store;

/// Texts per cached NLL chunk: a killed search loses at most one chunk of a step.
const CHUNK: usize = 16;

/// What `--json` prints and prune.json keeps.
#[derive(Serialize)]
struct Report {
    model: String,
    /// The model's layer count (what `painters export --from-prune` checks against).
    num_layers: usize,
    objective: String,
    /// The number of texts (`None` for a task objective).
    texts: Option<usize>,
    protected: Vec<usize>,
    steps: Vec<PruneStep>,
}

pub fn run(cmd: PruneCmd) -> Result<()> {
    let layers = config_layers(&cmd.model.model)?;
    let start = super::resolve_plan(&cmd.plan, layers)?;
    check(&cmd, &start, layers)?;
    if cmd.dry_run {
        return dry_run(&cmd, &start);
    }
    let out = cmd.out.clone().unwrap_or_else(|| default_out(&cmd));
    let stop = Stop {
        target_layers: cmd.target_layers,
        min_score: cmd.min_score,
    };
    let max_kept = super::score_options(&cmd.scoring).max_kept;
    let texts = match &cmd.objective {
        PruneObjective::Task(_) => None,
        _ => Some(eval_suite::read_texts(
            cmd.texts.as_deref().expect("checked"),
            cmd.limit,
        )?),
    };
    // prune.csv and prune.json are rewritten after every step, so a search stopped early
    // (or still running) shows the steps it has.
    let mut report = Report {
        model: cmd.model.model.display().to_string(),
        num_layers: layers,
        objective: cmd.objective.to_string(),
        texts: texts.as_ref().map(Vec::len),
        protected: cmd.protect.clone(),
        steps: Vec::new(),
    };
    let mut record = |row: &PruneStep| {
        if !cmd.json {
            print_row(row)?;
        }
        report.steps.push(row.clone());
        write(&out, &report)
    };
    let mut search = |objective: &mut dyn Objective| {
        greedy(
            &start,
            &cmd.protect,
            cmd.steps,
            stop,
            max_kept,
            objective,
            &mut record,
        )
    };
    match (&cmd.objective, texts) {
        (PruneObjective::Task(metric), _) => {
            let data = super::data_dir(&cmd.data);
            let task = checked_task(metric, cmd.limit, cmd.offset, &data)?;
            let model = super::load_model(&cmd.model)?;
            let store = Store::open(&out)?;
            let reuse = !cmd.scoring.no_reuse && !cmd.one_by_one;
            let scoring = super::score_options(&cmd.scoring);
            let mut objective = TaskObjective(TaskScores::new(
                &model, &store, &data, task, metric, &cmd.model, scoring, reuse,
            )?);
            search(&mut objective)?;
        }
        (objective, texts) => {
            let texts_path = cmd.texts.as_deref().expect("checked");
            let texts = texts.expect("read above");
            let model = super::load_model(&cmd.model)?;
            let ids = tokenize(&model, texts_path, &texts)?;
            match objective {
                PruneObjective::Nll => {
                    if !model.stack().is_causal() {
                        bail!(
                            "--objective nll: {} is not a causal language model, so it has no next-token NLL; use bi, angular or a task",
                            cmd.model.model.display()
                        );
                    }
                    let mut objective = CachedNll {
                        model: &model,
                        requests: nll_requests(&ids),
                        cache: out.join("cache"),
                        identity: store_model_id(&cmd.model)?,
                        options: super::score_options(&cmd.scoring),
                        one_by_one: cmd.one_by_one,
                    };
                    search(&mut objective)?;
                }
                _ => {
                    let stats = text_stats(&model, &start, &ids)?;
                    let all: Vec<usize> = (0..stats.len()).collect();
                    let angular = *objective == PruneObjective::Angular;
                    let p = proxies(&stats, &all, if angular { cmd.steps } else { 1 });
                    let plans = if angular {
                        least_distant_blocks(&start, &cmd.protect, &p.angular, cmd.steps)?
                    } else {
                        lowest_influence(&start, &cmd.protect, &p.block_influence, cmd.steps)?
                    };
                    one_shot_rows(plans, &cmd, &mut record)?;
                }
            }
        }
    }
    if cmd.json {
        outln!("{}", serde_json::to_string(&report)?)?;
    } else {
        outln!("{}: prune.csv, prune.json", out.display())?;
    }
    Ok(())
}

/// A benchmark metric of each plan, greedily maximised (or minimised, for perplexity).
struct TaskObjective<'a>(TaskScores<'a>);

impl Objective for TaskObjective<'_> {
    fn minimise(&self) -> bool {
        self.0.lower_is_better()
    }

    fn score(&mut self, plans: &[Plan]) -> Result<Vec<f64>> {
        self.0.values(plans)
    }
}

/// Everything about the flags that can be checked before a model loads.
fn check(cmd: &PruneCmd, start: &Plan, layers: usize) -> Result<()> {
    match &cmd.objective {
        PruneObjective::Task(metric) => {
            if cmd.texts.is_some() {
                bail!(
                    "--objective {}: scores the task's items, not --texts",
                    cmd.objective
                );
            }
            eval_suite::check_task(&metric.name)?;
        }
        _ if cmd.texts.is_none() => bail!("--objective {}: needs --texts FILE", cmd.objective),
        _ if cmd.offset > 0 => bail!("--offset: only for a task objective"),
        _ => {}
    }
    if let Some(&bad) = cmd.protect.iter().find(|&&l| l >= layers) {
        bail!(
            "--protect {bad}: the model has {layers} layers (0..={})",
            layers - 1
        );
    }
    if cmd.steps == 0 {
        bail!("--steps 0: at least one removal");
    }
    let free = removable(start, &cmd.protect).len();
    // One step must remain.
    let most = free.min(start.steps().len() - 1);
    if cmd.steps > most {
        bail!(
            "--steps {}: at most {most} steps can be removed (the plan has {} steps, {} of them protected, and one must remain)",
            cmd.steps,
            start.steps().len(),
            start.steps().len() - free
        );
    }
    if let Some(t) = cmd.target_layers
        && (t == 0 || t >= start.steps().len())
    {
        bail!(
            "--target-layers {t}: must be between 1 and {} (the plan has {} steps)",
            start.steps().len() - 1,
            start.steps().len()
        );
    }
    if let Some(m) = cmd.min_score
        && !(m > 0.0 && m <= 1.0)
    {
        bail!("--min-score {m}: a fraction of the start plan's score, in (0, 1]");
    }
    Ok(())
}

fn default_out(cmd: &PruneCmd) -> PathBuf {
    let model = cmd
        .model
        .model
        .file_name()
        .map_or("model".into(), |n| n.to_string_lossy().into_owned());
    PathBuf::from("results/prune").join(format!("{model}-{}", cmd.objective))
}

/// The NLL of each plan over the texts, cached per chunk of [`CHUNK`] texts.
struct CachedNll<'a> {
    model: &'a Model,
    requests: Vec<ScoreRequest>,
    cache: PathBuf,
    identity: String,
    options: ScoreOptions,
    /// Each plan in its own passes.
    one_by_one: bool,
}

impl CachedNll<'_> {
    fn path(&self, plan: &Plan, chunk: &[ScoreRequest]) -> PathBuf {
        let mut h = blake3::Hasher::new();
        h.update(self.identity.as_bytes());
        h.update(plan.hash().as_bytes());
        for r in chunk {
            for id in r.context.iter().chain([&-1]).chain(&r.continuation) {
                h.update(&id.to_le_bytes());
            }
            h.update(&(-2i64).to_le_bytes());
        }
        self.cache
            .join(format!("{}.json", &h.finalize().to_hex()[..16]))
    }
}

impl Objective for CachedNll<'_> {
    fn minimise(&self) -> bool {
        true
    }

    fn score(&mut self, plans: &[Plan]) -> Result<Vec<f64>> {
        let mut totals = vec![0.0; plans.len()];
        for chunk in self.requests.chunks(CHUNK) {
            let paths: Vec<PathBuf> = plans.iter().map(|p| self.path(p, chunk)).collect();
            let missing: Vec<usize> = (0..plans.len()).filter(|&p| !paths[p].exists()).collect();
            if !missing.is_empty() {
                let todo: Vec<Plan> = missing.iter().map(|&p| plans[p].clone()).collect();
                let nll = if self.one_by_one {
                    todo.iter()
                        .map(|plan| {
                            let one = std::slice::from_ref(plan);
                            Ok(nll_per_text(self.model, one, chunk, &mut self.options)?.remove(0))
                        })
                        .collect::<Result<Vec<_>>>()?
                } else {
                    nll_per_text(self.model, &todo, chunk, &mut self.options)?
                };
                for (&p, values) in missing.iter().zip(&nll) {
                    crate::atomic::write(&paths[p], serde_json::to_string(values)?.as_bytes())?;
                    totals[p] += values.iter().sum::<f64>();
                }
            }
            // What this call did not compute was cached before.
            for p in (0..plans.len()).filter(|p| !missing.contains(p)) {
                let path = &paths[p];
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let values: Vec<f64> = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not a cached NLL chunk", path.display()))?;
                totals[p] += values.iter().sum::<f64>();
            }
        }
        Ok(totals)
    }
}

/// Rows for a one-shot criterion: step k removes what the k-th plan removes.
fn one_shot_rows(
    plans: Vec<(usize, Plan, f64)>,
    cmd: &PruneCmd,
    print: &mut dyn FnMut(&PruneStep) -> Result<()>,
) -> Result<Vec<PruneStep>> {
    let mut rows = Vec::new();
    for (k, (layer, plan, value)) in plans.into_iter().enumerate() {
        let row = PruneStep {
            step: k + 1,
            removed: Some(layer),
            layers_left: plan.steps().len(),
            plan: plan.to_string(),
            objective: value,
            score_fraction: None,
            runner_up: None,
            runner_up_objective: None,
            layer_passes: 0,
            layer_passes_unshared: 0,
        };
        print(&row)?;
        rows.push(row);
    }
    if rows.len() < cmd.steps {
        eprintln!(
            "{}: only {} plans: no block of more steps avoids the protected layers",
            cmd.objective,
            rows.len()
        );
    }
    Ok(rows)
}

fn print_row(row: &PruneStep) -> Result<()> {
    let removed = row.removed.map_or("-".into(), |l| l.to_string());
    let fraction = row.score_fraction.map_or(String::new(), |f| {
        format!("  ({:.1}% of the start)", 100.0 * f)
    });
    outln!(
        "step {:>2}: removed {removed:>3}, {} left, objective {:.4}{fraction}  {}",
        row.step,
        row.layers_left,
        row.objective,
        row.plan
    )
}

/// The passes a greedy search would make per text, step by step, had each step removed
/// the lowest removable layer (for a sequential plan the counts do not depend on which).
fn dry_run(cmd: &PruneCmd, start: &Plan) -> Result<()> {
    if matches!(cmd.objective, PruneObjective::Bi | PruneObjective::Angular) {
        outln!(
            "--objective {}: one forward pass per text over the start plan ({} layer passes), no candidates",
            cmd.objective,
            start.layer_passes()
        )?;
        return Ok(());
    }
    let max_kept = super::score_options(&cmd.scoring).max_kept;
    let mut current = start.clone();
    let (mut shared_total, mut unshared_total) = (0, 0);
    outln!("step  candidates  layer passes per text: shared  one by one  ratio")?;
    for step in 1..=cmd.steps {
        let (options, mut plans) = single_removals(&current, &cmd.protect)?;
        if step == 1 {
            plans.push(current.clone());
        }
        let (shared, unshared) = layer_passes(&plans, max_kept);
        outln!(
            "{step:>4}  {:>10}  {shared:>28}  {unshared:>10}  {:.2}",
            options.len(),
            shared as f64 / unshared as f64
        )?;
        shared_total += shared;
        unshared_total += unshared;
        current = plans[0].clone();
    }
    outln!(
        "total: {shared_total} layer passes per text shared, {unshared_total} one by one ({:.2}x)",
        shared_total as f64 / unshared_total as f64
    )?;
    Ok(())
}

/// prune.csv and prune.json under `out`.
fn write(out: &Path, report: &Report) -> Result<()> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    for row in &report.steps {
        csv.serialize(row)?;
    }
    crate::atomic::write(&out.join("prune.csv"), &csv.into_inner()?)?;
    crate::atomic::write(
        &out.join("prune.json"),
        serde_json::to_string_pretty(report)?.as_bytes(),
    )
}
