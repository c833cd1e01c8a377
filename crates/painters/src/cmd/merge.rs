//! `painters merge`: the stores of a grid's shards combined into one results directory,
//! which then gets the resolved.toml, summary.csv and medians.csv an unsharded run of the
//! grid writes. Nothing is copied while any (cell, task) is missing from every shard.

use std::collections::HashSet;

use anyhow::{Context, Result, bail};

use crate::cli::MergeCmd;
use crate::outln;
use crate::store::Store;

pub fn run(cmd: MergeCmd) -> Result<()> {
    let grid = super::read_grid(&cmd.experiment, &cmd.data)?;
    let out = super::results_dir(cmd.out.as_deref(), &cmd.experiment);
    let shards = cmd
        .from
        .iter()
        .map(|dir| Store::open_existing(dir).context("--from"))
        .collect::<Result<Vec<_>>>()?;
    let store = Store::open(&out)?;
    // Where each result missing from `out` comes from: the first shard that has it.
    let mut copies = Vec::new();
    let mut seen = HashSet::new();
    for (c, row) in grid.keys.iter().enumerate() {
        for (t, key) in row
            .iter()
            .enumerate()
            .filter(|(_, key)| !store.has(key) && seen.insert(*key))
        {
            let Some(shard) = shards.iter().find(|s| s.has(key)) else {
                let given: Vec<String> = cmd.from.iter().map(|d| d.display().to_string()).collect();
                bail!(
                    "{} is in none of the shards given (--from {}): finish its shard, then merge again",
                    grid.describe(c, t),
                    given.join(" ")
                );
            };
            copies.push((shard, key));
        }
    }
    for &(shard, key) in &copies {
        store.import(shard, key)?;
    }
    grid.write_resolved(&out)?;
    grid.write_summary(&out, &store)?;
    outln!(
        "{}: {} cells x {} tasks ({} results copied from {} shard directories) -> summary.csv, medians.csv",
        out.display(),
        grid.cells.len(),
        grid.tasks().len(),
        copies.len(),
        shards.len()
    )?;
    Ok(())
}
