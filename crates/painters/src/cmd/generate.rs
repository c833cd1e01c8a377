//! `painters generate`: the continuation of a prompt under a plan, greedy or (with
//! `--sample-seed`) sampled.

use anyhow::Result;
use layer_graph::exec::{Decoding, GenerateOptions, generate};
use layer_graph::sample::Sampling;

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
        decoding: match cmd.sample_seed {
            None => Decoding::Greedy,
            Some(seed) => Decoding::Sample {
                settings: Sampling {
                    temperature: cmd.temperature,
                    top_k: cmd.top_k,
                    top_p: cmd.top_p,
                },
                seeds: vec![seed],
            },
        },
    };
    let generation = generate(&model, &[prompt], &plan, &opts)?.remove(0);
    outln!("{}", generation.text)?;
    Ok(())
}
