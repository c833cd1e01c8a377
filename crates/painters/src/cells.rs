//! Computing (plan, task) cells into a store: one cell evaluated through a
//! [`PlanBackend`] that replays what a killed run logged, while the unfinished cells of
//! the same task that come later run as followers in the same plan trie and log their
//! answers for when their turn comes. `painters run` drives it over an experiment's grid;
//! `painters prune` over each greedy step's candidates.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Result;
use eval_suite::{EvalOptions, evaluate};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use layer_graph::Model;
use layer_graph::exec::KvMode;
use layer_graph::scoring::ScoreOptions;
use layer_plan::Plan;

use crate::backend::{AddBos, PlanBackend};
use crate::experiment::TaskSettings;
use crate::store::{Claim, FollowerLog, Store};

pub(crate) fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("a valid progress template")
        .progress_chars("=> ")
}

/// How a task's cells are evaluated.
pub(crate) fn task_options(task: &TaskSettings, chunk_size: usize) -> EvalOptions {
    EvalOptions {
        num_fewshot: task.num_fewshot,
        limit: task.limit,
        offset: task.offset.unwrap_or(0),
        chunk_size,
        ..EvalOptions::default()
    }
}

/// Everything a cell's evaluation needs besides the cell.
pub(crate) struct CellRunner<'a> {
    pub model: &'a Model,
    pub store: &'a Store,
    pub data: &'a Path,
    pub scoring: ScoreOptions,
    pub kv: KvMode,
    pub add_bos: AddBos,
    pub chunk_size: usize,
    /// Whether later cells follow this one's passes (`--no-reuse` turns it off).
    pub reuse: bool,
    pub bars: MultiProgress,
}

impl CellRunner<'_> {
    /// The claimed cell (`plan` on `task`, shown as `label`), sharing its passes with the
    /// unfinished cells of the same task in `later` (plan, key).
    pub fn compute(
        &self,
        claim: &Claim,
        plan: &Plan,
        label: &str,
        task: &TaskSettings,
        later: &[(&Plan, &str)],
    ) -> Result<()> {
        let followers = if self.reuse {
            self.followers(claim.key(), later)?
        } else {
            Vec::new()
        };
        let bar = self.bars.add(ProgressBar::new(0).with_style(style(
            "{prefix:>10} [{bar:30}] {pos}/{len} requests {per_sec} {msg}",
        )));
        bar.set_prefix(task.name.clone());
        bar.set_message(match followers.len() {
            0 => label.to_string(),
            n => format!("{label} (+{n} cells sharing)"),
        });
        let mut backend = PlanBackend {
            model: self.model,
            plan: plan.clone(),
            scoring: self.scoring,
            kv: self.kv,
            add_bos: self.add_bos,
            followers,
            progress: bar.clone(),
        };
        let mut resumable = self.store.resumable(claim, &mut backend)?;
        let options = task_options(task, self.chunk_size);
        let result = evaluate(
            &task.name,
            self.data,
            &mut resumable,
            &options,
            &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            },
        )?;
        bar.finish_and_clear();
        self.store.save(claim, result)
    }

    /// The cells of `later` that are unfinished and held by no other process, each
    /// distinct key once and `own` excluded, with their logs opened (and claimed) for the
    /// running cell's backend to fill.
    fn followers(&self, own: &str, later: &[(&Plan, &str)]) -> Result<Vec<(Plan, FollowerLog)>> {
        let mut seen = HashSet::from([own]);
        let mut out = Vec::new();
        for &(plan, key) in later {
            if seen.insert(key)
                && let Some(log) = self.store.follower(key)?
            {
                out.push((plan.clone(), log));
            }
        }
        Ok(out)
    }
}
