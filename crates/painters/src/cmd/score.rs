//! `painters score`: log-likelihoods of token-id requests read from JSONL, timed. The
//! request format is tokenizer-free so that another implementation (transformers, in
//! scripts/gpu_check.py and the benchmarks) can score exactly the same inputs.

use std::io::{BufRead, BufReader};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use layer_graph::scoring::{ScoreRequest, score};

use crate::cli::ScoreCmd;
use crate::outln;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    context: Vec<i64>,
    continuation: Vec<i64>,
}

/// Requests of `path`, each id checked against the vocabulary.
fn read_requests(path: &std::path::Path, vocab: i64) -> Result<Vec<ScoreRequest>> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let at = || format!("{}:{}", path.display(), i + 1);
        let line = line.with_context(at)?;
        if line.trim().is_empty() {
            continue;
        }
        let Line {
            context,
            continuation,
        } = serde_json::from_str(&line).with_context(at)?;
        if context.is_empty() || continuation.is_empty() {
            bail!(
                "{}: context and continuation must each have at least one token",
                at()
            );
        }
        if let Some(id) = context
            .iter()
            .chain(&continuation)
            .find(|&&id| !(0..vocab).contains(&id))
        {
            bail!(
                "{}: token id {id} is outside the vocabulary 0..{vocab}",
                at()
            );
        }
        out.push(ScoreRequest {
            context,
            continuation,
        });
    }
    Ok(out)
}

pub fn run(cmd: ScoreCmd) -> Result<()> {
    let model = super::load_model(&cmd.model)?;
    let plan = super::resolve_plan(&cmd.plan, model.stack().num_layers())?;
    let requests = read_requests(&cmd.requests, model.stack().vocab_size())?;
    let mut options = super::score_options(&cmd.scoring);
    let mut best = f64::INFINITY;
    let mut scores = Vec::new();
    for _ in 0..cmd.repeat.max(1) {
        let start = Instant::now();
        scores = score(&model, &plan, &requests, &mut options, &mut |_| {})?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    if let Some(out) = &cmd.out {
        let mut text = String::new();
        for s in &scores {
            text.push_str(
                &serde_json::json!({"logprob": s.logprob, "is_greedy": s.is_greedy}).to_string(),
            );
            text.push('\n');
        }
        crate::atomic::write(out, text.as_bytes())?;
    }
    let summary = serde_json::json!({
        "requests": requests.len(),
        "seconds": best,
        "requests_per_s": requests.len() as f64 / best,
        "plan": plan.to_string(),
        "shared_contexts": options.share_contexts,
        "batch_size": options.batch_size,
    });
    outln!("{summary}")?;
    Ok(())
}
