//! `painters lens`: the logit lens after every executed step of a plan over texts
//! (`lens.rs` has the definitions); a table, `--json`, or lens.csv and lens.json in --out.

use anyhow::{Result, bail};
use layer_graph::exec::{Batch, run_plan};
use serde::Serialize;

use super::importance::tokenize;
use crate::cli::LensCmd;
use crate::lens::{Lens, LensSums};
use crate::outln;

#[derive(Serialize)]
struct Report {
    model: String,
    plan: String,
    texts: usize,
    /// S, the plan's executed steps.
    steps: usize,
    /// What each step runs, in plan text.
    step_text: Vec<String>,
    #[serde(flatten)]
    lens: Lens,
}

pub fn run(cmd: LensCmd) -> Result<()> {
    let texts = eval_suite::read_texts(&cmd.texts, cmd.limit)?;
    let model = super::load_model(&cmd.model)?;
    if !model.stack().is_causal() {
        bail!(
            "{}: not a causal language model, so it has no next-token predictions to read a lens from",
            cmd.model.model.display()
        );
    }
    let plan = super::resolve_plan(&cmd.plan, model.stack().num_layers())?;
    let ids = tokenize(&model, &cmd.texts, &texts)?;
    let bar = super::importance::progress(ids.len() as u64, "lens");
    let sums = ids
        .iter()
        .map(|ids| {
            let batch = Batch::right_padded(std::slice::from_ref(ids), model.device());
            let hidden = run_plan(&model, &batch, &plan, true)?.hidden;
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
    let report = Report {
        model: cmd.model.model.display().to_string(),
        plan: plan.to_string(),
        texts: ids.len(),
        steps: plan.steps().len(),
        step_text: plan.steps().iter().map(ToString::to_string).collect(),
        lens: Lens::from_texts(&sums),
    };
    if let Some(out) = &cmd.out {
        write(out, &report)?;
    }
    if cmd.json {
        outln!("{}", serde_json::to_string(&report)?)?;
    } else {
        outln!(
            "{} texts, {} predicted tokens, plan {}",
            report.texts,
            report.lens.tokens,
            report.plan
        )?;
        outln!("step  runs       nll      kl(final||k)  top-1 = final  entropy")?;
        for k in 0..report.steps {
            let l = &report.lens;
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
    Ok(())
}

/// lens.json (the report) and lens.csv (one row per step) in `out`.
fn write(out: &std::path::Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(out)?;
    crate::atomic::write(
        &out.join("lens.json"),
        serde_json::to_string_pretty(report)?.as_bytes(),
    )?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["step", "runs", "nll", "kl", "top1", "entropy"])?;
    for k in 0..report.steps {
        let l = &report.lens;
        csv.write_record([
            (k + 1).to_string(),
            report.step_text[k].clone(),
            l.nll[k].to_string(),
            l.kl[k].to_string(),
            l.top1[k].to_string(),
            l.entropy[k].to_string(),
        ])?;
    }
    crate::atomic::write(&out.join("lens.csv"), &csv.into_inner()?)?;
    Ok(())
}
