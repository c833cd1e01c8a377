//! `painters run`: every (variant x task) cell of an experiment file, resumable, with
//! progress bars; writes resolved.toml, the store, summary.csv and medians.csv. With
//! `--shard i/n` it computes only its share of the cells (`shard`) and writes only the
//! store, for `painters merge` to summarise; with `--devices` it hands one shard per
//! device to worker processes (`workers`). Processes sharing a results directory each
//! compute the cells they can claim and wait for the others' at the end (`store`).

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar};
use layer_graph::Model;
use layer_plan::Plan;

use crate::cells::{CellRunner, style, task_options};
use crate::cli::{ModelArgs, RunCmd};
use crate::grid::Grid;
use crate::outln;
use crate::store::Store;

pub fn run(cmd: RunCmd) -> Result<()> {
    let grid = super::read_grid(&cmd.experiment, &cmd.data)?;
    let out = super::results_dir(cmd.out.as_deref(), &cmd.experiment);
    let exp = &grid.file.experiment;
    if !cmd.devices.is_empty() {
        return super::workers::run(&cmd, &grid, &out);
    }
    let cells = match cmd.shard {
        Some(shard) => crate::shard::cells_of(&grid.cells, shard),
        None => (0..grid.cells.len()).collect(),
    };
    let store = Store::open(&out)?;
    if cmd.shard.is_none() {
        grid.write_resolved(&out)?;
    }
    // Tasks outer, cells inner: the pending cells of a task run as one plan trie, the
    // first cell computing for all and the others replaying what it logged for them.
    let pairs: Vec<(usize, usize)> = (0..grid.tasks().len())
        .flat_map(|t| cells.iter().map(move |&c| (t, c)))
        .collect();
    let pending: Vec<(usize, usize)> = pairs
        .iter()
        .copied()
        .filter(|&(t, c)| !store.has(&grid.keys[c][t]))
        .collect();
    let computed = if pending.is_empty() {
        0
    } else {
        for &t in pending
            .iter()
            .map(|(t, _)| t)
            .collect::<std::collections::BTreeSet<_>>()
        {
            let task = &grid.tasks()[t];
            eval_suite::check_data(&task.name, &grid.data, &task_options(task, cmd.chunk_size))
                .with_context(|| {
                    format!("{}: tasks[{t}] ({})", grid.file.path.display(), task.name)
                })?;
        }
        let model = load_model(&cmd, &grid)?;
        let runner = Runner {
            cells: CellRunner {
                model: &model,
                store: &store,
                data: &grid.data,
                scoring: super::scoring(exp.model.batch_size, cmd.no_reuse, cmd.batch_invariant),
                kv: exp.model.kv.into(),
                add_bos: exp.model.add_bos,
                chunk_size: cmd.chunk_size,
                reuse: !cmd.no_reuse,
                bars: MultiProgress::new(),
            },
            grid: &grid,
            store: &store,
        };
        runner.run_all(&pending, pairs.len())?
    };
    let tasks = grid.tasks().len();
    match cmd.shard {
        Some(shard) => outln!(
            "{}: shard {shard}: {} of {} cells x {tasks} tasks in store/ ({computed} results computed here); `painters merge` writes the summary",
            out.display(),
            cells.len(),
            grid.cells.len(),
        )?,
        None => {
            grid.write_summary(&out, &store)?;
            outln!(
                "{}: {} cells x {tasks} tasks -> summary.csv, medians.csv ({computed} results computed here)",
                out.display(),
                grid.cells.len()
            )?;
        }
    }
    Ok(())
}

/// The grid's model on `--device`, else on the file's `model.device`.
fn load_model(cmd: &RunCmd, grid: &Grid) -> Result<Model> {
    let settings = &grid.file.experiment.model;
    let args = ModelArgs {
        model: settings.dir.clone(),
        device: cmd.device.unwrap_or(settings.device),
        dtype: settings.dtype,
    };
    let model = super::load_model(&args).with_context(|| match &cmd.device {
        Some(_) => "--device".to_string(),
        None => format!("{}: model", grid.file.path.display()),
    })?;
    if model.stack().num_layers() != grid.layers {
        anyhow::bail!(
            "{}: model.layers is {}, but {} has {} layers",
            grid.file.path.display(),
            grid.layers,
            settings.dir.display(),
            model.stack().num_layers()
        );
    }
    Ok(model)
}

/// Computes (task, cell) pairs of a grid into a store.
struct Runner<'a> {
    cells: CellRunner<'a>,
    grid: &'a Grid,
    store: &'a Store,
}

impl Runner<'_> {
    /// Finishes every pair of `pending` (of `total` this process answers for): first the
    /// ones no other process holds, then, waiting for each, the rest. Returns how many
    /// results this process computed.
    fn run_all(&self, pending: &[(usize, usize)], total: usize) -> Result<usize> {
        let overall = self
            .cells
            .bars
            .add(ProgressBar::new(total as u64).with_style(style(
                "{prefix:>10} [{bar:30}] {pos}/{len} cells, eta {eta}",
            )));
        overall.set_prefix("grid");
        overall.set_position((total - pending.len()) as u64);
        let (held_elsewhere, first) = self.pass(pending, false, &overall)?;
        let (_, second) = self.pass(&held_elsewhere, true, &overall)?;
        overall.finish();
        Ok(first + second)
    }

    /// Computes each unfinished pair it can claim (all of them if `wait`); returns the
    /// pairs another process holds and how many it computed.
    fn pass(
        &self,
        pending: &[(usize, usize)],
        wait: bool,
        overall: &ProgressBar,
    ) -> Result<(Vec<(usize, usize)>, usize)> {
        let (mut held_elsewhere, mut computed) = (Vec::new(), 0);
        for (i, &(t, c)) in pending.iter().enumerate() {
            let key = &self.grid.keys[c][t];
            match self.store.claim(key, wait)? {
                Some(claim) => {
                    let cell = &self.grid.cells[c];
                    // The unfinished cells of this task after this one share its passes.
                    let later: Vec<(&Plan, &str)> = pending[i + 1..]
                        .iter()
                        .filter(|&&(u, _)| u == t)
                        .map(|&(_, f)| (&self.grid.cells[f].plan, self.grid.keys[f][t].as_str()))
                        .collect();
                    self.cells
                        .compute(
                            &claim,
                            &cell.plan,
                            &cell.label,
                            &self.grid.tasks()[t],
                            &later,
                        )
                        .with_context(|| self.grid.describe(c, t))?;
                    computed += 1;
                }
                None if !self.store.has(key) => {
                    held_elsewhere.push((t, c));
                    continue;
                }
                // Finished meanwhile, by this process (another cell with the same plan)
                // or another one.
                None => {}
            }
            overall.inc(1);
        }
        Ok((held_elsewhere, computed))
    }
}
