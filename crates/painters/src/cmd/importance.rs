//! `painters importance`: every proxy of [`crate::importance`] per executed step of a
//! plan, beside the real drop in NLL of removing each step and each least-distant block,
//! with each proxy's Spearman correlation to the drop (95% bootstrap interval over
//! texts). Texts run one at a time, so padding never enters a statistic; the removal
//! plans are scored together as one plan trie.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use layer_graph::Model;
use layer_graph::exec::{Batch, run_plan};
use layer_graph::scoring::{ScoreOptions, ScoreRequest, score_plans};
use layer_plan::Plan;
use serde::Serialize;

use crate::cli::ImportanceCmd;
use crate::importance::{Estimate, TextStats, best_block, bootstrap, proxies, spearman};
use crate::outln;

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

#[derive(Serialize)]
pub struct BestBlock {
    pub n: usize,
    pub start: usize,
    pub distance: f64,
    pub plan: String,
    pub nll: Option<f64>,
    pub drop: Option<f64>,
}

/// Bootstrap resamples of the texts for the Spearman intervals.
const RESAMPLES: usize = 1000;

pub fn run(cmd: ImportanceCmd) -> Result<()> {
    let texts = eval_suite::read_texts(&cmd.texts, cmd.limit)?;
    if cmd.max_block == 0 {
        bail!("--max-block 0: blocks have at least one step");
    }
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
            }
        })
        .collect();
    let mut correlations = BTreeMap::new();
    if per_text.is_some() {
        type Proxy = fn(&crate::importance::Proxies) -> Vec<f64>;
        let named: [(&'static str, Proxy); 3] = [
            ("block_influence", |p| p.block_influence.clone()),
            ("relative_magnitude", |p| p.relative_magnitude.clone()),
            ("angular_distance", |p| p.angular[0].clone()),
        ];
        for (name, proxy) in named {
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

fn progress(len: u64, what: &str) -> ProgressBar {
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
    ])?;
    for i in 0..report.layers {
        let nll = report.nll.as_ref();
        let optional = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
        csv.write_record([
            i.to_string(),
            report.steps[i].clone(),
            report.block_influence[i].to_string(),
            report.relative_magnitude[i].to_string(),
            report.angular_distance[&1][i].to_string(),
            optional(nll.map(|n| n.without_step[i])),
            optional(nll.map(|n| n.drop[i])),
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
    outln!("step  layer      BI  rel.mag  angular  NLL drop")?;
    for i in 0..report.layers {
        let drop = report
            .nll
            .as_ref()
            .map_or("-".to_string(), |n| format!("{:.3}", n.drop[i]));
        outln!(
            "{i:>4}  {:>5}  {:.4}  {:>7.4}  {:>7.4}  {drop:>8}",
            report.steps[i],
            report.block_influence[i],
            report.relative_magnitude[i],
            report.angular_distance[&1][i],
        )?;
    }
    for b in &report.best_blocks {
        let drop = b.drop.map_or("-".to_string(), |d| format!("{d:.3}"));
        outln!(
            "best block of {}: steps {}..{} (d = {:.4}), NLL drop {drop}",
            b.n,
            b.start,
            b.start + b.n,
            b.distance
        )?;
    }
    for (name, e) in &report.spearman {
        let value = e.value.map_or("-".to_string(), |v| format!("{v:.3}"));
        let ci =
            e.ci.map_or(String::new(), |[lo, hi]| format!(" [{lo:.3}, {hi:.3}]"));
        outln!("Spearman({name}, NLL drop) = {value}{ci}")?;
    }
    Ok(())
}
