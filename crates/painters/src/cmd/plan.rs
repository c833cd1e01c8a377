//! `painters plan`: a variant compiled to its plan text, or an experiment file's cells,
//! without loading a model.

use anyhow::Result;

use crate::cli::PlanCmd;
use crate::experiment::ExperimentFile;
use crate::outln;

pub fn run(cmd: PlanCmd) -> Result<()> {
    let Some(path) = &cmd.experiment else {
        let layers = cmd
            .layers
            .expect("clap requires --layers without an experiment file");
        outln!("{}", super::resolve_plan(&cmd.plan, layers)?)?;
        return Ok(());
    };
    let file = ExperimentFile::read(path)?;
    let layers = cmd.layers.map_or_else(|| file.num_layers(), Ok)?;
    let cells = file.cells(layers)?;
    outln!("{:<36} {:>3} {:>7}  plan", "cell", "M", "passes")?;
    for c in &cells {
        let m = c.affected_layers.map_or("-".into(), |m| m.to_string());
        outln!(
            "{:<36} {m:>3} {:>7}  {}",
            c.label,
            c.plan.layer_passes(),
            c.plan
        )?;
    }
    let plans: Vec<layer_plan::Plan> = cells.iter().map(|c| c.plan.clone()).collect();
    let passes: usize = plans.iter().map(|p| p.layer_passes()).sum();
    let shared = layer_plan::PlanTrie::new(&plans).layer_passes();
    let tasks = &file.experiment.tasks;
    let items: Option<usize> = tasks.iter().map(|t| t.limit).sum();
    let per_item = format!(
        "{passes} layer-passes per scored item ({:.1} full-model passes); {shared} ({:.2}x) with shared prefixes",
        passes as f64 / layers as f64,
        shared as f64 / passes as f64
    );
    match items {
        Some(items) => outln!(
            "{} cells x {} tasks; cost ~ {} layer-passes over {items} items ({per_item})",
            cells.len(),
            tasks.len(),
            shared * items
        )?,
        None => outln!("{} cells x {} tasks; {per_item}", cells.len(), tasks.len())?,
    }
    Ok(())
}
