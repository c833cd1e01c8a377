//! Benchmarks scored exactly as lm-evaluation-harness 0.4.13 scores them, item for item,
//! over any [`LanguageModel`] backend.
//!
//! Tasks (the [`registry`]: ARC, HellaSwag, GSM8K, WinoGrande, PIQA, LAMBADA, BoolQ,
//! MMLU and its subjects `mmlu_<subject>`, OpenBookQA) read the canonical benchmark files
//! from a data directory (`--data` or `$PAINTERS_DATA`, laid out as `painters data fetch`
//! writes it), build lm-eval's exact prompt strings, send every request to the backend in
//! chunks, and return per-item records and lm-eval's aggregated metrics with their
//! stderrs. Each task's registry entry ([`TaskDef`]) also says where its files officially
//! come from ([`source`]), what guessing scores and which metric judges it. An lm-eval task
//! YAML file becomes a task too ([`read_task_file`]). [`stats`] adds
//! the paper's normalised scores and paired comparisons.
//!
//! This crate never sees a token or a tensor, downloads nothing, and writes no files.

mod data;
pub mod error;
mod evaluate;
mod fewshot;
mod filters;
pub mod lm;
pub mod metrics;
mod pytext;
pub mod records;
mod score;
pub mod source;
pub mod stats;
mod tasks;

pub use data::read_texts;
pub use error::{DataError, DataProblem, EvalError, StatsError};
pub use evaluate::{EvalOptions, check_data, check_task, evaluate};
pub use lm::{
    BackendError, GenerateRequest, LanguageModel, LoglikelihoodRequest, Sampling, sampling_seed,
};
pub use records::{
    ChoiceContext, ChoiceRecord, FilteredAnswer, FilteredRecord, GenerationRecord, ItemRecord,
    LoglikelihoodRecord, MetricValue, RollingRecord, TaskResult,
};
pub use tasks::{
    Chance, TaskDef, TaskFile, lambada_passages, read_task_file, registry, task, task_file_identity,
};
