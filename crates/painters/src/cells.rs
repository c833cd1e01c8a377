//! Computing (plan, task) cells into a store: one cell evaluated through a
//! [`PlanBackend`] that replays what a killed run logged, while the unfinished cells of
//! the same task that come later run as followers in the same plan trie and log their
//! answers for when their turn comes. `painters run` drives it over an experiment's grid;
//! [`TaskScores`] over any list of plans (`painters prune`'s candidates of a step,
//! `painters importance`'s removals), reading back one metric per plan.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};
use eval_suite::{EvalOptions, evaluate};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use layer_graph::Model;
use layer_graph::exec::KvMode;
use layer_graph::scoring::ScoreOptions;
use layer_plan::Plan;

use crate::backend::{AddBos, PlanBackend};
use crate::cli::{ModelArgs, TaskMetric};
use crate::experiment::TaskSettings;
use crate::store::{Claim, FollowerLog, Store, cell_key};

/// Requests per logged chunk of a cell (`painters run`'s default).
const TASK_CHUNK: usize = 64;

/// The settings of `metric`'s task on items `offset..offset + limit`, with the task
/// known and its data files present and readable in `data`.
pub(crate) fn checked_task(
    metric: &TaskMetric,
    limit: Option<usize>,
    offset: usize,
    data: &Path,
) -> Result<TaskSettings> {
    eval_suite::check_task(&metric.name)?;
    let task = TaskSettings {
        name: metric.name.clone(),
        yaml: None,
        limit,
        offset: Some(offset),
        num_fewshot: None,
    };
    eval_suite::check_data(&metric.name, data, &task_options(&task, TASK_CHUNK))?;
    Ok(task)
}

/// The model's identity as `painters run` keys cells with the tokenizer's own BOS.
pub(crate) fn store_model_id(args: &ModelArgs) -> Result<String> {
    crate::identity::model_identity(
        &args.model,
        &args.dtype.to_string(),
        "add_bos=tokenizer",
        crate::identity::cache_root().as_deref(),
    )
}

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

/// One benchmark metric of each of a list of plans, every plan a cell of `store` keyed as
/// `painters run` keys it: the unfinished plans share their passes as a run's cells do, a
/// killed computation resumes from what the store logged, and a plan already stored is
/// not scored again.
pub(crate) struct TaskScores<'a> {
    cells: CellRunner<'a>,
    task: TaskSettings,
    metric: TaskMetric,
    model_id: String,
}

impl<'a> TaskScores<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: &'a Model,
        store: &'a Store,
        data: &'a Path,
        task: TaskSettings,
        metric: &TaskMetric,
        model_args: &ModelArgs,
        scoring: ScoreOptions,
        reuse: bool,
    ) -> Result<Self> {
        Ok(TaskScores {
            cells: CellRunner {
                model,
                store,
                data,
                scoring,
                kv: KvMode::Exact,
                add_bos: AddBos::Tokenizer,
                chunk_size: TASK_CHUNK,
                reuse,
                bars: MultiProgress::new(),
            },
            task,
            metric: metric.clone(),
            model_id: store_model_id(model_args)?,
        })
    }

    /// Perplexities and bits per byte: lower is better.
    pub fn lower_is_better(&self) -> bool {
        self.metric.metric.contains("perplexity") || self.metric.metric == "bits_per_byte"
    }

    /// Scores every plan not stored yet, returning each plan's store key.
    fn compute(&self, plans: &[Plan]) -> Result<Vec<String>> {
        let store = self.cells.store;
        let keys: Vec<String> = plans
            .iter()
            .map(|p| cell_key(&self.model_id, p, &self.task))
            .collect();
        for (i, plan) in plans.iter().enumerate() {
            if store.has(&keys[i]) {
                continue;
            }
            if let Some(claim) = store.claim(&keys[i], true)? {
                let later: Vec<(&Plan, &str)> = (i + 1..plans.len())
                    .filter(|&j| !store.has(&keys[j]))
                    .map(|j| (&plans[j], keys[j].as_str()))
                    .collect();
                self.cells
                    .compute(&claim, plan, &plan.to_string(), &self.task, &later)?;
            }
        }
        Ok(keys)
    }

    /// The metric of each plan, as the task reports it.
    pub fn values(&self, plans: &[Plan]) -> Result<Vec<f64>> {
        let TaskMetric {
            name,
            metric,
            filter,
        } = &self.metric;
        self.compute(plans)?
            .iter()
            .map(|key| {
                let stored = self
                    .cells
                    .store
                    .load(key)?
                    .with_context(|| format!("cell {key} was not stored"))?;
                let reported: Vec<String> = stored
                    .result
                    .metrics
                    .iter()
                    .map(|m| format!("{}:{}", m.name, m.filter))
                    .collect();
                stored
                    .result
                    .metric(metric, filter)
                    .map(|m| m.value)
                    .with_context(|| {
                        format!(
                            "{name} reports no {metric}:{filter} (it reports {})",
                            reported.join(", ")
                        )
                    })
            })
            .collect()
    }

    /// Each plan's per-item scores of the metric, the items in the same order for every
    /// plan; `None` for a corpus-level metric (perplexity, F1), which has none.
    pub fn item_scores(&self, plans: &[Plan]) -> Result<Option<Vec<Vec<f64>>>> {
        let keys = self.compute(plans)?;
        let items = keys
            .iter()
            .map(|key| self.cells.store.items(key))
            .collect::<Result<Vec<_>>>()?;
        let TaskMetric { metric, filter, .. } = &self.metric;
        let scores = items.iter().map(|plan_items| {
            eval_suite::stats::paired_item_scores(&items[0], plan_items, metric, filter)
                .map(|(_, scores)| scores)
        });
        match scores.collect::<Result<Vec<_>, _>>() {
            Ok(scores) => Ok(Some(scores)),
            Err(eval_suite::StatsError::NoScore { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
