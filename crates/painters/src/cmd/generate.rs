//! `painters generate`: greedy continuation of a prompt under a plan.

use anyhow::Result;
use layer_graph::exec::{GenerateOptions, generate};

use crate::cli::GenerateCmd;
use crate::outln;

pub fn run(cmd: GenerateCmd) -> Result<()> {
    let model = super::load_model(&cmd.model)?;
    let plan = super::resolve_plan(&cmd.plan, model.stack().num_layers())?;
    let prompt = model.tokenizer().encode(&cmd.prompt)?;
    let opts = GenerateOptions {
        max_tokens: cmd.max_tokens,
        until: cmd.until,
        kv: cmd.kv.into(),
    };
    let generation = generate(&model, &[prompt], &plan, &opts)?.remove(0);
    outln!("{}", generation.text)?;
    Ok(())
}
