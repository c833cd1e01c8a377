//! `painters eval`: benchmarks scored as lm-evaluation-harness 0.4.13 scores them, with
//! the model run under a plan; prints a results table and optionally writes per-item
//! JSONL and the metrics.

use std::path::Path;

use anyhow::{Context, Result};
use eval_suite::{EvalOptions, TaskResult, evaluate};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::PlanBackend;
use crate::cli::EvalCmd;
use crate::outln;

pub fn run(cmd: EvalCmd) -> Result<()> {
    let data = super::data_dir(&cmd.data);
    let options = EvalOptions {
        num_fewshot: cmd.num_fewshot,
        limit: cmd.limit,
        ..EvalOptions::default()
    };
    crate::task_files::include(&cmd.include_path, Path::new(""))?;
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
    let model = super::load_model(&cmd.model)?;
    let plan = super::resolve_plan(&cmd.plan, model.stack().num_layers())?;
    outln!(
        "model {} | plan {plan} | data {}",
        cmd.model.model.display(),
        data.display()
    )?;
    let mut results = Vec::new();
    for task in &tasks {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "{prefix:>16} [{bar:30}] {pos}/{len} requests {per_sec} eta {eta}",
            )
            .expect("a valid progress template")
            .progress_chars("=> "),
        );
        bar.set_prefix(task.clone());
        let scoring = super::score_options(&cmd.scoring);
        let mut backend = PlanBackend {
            model: &model,
            plan: plan.clone(),
            scoring,
            kv: cmd.kv.into(),
            add_bos: cmd.add_bos,
            followers: Vec::new(),
            progress: bar.clone(),
        };
        let result = evaluate(task, &data, &mut backend, &options, &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .with_context(|| format!("task {task}"))?;
        bar.finish_and_clear();
        if let Some(out) = &cmd.out {
            crate::atomic::write_jsonl(&out.join(format!("{}.jsonl", result.task)), &result.items)?;
        }
        print_result(&result)?;
        results.push(result);
    }
    if let Some(out) = &cmd.out {
        let summary: Vec<_> = results.iter().map(|r| serde_json::json!({ "task": r.task, "n": r.n, "num_fewshot": r.num_fewshot, "metrics": r.metrics })).collect();
        let doc = serde_json::json!({ "model": cmd.model.model, "plan": plan.to_string(), "plan_hash": plan.hash(), "results": summary });
        crate::atomic::write(
            &out.join("results.json"),
            serde_json::to_string_pretty(&doc)?.as_bytes(),
        )?;
    }
    Ok(())
}

fn print_result(result: &TaskResult) -> Result<()> {
    for m in &result.metrics {
        let stderr = m.stderr.map(|s| format!("± {s:.4}")).unwrap_or_default();
        outln!(
            "{:>16} {:>3}-shot n={:<6} {:<12} {:<16} {:.4} {stderr}",
            result.task,
            result.num_fewshot,
            result.n,
            m.name,
            m.filter,
            m.value
        )?;
    }
    Ok(())
}
