//! The entry point: prepare a task's docs, send every request to the backend in chunks
//! (reporting progress after each), and score the answers.
//!
//! Requests of a run go out in doc order, `chunk_size` at a time, so a backend can batch
//! and sort within a chunk; answers must come back in request order. Nothing here is
//! cached or retried.

use std::path::Path;

use crate::error::EvalError;
use crate::lm::{
    BackendError, GenerateRequest, LanguageModel, LoglikelihoodRequest, Sampling, sampling_seed,
};
use crate::records::{ChoiceContext, ItemRecord, TaskResult};
use crate::score::{self, Stderr};
use crate::tasks::{self, ChoiceDoc, ChoiceMetric, Prepared, TaskDef};

/// Run settings, lm-eval's CLI flags of the same meaning.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// `--num_fewshot`; `None` takes the task's standard setting,
    /// [`TaskDef::default_shots`](crate::TaskDef::default_shots): 5 for gsm8k and mmlu
    /// (lm-eval's own CLI default for mmlu is 0), else 0.
    pub num_fewshot: Option<usize>,
    /// `--limit`: the first N docs in file order (per subject for MMLU).
    pub limit: Option<usize>,
    /// Skips the first N docs (per subject for MMLU), so `limit` counts from there: the
    /// docs scored are those a run without the offset scores at those places, few-shot
    /// examples included (for disjoint search and evaluation items).
    pub offset: usize,
    /// Requests per backend call; progress is reported after each call.
    pub chunk_size: usize,
    /// `--bootstrap_iters` for the perplexity stderr; 0 reports no stderr at all.
    pub bootstrap_iters: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            num_fewshot: None,
            limit: None,
            offset: 0,
            chunk_size: 256,
            bootstrap_iters: 100_000,
        }
    }
}

/// Checks that `task` names a known task, without reading any data: lets callers
/// refuse a typo before loading a model.
pub fn check_task(task: &str) -> Result<(), EvalError> {
    tasks::resolve(task).map(|_| ())
}

/// Reads and validates `task`'s files under `data_dir` as [`evaluate`] does, without a
/// model: lets callers refuse missing or malformed data before loading one.
pub fn check_data(task: &str, data_dir: &Path, options: &EvalOptions) -> Result<(), EvalError> {
    prepare(task, data_dir, options).map(|_| ())
}

/// `task`'s entry, whether it is a whole group (MMLU), its docs (at least one), and its
/// number of few-shot examples.
fn prepare(
    task: &str,
    data_dir: &Path,
    options: &EvalOptions,
) -> Result<(&'static TaskDef, bool, Prepared, usize), EvalError> {
    let (def, subtask) = tasks::resolve(task)?;
    let limit = options.limit.map(|n| n + options.offset);
    let (mut prepared, num_fewshot) =
        def.prepare(task, subtask, data_dir, options.num_fewshot, limit)?;
    prepared.skip(options.offset);
    if prepared.len() == 0 {
        return Err(EvalError::NoDocuments {
            task: task.to_string(),
        });
    }
    let group = subtask.is_none() && !def.subtasks.is_empty();
    Ok((def, group, prepared, num_fewshot))
}

/// Evaluate `task` (a name in [`crate::registry`], or `<name>_<subtask>` such as
/// `mmlu_anatomy`) on the files under `data_dir` with `lm`. `progress(done, total)` is called after each
/// backend call with the number of requests answered so far.
pub fn evaluate(
    task: &str,
    data_dir: &Path,
    lm: &mut dyn LanguageModel,
    options: &EvalOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<TaskResult, EvalError> {
    let (def, group, prepared, num_fewshot) = prepare(task, data_dir, options)?;
    let stderr = Stderr {
        bootstrap_iters: options.bootstrap_iters,
    };
    let chunk = options.chunk_size.max(1);
    let mut subtasks = Vec::new();
    let (items, metrics): (Vec<ItemRecord>, _) = match prepared {
        Prepared::Choice { docs, metrics } => {
            let mutual_info = metrics.contains(&ChoiceMetric::AccMutualInfo);
            let reqs: Vec<LoglikelihoodRequest> = docs
                .iter()
                .flat_map(|doc| choice_requests(doc, mutual_info))
                .collect();
            let results = chunked(&reqs, chunk, progress, "loglikelihood", |c| {
                lm.loglikelihood(c)
            })?;
            let records = score::choice_records(&docs, &results, mutual_info);
            let metrics = if group {
                let (metrics, parts) = score::group(def.name, &records, num_fewshot, stderr);
                subtasks = parts;
                metrics
            } else {
                score::choice_metrics(&records, metrics, stderr)
            };
            (
                records.into_iter().map(ItemRecord::Choice).collect(),
                metrics,
            )
        }
        Prepared::Loglikelihood(docs) => {
            let reqs: Vec<LoglikelihoodRequest> = docs
                .iter()
                .map(|d| LoglikelihoodRequest {
                    context: d.context.clone(),
                    continuation: d.continuation.clone(),
                })
                .collect();
            let results = chunked(&reqs, chunk, progress, "loglikelihood", |c| {
                lm.loglikelihood(c)
            })?;
            let records = score::loglikelihood_records(&docs, &results);
            let metrics = score::loglikelihood_metrics(&records, stderr);
            (
                records.into_iter().map(ItemRecord::Loglikelihood).collect(),
                metrics,
            )
        }
        Prepared::Rolling { docs, metrics } => {
            let texts: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
            let results = chunked(&texts, chunk, progress, "loglikelihood_rolling", |c| {
                lm.loglikelihood_rolling(c)
            })?;
            let records = score::rolling_records(&docs, &results);
            let metrics = score::rolling_metrics(&records, metrics);
            (
                records.into_iter().map(ItemRecord::Rolling).collect(),
                metrics,
            )
        }
        Prepared::Generate {
            docs,
            until,
            max_gen_toks,
            sampling,
            repeats,
            filters,
            score,
        } => {
            // Greedy decoding repeats itself: one generation stands for every repeat.
            // Sampling draws each repeat with its own seed.
            let draws = if sampling.is_some() { repeats } else { 1 };
            let reqs: Vec<GenerateRequest> = docs
                .iter()
                .flat_map(|d| {
                    (0..draws).map(move |repeat| GenerateRequest {
                        context: d.context.clone(),
                        until: until.iter().map(|s| s.to_string()).collect(),
                        max_tokens: max_gen_toks,
                        sampling: sampling.map(|s| Sampling {
                            seed: sampling_seed(d.doc_id, repeat),
                            ..s
                        }),
                    })
                })
                .collect();
            let results = chunked(&reqs, chunk, progress, "generate_until", |c| {
                lm.generate_until(c)
            })?;
            let records: Vec<ItemRecord> = docs
                .iter()
                .zip(results.chunks(draws))
                .map(|(doc, generations)| match generations {
                    [one] => score(doc, &vec![one.clone(); repeats.max(1)]),
                    all => score(doc, all),
                })
                .collect();
            let metrics = score::generation_metrics(&records, filters, stderr);
            (records, metrics)
        }
    };
    Ok(TaskResult {
        task: task.to_string(),
        n: items.len(),
        num_fewshot,
        metrics,
        items,
        subtasks,
    })
}

/// One request per choice, in choice order.
fn choice_requests(doc: &ChoiceDoc, mutual_info: bool) -> Vec<LoglikelihoodRequest> {
    let request = |context: &str, continuation: &String| LoglikelihoodRequest {
        context: context.to_string(),
        continuation: continuation.clone(),
    };
    let mut reqs: Vec<LoglikelihoodRequest> = doc
        .continuations
        .iter()
        .enumerate()
        .map(|(i, continuation)| match &doc.context {
            ChoiceContext::Shared(c) => request(c, continuation),
            ChoiceContext::PerChoice(cs) => request(&cs[i], continuation),
        })
        .collect();
    // lm-eval's unconditional requests: every choice after an empty context.
    if mutual_info {
        reqs.extend(doc.continuations.iter().map(|c| request("", c)));
    }
    reqs
}

/// Send `reqs` through `call` in chunks, checking each answer count.
fn chunked<R, O>(
    reqs: &[R],
    chunk: usize,
    progress: &mut dyn FnMut(usize, usize),
    call_name: &'static str,
    mut call: impl FnMut(&[R]) -> Result<Vec<O>, BackendError>,
) -> Result<Vec<O>, EvalError> {
    let mut out = Vec::with_capacity(reqs.len());
    for part in reqs.chunks(chunk) {
        let answers = call(part)?;
        if answers.len() != part.len() {
            return Err(EvalError::BackendCount {
                call: call_name,
                expected: part.len(),
                got: answers.len(),
            });
        }
        out.extend(answers);
        progress(out.len(), reqs.len());
    }
    Ok(out)
}
