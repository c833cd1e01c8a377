//! `painters plan`: a variant compiled to its plan text, without loading a model.

use anyhow::Result;

use crate::cli::PlanCmd;

pub fn run(cmd: PlanCmd) -> Result<()> {
    let plan = super::resolve_plan(&cmd.plan, cmd.layers)?;
    println!("{plan}");
    Ok(())
}
