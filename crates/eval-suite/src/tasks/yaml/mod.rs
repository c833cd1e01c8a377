//! lm-evaluation-harness task YAML files as tasks: a file is read once ([`config`]), its
//! docs come from local files ([`data`]), its templates render as lm-eval renders them
//! ([`template`]), and it becomes a [`TaskDef`] registered beside the built-in tasks, so
//! everything that runs a task by name runs it.
//!
//! The prompt is lm-eval 0.4.13's `ConfigurableTask.fewshot_context` in plain text:
//! `description + Σ (text + target_delimiter + answer + fewshot_delimiter) + text`, a
//! few-shot doc without an answer adding its text alone; a multiple-choice request
//! continues with `target_delimiter + choice`, a loglikelihood request with the target
//! itself. Few-shot docs come from `fewshot_split`, else the training, validation or test
//! split, drawn by lm-eval's seeded sampler (or `first_n`); when the few-shot split is the
//! evaluated split (lm-eval compares `fewshot_split` with `test_split`), the evaluated doc
//! is left out of its own examples as lm-eval leaves it out.

mod config;
mod data;
mod file;
mod template;

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;

use self::config::{Field, OutputType, TaskConfig};
use self::data::{Doc, read_split};
use self::template::Jinja;
use super::{
    ACC, Chance, ChoiceDoc, ChoiceMetric, Docs, GenerateDoc, Load, LoglikelihoodDoc, RollingDoc,
    TaskDef, limited,
};
use crate::error::EvalError;
use crate::fewshot::{self, Delimiters, Exemplar, Sampler};
use crate::filters::{self, cut_at_stops};
use crate::pytext::char_len;
use crate::records::{FilteredAnswer, FilteredRecord, ItemRecord, NO_FILTER};

/// A task file that was read and registered.
#[derive(Debug, Clone)]
pub struct TaskFile {
    /// Its `task:` name, now usable wherever a task name is.
    pub name: String,
    /// The resolved file (includes merged) as JSON: what the task is, whatever its path.
    pub identity: String,
    /// Keys that were ignored, one line each.
    pub notes: Vec<String>,
}

/// Task files read so far: (identity, entry).
static LOADED: Mutex<Vec<(String, &'static TaskDef)>> = Mutex::new(Vec::new());

/// The task file entry called `name`, if one was read.
pub(super) fn loaded(name: &str) -> Option<&'static TaskDef> {
    let loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    loaded.iter().find(|(_, d)| d.name == name).map(|(_, d)| *d)
}

/// The identity ([`TaskFile::identity`]) of the task file that defines task `name`, if a
/// task file does; `None` for a built-in task.
pub fn task_file_identity(name: &str) -> Option<String> {
    let loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    loaded
        .iter()
        .find(|(_, d)| d.name == name)
        .map(|(id, _)| id.clone())
}

/// Reads the task file at `path` and registers its task under its `task:` name. Reading
/// the same content again is a no-op; another task of that name (built in, or from a file
/// with other content) is an error.
pub fn read_task_file(path: &Path) -> Result<TaskFile, EvalError> {
    let jinja = Jinja::new();
    let config = config::read(path, &jinja)?;
    let file = TaskFile {
        name: config.name.clone(),
        identity: config.resolved.clone(),
        notes: config.notes.clone(),
    };
    let clash = |message: String| EvalError::TaskFile {
        path: path.to_path_buf(),
        line: None,
        message,
    };
    if super::REGISTRY.iter().any(|d| d.name == file.name) {
        return Err(clash(format!(
            "task: {} is a built-in task; give the file's task another name",
            file.name
        )));
    }
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((identity, _)) = loaded.iter().find(|(_, d)| d.name == file.name) {
        if *identity == file.identity {
            return Ok(file);
        }
        return Err(clash(format!(
            "task: {} is already defined by another task file with other settings",
            file.name
        )));
    }
    let def: &'static TaskDef = Box::leak(Box::new(task_def(config, jinja)));
    loaded.push((file.identity.clone(), def));
    Ok(file)
}

/// The registry entry of a task file.
fn task_def(config: TaskConfig, jinja: Jinja) -> TaskDef {
    let name: &'static str = Box::leak(config.name.clone().into_boxed_str());
    let default_shots = config.num_fewshot;
    let choice_metrics: &'static [ChoiceMetric] =
        Box::leak(config.choice_metrics.clone().into_boxed_slice());
    let output_type = config.output_type;
    let task = Arc::new(YamlTask { config, jinja });
    // The headline of a multiple-choice file is its first per-item metric (lm-eval's
    // default list starts with acc); of a loglikelihood file, acc.
    let (chance, headline, docs) = match output_type {
        OutputType::MultipleChoice => {
            let task = Arc::clone(&task);
            let prepare = move |load: &Load| task.choice_docs(load);
            let docs = Docs::MultipleChoice {
                metrics: choice_metrics,
                prepare: Box::leak(Box::new(prepare)),
            };
            let headline = choice_metrics
                .iter()
                .find(|m| m.per_item())
                .map_or(ACC, |m| (m.name(), NO_FILTER));
            (Chance::Uniform, headline, docs)
        }
        OutputType::Loglikelihood => {
            let task = Arc::clone(&task);
            let prepare = move |load: &Load| task.loglikelihood_docs(load);
            let docs = Docs::Loglikelihood {
                prepare: Box::leak(Box::new(prepare)),
            };
            (Chance::Zero, ACC, docs)
        }
        OutputType::LoglikelihoodRolling => {
            let metrics: &'static [&'static str] =
                Box::leak(task.config.rolling_metrics.clone().into_boxed_slice());
            let task = Arc::clone(&task);
            let prepare = move |load: &Load| task.rolling_docs(load);
            let docs = Docs::LoglikelihoodRolling {
                prepare: Box::leak(Box::new(prepare)),
                metrics,
            };
            // Corpus-level metrics: no per-item score, no chance level, never in a median.
            (Chance::Zero, (metrics[0], crate::records::NO_FILTER), docs)
        }
        OutputType::GenerateUntil => {
            let generation = task
                .config
                .generation
                .as_ref()
                .expect("generate_until has settings");
            let until: Vec<&'static str> = generation
                .until
                .iter()
                .map(|s| &*Box::leak(s.clone().into_boxed_str()))
                .collect();
            let filters: Vec<&'static str> = generation
                .pipelines
                .iter()
                .map(|(name, _)| &*Box::leak(name.clone().into_boxed_str()))
                .collect();
            let filters: &'static [&'static str] = Box::leak(filters.into_boxed_slice());
            let (max_gen_toks, sampling, repeats) = (
                generation.max_gen_toks,
                generation.sampling,
                generation.repeats,
            );
            let scorer = Arc::clone(&task);
            let prepare = move |load: &Load| task.generate_docs(load);
            let docs = Docs::GenerateUntil {
                prepare: Box::leak(Box::new(prepare)),
                until: Box::leak(until.into_boxed_slice()),
                max_gen_toks,
                sampling,
                repeats,
                filters,
                score: Box::leak(Box::new(
                    move |doc: &GenerateDoc, generations: &[String]| {
                        scorer.score_generations(doc, generations)
                    },
                )),
            };
            (Chance::Zero, ("exact_match", filters[0]), docs)
        }
    };
    TaskDef {
        name,
        subtasks: &[],
        sources: &[],
        chance,
        headline,
        default_shots,
        fewshot_pool: true,
        docs,
    }
}

struct YamlTask {
    config: TaskConfig,
    jinja: Jinja,
}

/// An evaluated doc with its prompt.
struct Prompted {
    doc: Doc,
    doc_id: usize,
    context: String,
    /// `doc_to_choice`, when the task has choices.
    choices: Option<Vec<String>>,
    target: Json,
}

impl YamlTask {
    fn choice_docs(&self, load: &Load) -> Result<Vec<ChoiceDoc>, EvalError> {
        let delimiter = &self.config.target_delimiter;
        self.prompted(load)?
            .into_iter()
            .map(|p| {
                let choices = p.choices.expect("multiple_choice tasks have choices");
                let gold = gold(&p.doc, &choices, &p.target)?;
                if self.config.choice_metrics.contains(&ChoiceMetric::F1) && choices.len() != 2 {
                    return Err(p.doc.error(format!(
                        "metric f1: lm-eval's f1 is binary (scikit-learn's average='binary'), \
                         but this doc has {} choices",
                        choices.len()
                    )));
                }
                Ok(ChoiceDoc {
                    doc_id: p.doc_id,
                    subject: None,
                    context: crate::records::ChoiceContext::Shared(p.context),
                    continuations: choices.iter().map(|c| format!("{delimiter}{c}")).collect(),
                    choice_chars: choices.iter().map(|c| char_len(c)).collect(),
                    gold,
                })
            })
            .collect()
    }

    fn loglikelihood_docs(&self, load: &Load) -> Result<Vec<LoglikelihoodDoc>, EvalError> {
        self.prompted(load)?
            .into_iter()
            .map(|p| {
                let continuation = match (&p.target, &p.choices) {
                    (Json::String(s), _) => s.clone(),
                    (Json::Number(n), Some(choices)) => index(&p.doc, choices, n)?.1.clone(),
                    (other, _) => {
                        return Err(p.doc.error(format!(
                            "doc_to_target: {other} is not a continuation (a string)"
                        )));
                    }
                };
                Ok(LoglikelihoodDoc {
                    doc_id: p.doc_id,
                    context: p.context,
                    continuation,
                })
            })
            .collect()
    }

    /// The first `limit` docs' `doc_to_target` texts: a rolling request has no prompt.
    fn rolling_docs(&self, load: &Load) -> Result<Vec<RollingDoc>, EvalError> {
        self.eval_docs(load)?
            .into_iter()
            .enumerate()
            .map(|(doc_id, doc)| {
                match self.apply(&doc, "doc_to_target", &self.config.doc_to_target, false)? {
                    Json::String(text) => Ok(RollingDoc { doc_id, text }),
                    other => Err(doc.error(format!("doc_to_target: {other} is not a text"))),
                }
            })
            .collect()
    }

    fn generate_docs(&self, load: &Load) -> Result<Vec<GenerateDoc>, EvalError> {
        self.prompted(load)?
            .into_iter()
            .map(|p| {
                // lm-eval: with choices the target is an index into them; else a list is
                // several references, anything else is compared as its str().
                let references = match (&p.target, &p.choices) {
                    (Json::Number(n), Some(choices)) => vec![index(&p.doc, choices, n)?.1.clone()],
                    (other, Some(_)) => {
                        return Err(p
                            .doc
                            .error(format!("doc_to_target: {other} is not a choice index")));
                    }
                    (Json::String(s), None) => vec![s.clone()],
                    (Json::Number(n), None) => vec![n.to_string()],
                    (Json::Array(items), None) => items
                        .iter()
                        .map(|item| match item {
                            Json::String(s) => Ok(s.clone()),
                            Json::Number(n) => Ok(n.to_string()),
                            other => Err(p
                                .doc
                                .error(format!("doc_to_target: {other} is not a reference"))),
                        })
                        .collect::<Result<_, _>>()?,
                    (other, None) => {
                        return Err(p
                            .doc
                            .error(format!("doc_to_target: {other} is not a reference")));
                    }
                };
                Ok(GenerateDoc {
                    doc_id: p.doc_id,
                    context: p.context,
                    references,
                })
            })
            .collect()
    }

    /// Each filter pipeline's answer and its `exact_match` against any reference.
    fn score_generations(&self, doc: &GenerateDoc, generations: &[String]) -> ItemRecord {
        let generation = self
            .config
            .generation
            .as_ref()
            .expect("generate_until has settings");
        let until: Vec<&str> = generation.until.iter().map(String::as_str).collect();
        let generations: Vec<String> = generations
            .iter()
            .map(|g| cut_at_stops(g, &until).to_string())
            .collect();
        let filtered = generation
            .pipelines
            .iter()
            .map(|(name, steps)| {
                let answer = filters::apply(steps, &generations);
                let hit = doc
                    .references
                    .iter()
                    .any(|r| generation.exact_match.score(&answer, r) == 1.0);
                FilteredAnswer {
                    filter: name.clone(),
                    answer,
                    exact_match: f64::from(u8::from(hit)),
                }
            })
            .collect();
        ItemRecord::Filtered(FilteredRecord {
            doc_id: doc.doc_id,
            context: doc.context.clone(),
            generations,
            references: doc.references.clone(),
            filtered,
        })
    }

    /// The first `limit` docs of the evaluated split: test, else validation (lm-eval's
    /// `eval_docs`).
    fn eval_docs(&self, load: &Load) -> Result<Vec<Doc>, EvalError> {
        let splits = &self.config.splits;
        let split = splits.test.as_ref().or(splits.validation.as_ref());
        let split = split.expect("config::read requires an evaluated split");
        Ok(limited(
            read_split(&self.config.dataset, split, load.data_dir)?,
            load.limit,
        ))
    }

    /// The first `limit` evaluated docs with their contexts, in order.
    fn prompted(&self, load: &Load) -> Result<Vec<Prompted>, EvalError> {
        let splits = &self.config.splits;
        let docs = self.eval_docs(load)?;
        let pool = if load.shots > 0 {
            self.fewshot_pool(load.data_dir)?
        } else {
            Vec::new()
        };
        let exemplars: Vec<Exemplar> = pool
            .iter()
            .map(|doc| self.exemplar(doc))
            .collect::<Result<_, _>>()?;
        // lm-eval passes the evaluated doc to the sampler (to leave it out) when the
        // few-shot split equals the test split, both possibly unset.
        let leave_out = splits.fewshot == splits.test;
        let mut sampler = if self.config.first_n_sampler {
            Sampler::FirstN
        } else {
            Sampler::seeded()
        };
        let delimiters = Delimiters {
            target: &self.config.target_delimiter,
            fewshot: &self.config.fewshot_delimiter,
        };
        docs.into_iter()
            .enumerate()
            .map(|(doc_id, doc)| {
                let (text, choices, target) = self.qa(&doc)?;
                let picked = self
                    .pick(&mut sampler, &pool, load.shots, leave_out.then_some(&doc))
                    .map_err(|m| super::fewshot_error(load.task, m))?;
                let shown: Vec<&Exemplar> = picked.iter().map(|&i| &exemplars[i]).collect();
                let description = self.description(&doc)?;
                Ok(Prompted {
                    context: fewshot::context(&description, &shown, &text, &delimiters),
                    doc,
                    doc_id,
                    choices,
                    target,
                })
            })
            .collect()
    }

    /// `fewshot_docs()`: the few-shot split, else training, validation or test.
    fn fewshot_pool(&self, data_dir: &Path) -> Result<Vec<Doc>, EvalError> {
        let s = &self.config.splits;
        let split = [&s.fewshot, &s.training, &s.validation, &s.test]
            .into_iter()
            .find_map(|s| s.as_ref())
            .expect("an evaluated split exists");
        read_split(&self.config.dataset, split, data_dir)
    }

    /// Indices of the few-shot docs for one evaluated doc: `sampler.sample(n, eval_doc)`.
    fn pick(
        &self,
        sampler: &mut Sampler,
        pool: &[Doc],
        n: usize,
        leave_out: Option<&Doc>,
    ) -> Result<Vec<usize>, String> {
        let Some(eval) = leave_out.filter(|_| n > 0) else {
            return sampler.pick(pool.len(), n);
        };
        let others = |picked: Vec<usize>| -> Vec<usize> {
            picked
                .into_iter()
                .filter(|&i| pool[i].value != eval.value)
                .collect()
        };
        match sampler {
            Sampler::FirstN => {
                let rest = others((0..pool.len()).collect());
                if rest.len() < n {
                    return Err(format!(
                        "{n} few-shot examples requested but only {} are available",
                        rest.len()
                    ));
                }
                Ok(rest[..n].to_vec())
            }
            Sampler::Random(_) => {
                // `rm_eval_doc(eval_doc, rnd.sample(pool, n + 1), n)`, and if copies of
                // the evaluated doc left fewer than n, a fresh draw from the others.
                let mut picked = others(sampler.pick(pool.len(), n + 1)?);
                picked.truncate(n);
                if picked.len() < n {
                    let rest = others((0..pool.len()).collect());
                    let again = sampler.pick(rest.len(), n)?;
                    picked = again.into_iter().map(|i| rest[i]).collect();
                }
                Ok(picked)
            }
        }
    }

    /// A few-shot doc's text and answer (`build_qa_turn`).
    fn exemplar(&self, doc: &Doc) -> Result<Exemplar, EvalError> {
        let (text, choices, target) = self.qa(doc)?;
        let answer = match (&target, &choices) {
            (Json::Null, _) => String::new(),
            (Json::String(s), _) => s.clone(),
            (Json::Number(n), Some(choices)) => index(doc, choices, n)?.1.clone(),
            (Json::Array(items), _) => match items.first() {
                Some(Json::String(s)) => s.clone(),
                _ => {
                    return Err(doc.error("doc_to_target: the first target is not a string".into()));
                }
            },
            (other, _) => return Err(doc.error(format!("doc_to_target: {other} is not an answer"))),
        };
        Ok(Exemplar {
            text,
            target: answer,
        })
    }

    /// A doc's `doc_to_text` (a string: one context per choice is not supported),
    /// `doc_to_choice` (when the task has choices) and `doc_to_target`.
    fn qa(&self, doc: &Doc) -> Result<(String, Option<Vec<String>>, Json), EvalError> {
        let choices = match &self.config.doc_to_choice {
            Some(field) => Some(self.choices(doc, field)?),
            None => None,
        };
        let has_choices = choices.is_some();
        let text = match self.apply(doc, "doc_to_text", &self.config.doc_to_text, has_choices)? {
            Json::String(s) => s,
            other => {
                return Err(doc.error(format!(
                    "doc_to_text: {other} is not a string (one context per choice is not supported)"
                )));
            }
        };
        let target = self.apply(
            doc,
            "doc_to_target",
            &self.config.doc_to_target,
            has_choices,
        )?;
        Ok((text, choices, target))
    }

    /// `resolve_field(doc, description)`.
    fn description(&self, doc: &Doc) -> Result<String, EvalError> {
        let description = &self.config.description;
        if description.is_empty() {
            return Ok(String::new());
        }
        match doc.value.get(description) {
            Some(Json::String(s)) => Ok(s.clone()),
            Some(other) => Ok(other.to_string()),
            None => self
                .jinja
                .render(description, &doc.value)
                .map_err(|e| doc.error(format!("description: {e}"))),
        }
    }

    /// `doc_to_text` / `doc_to_target` with lm-eval's conversions: a doc field by name,
    /// else the rendered template; a digit string becomes an int when the task has
    /// choices, and a target rendered as `[...]` becomes a list.
    fn apply(
        &self,
        doc: &Doc,
        key: &str,
        field: &Field,
        has_choices: bool,
    ) -> Result<Json, EvalError> {
        match field {
            Field::Unset => Err(doc.error(format!("{key}: not set in the task file"))),
            Field::Int(i) => Ok(Json::from(*i)),
            Field::List(items) => Ok(Json::Array(items.clone())),
            Field::Text(name) if doc.value.get(name).is_some() => Ok(doc.value[name].clone()),
            Field::Text(template) => {
                let text = self
                    .jinja
                    .render(template, &doc.value)
                    .map_err(|e| doc.error(format!("{key}: {e}")))?;
                if has_choices && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                    return text
                        .parse::<i64>()
                        .map(Json::from)
                        .map_err(|e| doc.error(format!("{key}: {text:?}: {e}")));
                }
                if key == "doc_to_target"
                    && text.len() >= 2
                    && text.starts_with('[')
                    && text.ends_with(']')
                {
                    return match self.jinja.evaluate(template, &doc.value) {
                        Some(Ok(value @ Json::Array(_))) => Ok(value),
                        _ => Err(doc.error(format!(
                            "{key}: renders as a list ({text}); only a template that is one {{{{ expression }}}} can give a list"
                        ))),
                    };
                }
                Ok(Json::String(text))
            }
        }
    }

    /// `doc_to_choice`: a list of strings.
    fn choices(&self, doc: &Doc, field: &Field) -> Result<Vec<String>, EvalError> {
        let value = match field {
            Field::List(items) => Json::Array(items.clone()),
            Field::Text(name) if doc.value.get(name).is_some() => doc.value[name].clone(),
            Field::Text(template) => match self.jinja.evaluate(template, &doc.value) {
                Some(value) => value.map_err(|e| doc.error(format!("doc_to_choice: {e}")))?,
                None => {
                    return Err(doc.error(
                        "doc_to_choice: a template must be one {{ expression }} giving the list"
                            .into(),
                    ));
                }
            },
            Field::Int(_) | Field::Unset => {
                return Err(doc.error("doc_to_choice: expected a list of choices".into()));
            }
        };
        let Json::Array(items) = value else {
            return Err(doc.error(format!("doc_to_choice: {value} is not a list")));
        };
        items
            .into_iter()
            .map(|item| match item {
                Json::String(s) => Ok(s),
                other => Err(doc.error(format!("doc_to_choice: choice {other} is not a string"))),
            })
            .collect()
    }
}

/// `choices[n]` for an integer target, with its index.
fn index<'a>(
    doc: &Doc,
    choices: &'a [String],
    n: &serde_json::Number,
) -> Result<(usize, &'a String), EvalError> {
    n.as_u64()
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| choices.get(i).map(|c| (i, c)))
        .ok_or_else(|| {
            doc.error(format!(
                "doc_to_target: {n} is not a choice index (0..{})",
                choices.len()
            ))
        })
}

/// The gold choice: an index, or a choice's text. lm-eval scores a doc whose target is
/// not among its choices as wrong (with a warning); painters refuses it.
fn gold(doc: &Doc, choices: &[String], target: &Json) -> Result<usize, EvalError> {
    match target {
        Json::Number(n) => Ok(index(doc, choices, n)?.0),
        Json::String(s) => choices
            .iter()
            .position(|c| c == s)
            .ok_or_else(|| doc.error(format!("doc_to_target: {s:?} is not one of the choices"))),
        Json::Array(_) => {
            Err(doc.error("doc_to_target: several gold answers are not supported yet".into()))
        }
        other => Err(doc.error(format!("doc_to_target: {other} is not a choice"))),
    }
}
