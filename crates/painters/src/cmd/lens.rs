//! `painters lens`: the logit lens after every executed step of a plan, over texts
//! (`lens.rs` has the definitions) or on log-likelihood tasks: each task's metrics had the
//! model stopped after step k, which is the plan of its first k steps. Those S prefix
//! plans are scored together as one plan trie, so each batch runs the plan once and the
//! head only at continuation positions after every step; the task then scores each
//! step's answers as `painters eval --plan "<first k steps>"` would. A table, `--json`,
//! or lens.json, lens.csv (and for tasks each step's item records) in --out.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use eval_suite::{BackendError, EvalOptions, GenerateRequest, LanguageModel, LoglikelihoodRequest};
use layer_graph::Model;
use layer_graph::exec::{Batch, run_plan};
use layer_graph::scoring::score_plans;
use layer_plan::Plan;
use serde::Serialize;

use super::importance::{progress, tokenize};
use crate::backend::PlanBackend;
use crate::cli::LensCmd;
use crate::lens::{Lens, LensSums};
use crate::outln;

#[derive(Serialize)]
struct Report {
    model: String,
    plan: String,
    /// S, the plan's executed steps.
    steps: usize,
    /// What each step runs, in plan text.
    step_text: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    texts: Option<usize>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    lens: Option<Lens>,
    /// Per task, per metric (`name` or `name,filter`): its value after each step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tasks: Vec<TaskLens>,
}

#[derive(Serialize)]
struct TaskLens {
    task: String,
    n: usize,
    metrics: Vec<MetricLens>,
}

#[derive(Serialize)]
struct MetricLens {
    name: String,
    filter: String,
    values: Vec<f64>,
}

pub fn run(cmd: LensCmd) -> Result<()> {
    let model = super::load_model(&cmd.model)?;
    if !model.stack().is_causal() {
        bail!(
            "{}: not a causal language model, so it has no next-token predictions to read a lens from",
            cmd.model.model.display()
        );
    }
    let plan = super::resolve_plan(&cmd.plan, model.stack().num_layers())?;
    let mut report = Report {
        model: cmd.model.model.display().to_string(),
        plan: plan.to_string(),
        steps: plan.steps().len(),
        step_text: plan.steps().iter().map(ToString::to_string).collect(),
        texts: None,
        lens: None,
        tasks: Vec::new(),
    };
    match &cmd.texts {
        Some(path) => {
            let texts = eval_suite::read_texts(path, cmd.limit)?;
            let ids = tokenize(&model, path, &texts)?;
            report.texts = Some(ids.len());
            report.lens = Some(text_lens(&model, &plan, &ids)?);
        }
        None => report.tasks = task_lens(&cmd, &model, &plan, cmd.out.as_deref())?,
    }
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

fn text_lens(model: &Model, plan: &Plan, ids: &[Vec<i64>]) -> Result<Lens> {
    let bar = progress(ids.len() as u64, "lens");
    let sums = ids
        .iter()
        .map(|ids| {
            let batch = Batch::right_padded(std::slice::from_ref(ids), model.device());
            let hidden = run_plan(model, &batch, plan, true)?.hidden;
            let logits = tch::no_grad(|| {
                hidden[1..]
                    .iter()
                    .map(|h| model.stack().head(h).and_then(|l| l.f_squeeze_dim(0)))
                    .collect::<Result<Vec<_>, _>>()
            })?;
            bar.inc(1);
            Ok(LensSums::from_logits(ids, &logits)?)
        })
        .collect::<Result<Vec<_>>>()?;
    bar.finish_and_clear();
    Ok(Lens::from_texts(&sums))
}

/// A batch of log-likelihood requests as (context, continuation) texts.
type RequestKey = Vec<(String, String)>;
/// Answers (log-likelihood, is greedy) per step, per request.
type StepAnswers = Vec<Vec<(f64, bool)>>;

/// Answers log-likelihood requests as the model stopped after step `step` would: the
/// first time a set of requests comes, it is scored under every prefix plan at once.
struct StepBackend<'a> {
    /// Tokenises as `painters eval` does; its plan is the whole plan.
    encoder: PlanBackend<'a>,
    prefixes: Vec<Plan>,
    step: usize,
    answers: HashMap<RequestKey, StepAnswers>,
}

impl LanguageModel for StepBackend<'_> {
    fn loglikelihood(
        &mut self,
        reqs: &[LoglikelihoodRequest],
    ) -> Result<Vec<(f64, bool)>, BackendError> {
        let key: RequestKey = reqs
            .iter()
            .map(|r| (r.context.clone(), r.continuation.clone()))
            .collect();
        if !self.answers.contains_key(&key) {
            let pairs = self.encoder.loglikelihood_requests(reqs)?;
            let bar = &self.encoder.progress;
            let scores = score_plans(
                self.encoder.model,
                &self.prefixes,
                &pairs,
                &mut self.encoder.scoring,
                &mut |done| bar.set_position(done as u64),
            )
            .map_err(BackendError::new)?;
            let per_step = scores
                .into_iter()
                .map(|s| s.into_iter().map(|s| (s.logprob, s.is_greedy)).collect())
                .collect();
            self.answers.insert(key.clone(), per_step);
        }
        Ok(self.answers[&key][self.step].clone())
    }

    fn loglikelihood_rolling(&mut self, _: &[String]) -> Result<Vec<f64>, BackendError> {
        Err(BackendError::new(
            "the lens reads multiple-choice and continuation log-likelihoods; this task scores whole texts (use --texts)",
        ))
    }

    fn generate_until(&mut self, _: &[GenerateRequest]) -> Result<Vec<String>, BackendError> {
        Err(BackendError::new(
            "the lens reads log-likelihoods from one pass; this task generates",
        ))
    }
}

/// Each task's metrics after every step; with `out`, also each step's per-item records,
/// `out/items/<task>/step-<k>.jsonl` (those `painters eval --out` writes for the plan of
/// the first k steps).
fn task_lens(
    cmd: &LensCmd,
    model: &Model,
    plan: &Plan,
    items_dir: Option<&Path>,
) -> Result<Vec<TaskLens>> {
    let data = super::data_dir(&cmd.data);
    let options = EvalOptions {
        limit: cmd.limit,
        ..EvalOptions::default()
    };
    // Task names, or lm-eval task YAML files (registered under their `task:` name).
    let tasks: Vec<String> = cmd
        .tasks
        .iter()
        .map(|spec| {
            crate::task_files::task_name(spec, Path::new(""))
                .with_context(|| format!("--tasks {spec}"))
        })
        .collect::<Result<_>>()?;
    for task in &tasks {
        eval_suite::check_data(task, &data, &options).with_context(|| format!("--tasks {task}"))?;
    }
    let steps = plan.steps();
    let prefixes = (1..=steps.len())
        .map(|k| Plan::new(steps[..k].to_vec(), plan.num_layers()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for task in &tasks {
        let bar = progress(0, task);
        let mut backend = StepBackend {
            encoder: PlanBackend {
                model,
                plan: plan.clone(),
                scoring: super::score_options(&cmd.scoring),
                kv: layer_graph::exec::KvMode::Exact,
                add_bos: cmd.add_bos,
                followers: Vec::new(),
                progress: bar.clone(),
            },
            prefixes: prefixes.clone(),
            step: 0,
            answers: HashMap::new(),
        };
        let mut lens: Option<TaskLens> = None;
        for k in 0..steps.len() {
            backend.step = k;
            let result =
                eval_suite::evaluate(task, &data, &mut backend, &options, &mut |_, total| {
                    bar.set_length(total as u64)
                })
                .with_context(|| format!("task {task}"))?;
            if let Some(dir) = items_dir {
                let path = dir
                    .join("items")
                    .join(&result.task)
                    .join(format!("step-{}.jsonl", k + 1));
                std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
                crate::atomic::write_jsonl(&path, &result.items)?;
            }
            let lens = lens.get_or_insert_with(|| TaskLens {
                task: result.task.clone(),
                n: result.n,
                metrics: result
                    .metrics
                    .iter()
                    .map(|m| MetricLens {
                        name: m.name.clone(),
                        filter: m.filter.clone(),
                        values: Vec::new(),
                    })
                    .collect(),
            });
            for (m, value) in lens.metrics.iter_mut().zip(&result.metrics) {
                m.values.push(value.value);
            }
        }
        bar.finish_and_clear();
        out.extend(lens);
    }
    Ok(out)
}

fn print_table(report: &Report) -> Result<()> {
    outln!("plan {} ({} steps)", report.plan, report.steps)?;
    if let Some(l) = &report.lens {
        outln!(
            "{} texts, {} predicted tokens",
            report.texts.unwrap_or(0),
            l.tokens
        )?;
        outln!("step  runs       nll      kl(final||k)  top-1 = final  entropy")?;
        for k in 0..report.steps {
            outln!(
                "{:>4}  {:<8} {:>8.4}  {:>12.4}  {:>13.3}  {:>7.4}",
                k + 1,
                report.step_text[k],
                l.nll[k],
                l.kl[k],
                l.top1[k],
                l.entropy[k]
            )?;
        }
    }
    for t in &report.tasks {
        let names: Vec<String> = t.metrics.iter().map(metric_name).collect();
        outln!(
            "{} (n = {}): step  runs      {}",
            t.task,
            t.n,
            names.join("  ")
        )?;
        for k in 0..report.steps {
            let values: Vec<String> = t
                .metrics
                .iter()
                .zip(&names)
                .map(|(m, name)| format!("{:>width$.4}", m.values[k], width = name.len()))
                .collect();
            outln!(
                "{:>width$}  {:>4}  {:<8}  {}",
                "",
                k + 1,
                report.step_text[k],
                values.join("  "),
                width = t.task.len() + t.n.to_string().len() + 7
            )?;
        }
    }
    Ok(())
}

fn metric_name(m: &MetricLens) -> String {
    match m.filter.as_str() {
        "none" => m.name.clone(),
        filter => format!("{},{filter}", m.name),
    }
}

/// lens.json (the report) and lens.csv: one row per step (texts), or per task, metric and
/// step (tasks).
fn write(out: &Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(out)?;
    crate::atomic::write(
        &out.join("lens.json"),
        serde_json::to_string_pretty(report)?.as_bytes(),
    )?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    if let Some(l) = &report.lens {
        csv.write_record(["step", "runs", "nll", "kl", "top1", "entropy"])?;
        for k in 0..report.steps {
            csv.write_record([
                (k + 1).to_string(),
                report.step_text[k].clone(),
                l.nll[k].to_string(),
                l.kl[k].to_string(),
                l.top1[k].to_string(),
                l.entropy[k].to_string(),
            ])?;
        }
    } else {
        csv.write_record(["task", "metric", "filter", "step", "runs", "value"])?;
        for t in &report.tasks {
            for m in &t.metrics {
                for (k, value) in m.values.iter().enumerate() {
                    csv.write_record([
                        t.task.clone(),
                        m.name.clone(),
                        m.filter.clone(),
                        (k + 1).to_string(),
                        report.step_text[k].clone(),
                        value.to_string(),
                    ])?;
                }
            }
        }
    }
    crate::atomic::write(&out.join("lens.csv"), &csv.into_inner()?)?;
    Ok(())
}
