//! `painters generate`: greedy continuation of a prompt under a plan.

use anyhow::Result;
use layer_graph::exec::{GenerateOptions, KvMode, generate};

use crate::cli::{GenerateCmd, KvArg};

pub fn run(cmd: GenerateCmd) -> Result<()> {
    let model = super::load_model(&cmd.model)?;
    let plan = super::resolve_plan(&cmd.plan, model.stack().num_layers())?;
    let prompt = model.tokenizer().encode(&cmd.prompt)?;
    let kv = match cmd.kv {
        KvArg::Exact => KvMode::Exact,
        KvArg::Paper => KvMode::Paper,
    };
    let opts = GenerateOptions { max_tokens: cmd.max_tokens, until: cmd.until, kv };
    let generation = generate(&model, &[prompt], &plan, &opts)?.remove(0);
    println!("{}", generation.text);
    Ok(())
}
