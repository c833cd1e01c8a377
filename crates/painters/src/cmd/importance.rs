//! `painters importance`: every proxy of [`crate::importance`] per executed step of a
//! plan, beside the real drop in NLL of removing each step and each least-distant block,
//! with each proxy's Spearman correlation to the drop (95% bootstrap interval over
//! texts), and with `--task` the same drops and correlations on a benchmark metric
//! (interval over the task's items). Texts run one at a time, so padding never enters a
//! statistic; the removal plans are scored together as one plan trie (on a task, as
//! cells of `OUT/store/` sharing their passes).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use layer_graph::Model;
use layer_graph::exec::{Batch, run_plan};
use layer_graph::scoring::{ScoreOptions, ScoreRequest, score_plans};
use layer_plan::Plan;
use serde::Serialize;

use crate::cells::{TaskScores, checked_task};
use crate::cli::{ImportanceCmd, TaskMetric};
use crate::importance::{Estimate, TextStats, best_block, bootstrap, proxies, spearman};
use crate::outln;
use crate::store::Store;

/// Everything `--json` prints and `--out` keeps as importance.json.
#[derive(Serialize)]
pub struct Report {
    pub model: String,
    pub plan: String,
    pub texts: usize,
    pub tokens: usize,
    /// T: the plan's executed steps (the model's layers for the baseline).
    pub layers: usize,
    /// Each step as plan text.
    pub steps: Vec<String>,
    pub block_influence: Vec<f64>,
    pub relative_magnitude: Vec<f64>,
    /// n -> d(l, n) for l = 0..=T-n.
    pub angular_distance: BTreeMap<usize, Vec<f64>>,
    /// `None` for a model that does not predict the next token (BERT).
    pub nll: Option<Nll>,
    /// Per n, the block of n steps with the least angular distance.
    pub best_blocks: Vec<BestBlock>,
    /// Each single-step proxy against the NLL drop of removing that step.
    pub spearman: BTreeMap<&'static str, Estimate>,
    /// With `--task`: the benchmark metric with each step removed.
    pub task: Option<TaskDrop>,
}

#[derive(Serialize)]
pub struct TaskDrop {
    /// `NAME:METRIC[:FILTER]`.
    pub metric: String,
    /// Perplexity-like: the drop counts a rise as worse.
    pub lower_is_better: bool,
    /// Items scored (`None` for a corpus-level metric).
    pub items: Option<usize>,
    /// The metric under the plan.
    pub full: f64,
    /// Without step i.
    pub without_step: Vec<f64>,
    /// How much worse without step i: `full - without_step[i]` (the reverse for a metric
    /// where lower is better, perplexity), so that a larger drop is a worse removal.
    pub drop: Vec<f64>,
    /// Every candidate's metric: the plan, each step removed, each best block of 2..
    /// steps removed (what [`BestBlock::task`] reads).
    #[serde(skip)]
    values: Vec<f64>,
    /// Each single-step proxy against this drop; the interval resamples the task's items
    /// (none for a corpus-level metric such as perplexity, which has no per-item score).
    pub spearman: BTreeMap<&'static str, Estimate>,
}

#[derive(Serialize)]
pub struct Nll {
    /// Next-token NLL (nats) of the plan, summed over every predicted token.
    pub full: f64,
    pub predicted_tokens: usize,
    /// Without step i.
    pub without_step: Vec<f64>,
    /// `without_step[i] - full`.
    pub drop: Vec<f64>,
}

impl TaskDrop {
    /// How much worse `value` is than the plan's own.
    fn drop_of(&self, value: f64) -> f64 {
        worse_by(self.lower_is_better, self.full, value)
    }
}

/// How much worse `value` is than `reference`.
fn worse_by(lower_is_better: bool, reference: f64, value: f64) -> f64 {
    if lower_is_better {
        value - reference
    } else {
        reference - value
    }
}

#[derive(Serialize)]
pub struct BestBlock {
    pub n: usize,
    pub start: usize,
    pub distance: f64,
    pub plan: String,
    pub nll: Option<f64>,
    pub drop: Option<f64>,
    /// With `--task`: the metric without the block, and its drop.
    pub task: Option<f64>,
    pub task_drop: Option<f64>,
}

/// Bootstrap resamples of the texts for the Spearman intervals.
const RESAMPLES: usize = 1000;

/// The single-step proxies the drops are ranked against.
type Proxy = fn(&crate::importance::Proxies) -> Vec<f64>;
const PROXIES: [(&str, Proxy); 3] = [
    ("block_influence", |p| p.block_influence.clone()),
    ("relative_magnitude", |p| p.relative_magnitude.clone()),
    ("angular_distance", |p| p.angular[0].clone()),
];

pub fn run(cmd: ImportanceCmd) -> Result<()> {
    let texts = eval_suite::read_texts(&cmd.texts, cmd.limit)?;
    if cmd.max_block == 0 {
        bail!("--max-block 0: blocks have at least one step");
    }
    let task = match &cmd.task {
        Some(metric) => {
            if cmd.out.is_none() {
                bail!("--task {metric}: needs --out DIR (its cells are stored in DIR/store)");
            }
            let data = super::data_dir(&cmd.data);
            let task = checked_task(metric, cmd.task_limit, cmd.task_offset, &data)?;
            Some((metric, task, data))
        }
        None if cmd.task_limit.is_some() || cmd.task_offset > 0 => {
            bail!("--task-limit and --task-offset need --task")
        }
        None => None,
    };
    let model = super::load_model(&cmd.model)?;
    let plan = super::resolve_plan(&cmd.plan, model.stack().num_layers())?;
    let steps = plan.steps().len();
    if steps < 2 {
        bail!("plan {plan} has {steps} step; removing one needs at least two");
    }
    if cmd.max_block >= steps {
        bail!(
            "--max-block {}: at most {} (the plan has {steps} steps, and a block leaves one)",
            cmd.max_block,
            steps - 1
        );
    }
    let ids = tokenize(&model, &cmd.texts, &texts)?;
    let stats = text_stats(&model, &plan, &ids)?;
    let all: Vec<usize> = (0..stats.len()).collect();
    let p = proxies(&stats, &all, cmd.max_block);
    let blocks: Vec<(usize, usize, f64)> = p
        .angular
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let (start, distance) = best_block(d);
            (n + 1, start, distance)
        })
        .collect();
    // Candidates: the plan, each single step removed, each best block of 2.. steps removed.
    let mut candidates = vec![plan.clone()];
    for i in 0..steps {
        candidates.push(plan.without_steps(i..i + 1)?);
    }
    for &(n, start, _) in &blocks[1..] {
        candidates.push(plan.without_steps(start..start + n)?);
    }
    let per_text = if model.stack().is_causal() {
        let requests = nll_requests(&ids);
        let mut options = super::score_options(&cmd.scoring);
        Some(nll_per_text(&model, &candidates, &requests, &mut options)?)
    } else {
        eprintln!(
            "{}: not a causal language model, so there is no next-token NLL drop; the proxies alone are reported",
            cmd.model.model.display()
        );
        None
    };
    let total = |c: usize, pick: &[usize]| -> f64 {
        let nll = per_text.as_ref().expect("NLL is computed");
        pick.iter().map(|&t| nll[c][t]).sum()
    };
    let nll = per_text.as_ref().map(|_| {
        let full = total(0, &all);
        let without_step: Vec<f64> = (1..=steps).map(|c| total(c, &all)).collect();
        Nll {
            full,
            predicted_tokens: ids.iter().map(|t| t.len() - 1).sum(),
            drop: without_step.iter().map(|x| x - full).collect(),
            without_step,
        }
    });
    let task = match task {
        Some((metric, settings, data)) => {
            let store = Store::open(cmd.out.as_deref().expect("checked"))?;
            let scoring = super::score_options(&cmd.scoring);
            let reuse = !cmd.scoring.no_reuse;
            let scores = TaskScores::new(
                &model, &store, &data, settings, metric, &cmd.model, scoring, reuse,
            )?;
            let single_proxies = proxies(&stats, &all, 1);
            Some(task_drop(
                &scores,
                metric,
                &candidates,
                steps,
                &single_proxies,
            )?)
        }
        None => None,
    };
    let best_blocks = blocks
        .iter()
        .map(|&(n, start, distance)| {
            // n = 1 is one of the single-step candidates; larger blocks follow them.
            let candidate = if n == 1 { 1 + start } else { steps + n - 1 };
            let nll_of = nll.as_ref().map(|_| total(candidate, &all));
            BestBlock {
                n,
                start,
                distance,
                plan: candidates[candidate].to_string(),
                nll: nll_of,
                drop: nll_of.zip(nll.as_ref()).map(|(x, n)| x - n.full),
                task: task.as_ref().map(|t| t.values[candidate]),
                task_drop: task.as_ref().map(|t| t.drop_of(t.values[candidate])),
            }
        })
        .collect();
    let mut correlations = BTreeMap::new();
    if per_text.is_some() {
        for (name, proxy) in PROXIES {
            let estimate = bootstrap(stats.len(), RESAMPLES, |pick| {
                let drops: Vec<f64> = (1..=steps)
                    .map(|c| total(c, pick) - total(0, pick))
                    .collect();
                spearman(&proxy(&proxies(&stats, pick, 1)), &drops)
            });
            correlations.insert(name, estimate);
        }
    }
    let report = Report {
        model: cmd.model.model.display().to_string(),
        plan: plan.to_string(),
        texts: ids.len(),
        tokens: ids.iter().map(Vec::len).sum(),
        layers: steps,
        steps: plan.steps().iter().map(ToString::to_string).collect(),
        block_influence: p.block_influence,
        relative_magnitude: p.relative_magnitude,
        angular_distance: p
            .angular
            .into_iter()
            .enumerate()
            .map(|(n, d)| (n + 1, d))
            .collect(),
        nll,
        best_blocks,
        spearman: correlations,
        task,
    };
    if let Some(out) = &cmd.out {
        write(out, &report)?;
    }
    if cmd.json {
        outln!("{}", serde_json::to_string(&report)?)?;
    } else {
        print_table(&report)?;
    }
    Ok(())
}

/// The benchmark metric of `candidates` (the plan, then each single step removed, then the
/// best blocks of 2.. steps removed) as drops, with each proxy's rank correlation to them.
fn task_drop(
    scores: &TaskScores,
    metric: &TaskMetric,
    candidates: &[Plan],
    steps: usize,
    single_proxies: &crate::importance::Proxies,
) -> Result<TaskDrop> {
    let values = scores.values(candidates)?;
    let lower_is_better = scores.lower_is_better();
    let full = values[0];
    let without_step = values[1..=steps].to_vec();
    let drop: Vec<f64> = without_step
        .iter()
        .map(|&v| worse_by(lower_is_better, full, v))
        .collect();
    let items = scores.item_scores(&candidates[..=steps])?;
    let mut correlations = BTreeMap::new();
    for (name, proxy) in PROXIES {
        let proxy = proxy(single_proxies);
        let estimate = match &items {
            Some(items) => bootstrap(items[0].len(), RESAMPLES, |pick| {
                let mean = |c: usize| pick.iter().map(|&i| items[c][i]).sum::<f64>();
                let drops: Vec<f64> = (1..=steps)
                    .map(|c| worse_by(lower_is_better, mean(0), mean(c)))
                    .collect();
                spearman(&proxy, &drops)
            }),
            None => Estimate {
                value: spearman(&proxy, &drop),
                ci: None,
            },
        };
        correlations.insert(name, estimate);
    }
    Ok(TaskDrop {
        metric: metric.to_string(),
        lower_is_better,
        items: items.as_ref().map(|i| i[0].len()),
        full,
        without_step,
        drop,
        values,
        spearman: correlations,
    })
}

/// Each text's token ids as the tokenizer makes them by default, checked to fit the model.
pub(super) fn tokenize(
    model: &Model,
    path: &Path,
    texts: &[(usize, String)],
) -> Result<Vec<Vec<i64>>> {
    texts
        .iter()
        .map(|(line, text)| {
            let ids = model.tokenizer().encode(text)?;
            let at = || format!("{}:{line}", path.display());
            if ids.len() < 2 {
                bail!("{}: text: one token, so nothing to predict", at());
            }
            if ids.len() > model.max_length() {
                bail!(
                    "{}: text: {} tokens, more than the model's {}",
                    at(),
                    ids.len(),
                    model.max_length()
                );
            }
            Ok(ids)
        })
        .collect()
}

/// Each text's residual-stream statistics under `plan`, one text per forward pass.
pub(super) fn text_stats(model: &Model, plan: &Plan, ids: &[Vec<i64>]) -> Result<Vec<TextStats>> {
    let bar = progress(ids.len() as u64, "hidden states");
    let stats = ids
        .iter()
        .map(|ids| {
            let batch = Batch::right_padded(std::slice::from_ref(ids), model.device());
            let hidden = run_plan(model, &batch, plan, true)?.hidden;
            bar.inc(1);
            Ok(TextStats::from_hidden(&hidden)?)
        })
        .collect::<Result<Vec<_>>>()?;
    bar.finish_and_clear();
    Ok(stats)
}

/// One scoring request per text: every token after the first, given the first.
pub(super) fn nll_requests(ids: &[Vec<i64>]) -> Vec<ScoreRequest> {
    ids.iter()
        .map(|ids| ScoreRequest {
            context: ids[..1].to_vec(),
            continuation: ids[1..].to_vec(),
        })
        .collect()
}

/// `result[plan][request]`: the next-token NLL of each request under each plan, scored
/// as plan tries.
pub(super) fn nll_per_text(
    model: &Model,
    plans: &[Plan],
    requests: &[ScoreRequest],
    options: &mut ScoreOptions,
) -> Result<Vec<Vec<f64>>> {
    let bar = progress((requests.len() * plans.len()) as u64, "NLL");
    let scores = score_plans(model, plans, requests, options, &mut |n| {
        bar.set_position(n as u64)
    })?;
    bar.finish_and_clear();
    Ok(scores
        .iter()
        .map(|plan| plan.iter().map(|s| -s.logprob).collect())
        .collect())
}

pub(super) fn progress(len: u64, what: &str) -> ProgressBar {
    ProgressBar::new(len).with_style(
        ProgressStyle::with_template(&format!("{what} {{bar:30}} {{pos}}/{{len}} {{eta}}"))
            .expect("constant template"),
    )
}

/// importance.json, importance.csv (one row per step), angular.csv (n, start, distance)
/// and the figures under `out`.
fn write(out: &Path, report: &Report) -> Result<()> {
    crate::atomic::write(
        &out.join("importance.json"),
        serde_json::to_string_pretty(report)?.as_bytes(),
    )?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "step",
        "plan_step",
        "block_influence",
        "relative_magnitude",
        "angular_distance",
        "nll_without",
        "nll_drop",
        "task_without",
        "task_drop",
    ])?;
    for i in 0..report.layers {
        let (nll, task) = (report.nll.as_ref(), report.task.as_ref());
        let optional = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
        csv.write_record([
            i.to_string(),
            report.steps[i].clone(),
            report.block_influence[i].to_string(),
            report.relative_magnitude[i].to_string(),
            report.angular_distance[&1][i].to_string(),
            optional(nll.map(|n| n.without_step[i])),
            optional(nll.map(|n| n.drop[i])),
            optional(task.map(|t| t.without_step[i])),
            optional(task.map(|t| t.drop[i])),
        ])?;
    }
    crate::atomic::write(&out.join("importance.csv"), &csv.into_inner()?)?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["n", "start", "distance"])?;
    for (n, distances) in &report.angular_distance {
        for (start, d) in distances.iter().enumerate() {
            csv.write_record([n.to_string(), start.to_string(), d.to_string()])?;
        }
    }
    crate::atomic::write(&out.join("angular.csv"), &csv.into_inner()?)?;
    for path in crate::plot::plot_importance(out, report).context("drawing the figures")? {
        eprintln!("{}", path.display());
    }
    Ok(())
}

fn print_table(report: &Report) -> Result<()> {
    outln!(
        "{} texts, {} tokens, plan {} ({} steps)",
        report.texts,
        report.tokens,
        report.plan,
        report.layers
    )?;
    let task_header = report
        .task
        .as_ref()
        .map_or(String::new(), |t| format!("  {} drop", t.metric));
    outln!("step  layer      BI  rel.mag  angular  NLL drop{task_header}")?;
    for i in 0..report.layers {
        let drop = report
            .nll
            .as_ref()
            .map_or("-".to_string(), |n| format!("{:.3}", n.drop[i]));
        let task_drop = report
            .task
            .as_ref()
            .map_or(String::new(), |t| format!("  {:>8.4}", t.drop[i]));
        outln!(
            "{i:>4}  {:>5}  {:.4}  {:>7.4}  {:>7.4}  {drop:>8}{task_drop}",
            report.steps[i],
            report.block_influence[i],
            report.relative_magnitude[i],
            report.angular_distance[&1][i],
        )?;
    }
    for b in &report.best_blocks {
        let drop = b.drop.map_or("-".to_string(), |d| format!("{d:.3}"));
        let task_drop = b
            .task_drop
            .map_or(String::new(), |d| format!(", task drop {d:.4}"));
        outln!(
            "best block of {}: steps {}..{} (d = {:.4}), NLL drop {drop}{task_drop}",
            b.n,
            b.start,
            b.start + b.n,
            b.distance
        )?;
    }
    let task_correlations = report.task.iter().flat_map(|t| {
        let against = format!("{} drop", t.metric);
        t.spearman
            .iter()
            .map(move |(name, e)| (*name, against.clone(), e))
    });
    let nll_correlations = report
        .spearman
        .iter()
        .map(|(name, e)| (*name, "NLL drop".to_string(), e));
    for (name, against, e) in nll_correlations.chain(task_correlations) {
        let value = e.value.map_or("-".to_string(), |v| format!("{v:.3}"));
        let ci =
            e.ci.map_or(String::new(), |[lo, hi]| format!(" [{lo:.3}, {hi:.3}]"));
        outln!("Spearman({name}, {against}) = {value}{ci}")?;
    }
    Ok(())
}
