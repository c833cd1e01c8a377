//! `painters logprobs`: each token of a text with the log-probability the model (run
//! under a plan) gives it after the tokens before it, and their sum.

use anyhow::Result;
use layer_graph::exec::{Batch, next_token_logprobs, run_plan};

use crate::cli::LogprobsCmd;
use crate::outln;

pub fn run(cmd: LogprobsCmd) -> Result<()> {
    let model = super::load_model(&cmd.model)?;
    let plan = super::resolve_plan(&cmd.plan, model.stack().num_layers())?;
    let ids = model.tokenizer().encode(&cmd.text)?;
    let batch = Batch::right_padded(std::slice::from_ref(&ids), model.device());
    let logits = run_plan(&model, &batch, &plan, false)?.output;
    let logprobs = next_token_logprobs(&logits, &batch).remove(0);
    let sum: f64 = logprobs.iter().sum();
    if cmd.json {
        // Field order is part of the contract scripts read: tokens, logprobs, sum.
        #[derive(serde::Serialize)]
        struct Output<'a> {
            tokens: &'a [i64],
            logprobs: &'a [f64],
            sum: f64,
        }
        outln!(
            "{}",
            serde_json::to_string(&Output {
                tokens: &ids,
                logprobs: &logprobs,
                sum
            })?
        )?;
        return Ok(());
    }
    outln!("plan: {plan}")?;
    outln!(
        "{:>5} {:>8}  {:<20} {:>10}",
        "pos",
        "id",
        "token",
        "logprob"
    )?;
    for (i, &id) in ids.iter().enumerate() {
        let lp = if i == 0 {
            "-".to_string()
        } else {
            format!("{:.4}", logprobs[i - 1])
        };
        outln!(
            "{i:>5} {id:>8}  {:<20} {lp:>10}",
            format!("{:?}", model.tokenizer().token(id))
        )?;
    }
    outln!("sum of {} log-probs: {sum:.4}", logprobs.len())?;
    Ok(())
}
