//! The subset of lm-eval 0.4.13's `TaskConfig` that painters runs, read from a merged task
//! file with lm-eval's defaults, every key checked: a supported key is typed here, a key
//! that does not change scores is ignored (with a note for `tag`/`group`), and anything
//! else — Python (`!function`, `process_docs`, `process_results`), an unknown key, an
//! output type or metric not ported yet — is refused at its `FILE:LINE: key:`.

use std::path::Path;

use super::file::{Node, Value, read_merged};
use super::template::Jinja;
use crate::error::EvalError;
use crate::filters::{INVALID, RegexFilter, Step};
use crate::lm::Sampling;
use crate::metrics::ExactMatch;
use crate::tasks::ChoiceMetric;

/// A typed task file.
#[derive(Debug)]
pub(crate) struct TaskConfig {
    pub name: String,
    pub output_type: OutputType,
    pub dataset: Dataset,
    pub splits: Splits,
    pub doc_to_text: Field,
    pub doc_to_target: Field,
    pub doc_to_choice: Option<Field>,
    /// A template (or a doc field) put before everything else.
    pub description: String,
    pub target_delimiter: String,
    pub fewshot_delimiter: String,
    pub num_fewshot: usize,
    pub first_n_sampler: bool,
    /// A multiple-choice task's metrics, in the order reported.
    pub choice_metrics: Vec<ChoiceMetric>,
    /// How a generate_until task generates and scores.
    pub generation: Option<Generation>,
    /// A loglikelihood_rolling task's metrics, in the file's order.
    pub rolling_metrics: Vec<&'static str>,
    /// What was ignored, for the user.
    pub notes: Vec<String>,
    /// The merged file as JSON: the task's identity (content, not path).
    pub resolved: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputType {
    MultipleChoice,
    Loglikelihood,
    LoglikelihoodRolling,
    GenerateUntil,
}

/// `generation_kwargs`, `repeats`, `filter_list` and the `exact_match` settings.
#[derive(Debug)]
pub(crate) struct Generation {
    pub until: Vec<String>,
    pub max_gen_toks: usize,
    /// `None`: greedy.
    pub sampling: Option<Sampling>,
    pub repeats: usize,
    /// (name, steps) per filter pipeline, each ending in `take_first`.
    pub pipelines: Vec<(String, Vec<Step>)>,
    pub exact_match: ExactMatch,
}

/// Where the docs come from.
#[derive(Debug)]
pub(crate) enum Dataset {
    /// `dataset_path: json` / `csv` with `dataset_kwargs.data_files`: split -> files.
    Files {
        format: FileFormat,
        splits: Vec<(String, Vec<String>)>,
        at: Node,
    },
    /// A Hugging Face hub name, looked up under the data directory.
    Hub {
        path: String,
        name: Option<String>,
        at: Node,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileFormat {
    Json,
    Csv,
}

#[derive(Debug, Default)]
pub(crate) struct Splits {
    pub training: Option<String>,
    pub validation: Option<String>,
    pub test: Option<String>,
    /// `fewshot_split` (or `fewshot_config.split`).
    pub fewshot: Option<String>,
}

/// `doc_to_text` / `doc_to_target` / `doc_to_choice`.
#[derive(Debug, Clone)]
pub(crate) enum Field {
    /// A doc field's name, or else a Jinja template (lm-eval decides per dataset).
    Text(String),
    Int(i64),
    /// A YAML list (or a mapping's values), used as it is.
    List(Vec<serde_json::Value>),
    /// Unset (`None` in lm-eval).
    Unset,
}

/// Keys that do not change what is scored.
const IGNORED: &[&str] = &[
    "task_alias",
    "metadata",
    "should_decontaminate",
    "doc_to_decontamination_query",
    "unsafe_code",
    "dataset_name",
];

/// Reads `path` (with its includes) as a task.
pub(crate) fn read(path: &Path, jinja: &Jinja) -> Result<TaskConfig, EvalError> {
    let entries = read_merged(path)?;
    let resolved = serde_json::Value::Object(
        entries
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
    .to_string();
    let mut keys = Keys {
        entries,
        notes: Vec::new(),
    };
    let whole_file = Node {
        file: path.into(),
        line: 1,
        value: Value::Null,
    };
    let name = match keys.take("task") {
        Some(node) => string(&node, "task")?,
        None => return Err(whole_file.error("task: every task file needs a task name")),
    };
    for key in ["tag", "group"] {
        if keys.take(key).is_some() {
            keys.notes.push(format!(
                "{}: {key} ignored: painters runs the task itself",
                path.display()
            ));
        }
    }
    // lm-eval's default output type is generate_until.
    let output_type = match keys.take("output_type") {
        None => OutputType::GenerateUntil,
        Some(node) => match string(&node, "output_type")?.as_str() {
            "multiple_choice" => OutputType::MultipleChoice,
            "loglikelihood" => OutputType::Loglikelihood,
            "generate_until" => OutputType::GenerateUntil,
            "loglikelihood_rolling" => OutputType::LoglikelihoodRolling,
            other => {
                return Err(node.error(format!(
                    "output_type: unknown {other:?} (valid: multiple_choice, loglikelihood, loglikelihood_rolling, generate_until)"
                )));
            }
        },
    };
    let dataset_name = keys.peek("dataset_name").and_then(|n| match &n.value {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    });
    let dataset = dataset(&mut keys, dataset_name, &whole_file)?;
    let mut splits = Splits {
        training: keys.optional_string("training_split")?,
        validation: keys.optional_string("validation_split")?,
        test: keys.optional_string("test_split")?,
        fewshot: keys.optional_string("fewshot_split")?,
    };
    let mut first_n_sampler = false;
    if let Some(node) = keys.take("fewshot_config") {
        for (key, value) in map(&node, "fewshot_config")? {
            match key.as_str() {
                "sampler" => match string(value, "fewshot_config.sampler")?.as_str() {
                    "default" => first_n_sampler = false,
                    "first_n" => first_n_sampler = true,
                    other => {
                        return Err(value.error(format!(
                            "fewshot_config.sampler: unknown {other:?} (valid: default, first_n)"
                        )));
                    }
                },
                "split" => splits.fewshot = Some(string(value, "fewshot_config.split")?),
                other => {
                    return Err(value.error(format!(
                        "fewshot_config.{other}: not supported (supported: sampler, split)"
                    )));
                }
            }
        }
    }
    if splits.test.is_none() && splits.validation.is_none() {
        return Err(whole_file
            .error("test_split / validation_split: one is needed, the split that is evaluated"));
    }
    let doc_to_text = keys.field("doc_to_text", jinja)?;
    let doc_to_target = keys.field("doc_to_target", jinja)?;
    let doc_to_choice = match keys.field("doc_to_choice", jinja)? {
        Field::Unset => None,
        field => Some(field),
    };
    if output_type == OutputType::MultipleChoice && doc_to_choice.is_none() {
        return Err(whole_file.error("doc_to_choice: multiple_choice needs the choices"));
    }
    let description = match keys.take("description") {
        None => String::new(),
        Some(node) => {
            let text = string(&node, "description")?;
            jinja
                .check(&text)
                .map_err(|e| node.error(format!("description: {e}")))?;
            text
        }
    };
    let target_delimiter = keys
        .optional_string("target_delimiter")?
        .unwrap_or_else(|| " ".to_string());
    let fewshot_delimiter = keys
        .optional_string("fewshot_delimiter")?
        .unwrap_or_else(|| "\n\n".to_string());
    let num_fewshot = match keys.take("num_fewshot") {
        None => 0,
        Some(node) => match node.value {
            Value::Null => 0,
            Value::Int(n) if n >= 0 => n as usize,
            _ => return Err(node.error("num_fewshot: expected a count >= 0")),
        },
    };
    let (mut choice_metrics, mut generation, mut rolling_metrics) = (Vec::new(), None, Vec::new());
    match output_type {
        OutputType::GenerateUntil => {
            generation = Some(self::generation(&mut keys, &fewshot_delimiter)?)
        }
        OutputType::LoglikelihoodRolling => rolling_metrics = rolling(&mut keys)?,
        OutputType::MultipleChoice => choice_metrics = choice(&mut keys)?,
        OutputType::Loglikelihood => loglikelihood_metrics(&mut keys)?,
    }
    if output_type != OutputType::GenerateUntil
        && let Some(node) = keys.take("repeats")
        && !matches!(node.value, Value::Int(1))
    {
        return Err(node.error("repeats: only 1 outside generate_until"));
    }
    for key in IGNORED {
        keys.take(key);
    }
    if let Some((key, node)) = keys.entries.first() {
        return Err(node.error(match key.as_str() {
            "process_docs" | "process_results" | "custom_dataset" => {
                format!("{key}: Python code is not supported (painters runs no Python)")
            }
            "doc_to_image" | "doc_to_audio" => format!("{key}: multimodal tasks are not supported"),
            "use_prompt" => format!("{key}: promptsource prompts are not supported"),
            "generation_kwargs" | "filter_list" => {
                format!("{key}: only for output_type: generate_until")
            }
            "gen_prefix" => format!("{key}: not supported yet"),
            _ => format!("{key}: unknown or unsupported task setting"),
        }));
    }
    Ok(TaskConfig {
        name,
        output_type,
        dataset,
        splits,
        doc_to_text,
        doc_to_target,
        doc_to_choice,
        description,
        target_delimiter,
        fewshot_delimiter,
        num_fewshot,
        first_n_sampler,
        choice_metrics,
        generation,
        rolling_metrics,
        notes: keys.notes,
        resolved,
    })
}

/// The entries not read yet.
struct Keys {
    entries: Vec<(String, Node)>,
    notes: Vec<String>,
}

impl Keys {
    /// Removes and returns `key`'s node.
    fn take(&mut self, key: &str) -> Option<Node> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(at).1)
    }

    fn peek(&self, key: &str) -> Option<&Node> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    fn optional_string(&mut self, key: &str) -> Result<Option<String>, EvalError> {
        match self.take(key) {
            None => Ok(None),
            Some(node) if matches!(node.value, Value::Null) => Ok(None),
            Some(node) => string(&node, key).map(Some),
        }
    }

    fn field(&mut self, key: &str, jinja: &Jinja) -> Result<Field, EvalError> {
        let Some(node) = self.take(key) else {
            return Ok(Field::Unset);
        };
        let field = match &node.value {
            Value::Null => Field::Unset,
            Value::Str(text) => {
                jinja
                    .check(text)
                    .map_err(|e| node.error(format!("{key}: {e}")))?;
                Field::Text(text.clone())
            }
            Value::Int(i) => Field::Int(*i),
            Value::Seq(items) => Field::List(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) if key == "doc_to_choice" => {
                Field::List(entries.iter().map(|(_, v)| v.to_json()).collect())
            }
            Value::Function(name) => {
                return Err(node.error(format!(
                    "{key}: !function {name} is Python code, which painters does not run; write it as a Jinja template"
                )));
            }
            _ => {
                return Err(node.error(format!(
                    "{key}: expected a field name, a Jinja template, an integer or a list"
                )));
            }
        };
        Ok(field)
    }
}

fn string(node: &Node, key: &str) -> Result<String, EvalError> {
    match &node.value {
        Value::Str(s) => Ok(s.clone()),
        Value::Function(name) => Err(node.error(format!(
            "{key}: !function {name} is Python code, which painters does not run"
        ))),
        _ => Err(node.error(format!("{key}: expected a string"))),
    }
}

fn map<'a>(node: &'a Node, key: &str) -> Result<&'a [(String, Node)], EvalError> {
    match &node.value {
        Value::Map(entries) => Ok(entries),
        _ => Err(node.error(format!("{key}: expected a mapping"))),
    }
}

/// `dataset_path`, `dataset_name` and `dataset_kwargs`.
fn dataset(keys: &mut Keys, name: Option<String>, file: &Node) -> Result<Dataset, EvalError> {
    let Some(node) = keys.take("dataset_path") else {
        return Err(file.error("dataset_path: every task file needs its data"));
    };
    let path = string(&node, "dataset_path")?;
    let kwargs = keys.take("dataset_kwargs");
    let mut data_files = None;
    if let Some(kwargs) = &kwargs {
        for (key, value) in map(kwargs, "dataset_kwargs")? {
            match key.as_str() {
                "data_files" => data_files = Some(value),
                "trust_remote_code" => {}
                other => {
                    return Err(value.error(format!(
                        "dataset_kwargs.{other}: not supported (supported: data_files)"
                    )));
                }
            }
        }
    }
    let format = match path.as_str() {
        "json" => FileFormat::Json,
        "csv" => FileFormat::Csv,
        "parquet" | "arrow" | "text" | "pandas" => {
            return Err(node.error(format!(
                "dataset_path: {path} files are not supported (supported: json, csv)"
            )));
        }
        _ => {
            if let Some(files) = data_files {
                return Err(
                    files.error("dataset_kwargs.data_files: only with dataset_path: json or csv")
                );
            }
            return Ok(Dataset::Hub {
                path,
                name,
                at: node,
            });
        }
    };
    let Some(files) = data_files else {
        return Err(node.error(format!(
            "dataset_path: {path} needs dataset_kwargs.data_files (a file, or split: file)"
        )));
    };
    let list = |node: &Node| -> Result<Vec<String>, EvalError> {
        match &node.value {
            Value::Str(s) => Ok(vec![s.clone()]),
            Value::Seq(items) => items
                .iter()
                .map(|i| string(i, "dataset_kwargs.data_files"))
                .collect(),
            _ => Err(node.error("dataset_kwargs.data_files: expected a path or a list of paths")),
        }
    };
    // As Hugging Face datasets: files given without splits are the train split.
    let splits = match &files.value {
        Value::Map(entries) => entries
            .iter()
            .map(|(split, node)| Ok((split.clone(), list(node)?)))
            .collect::<Result<_, EvalError>>()?,
        _ => vec![("train".to_string(), list(files)?)],
    };
    Ok(Dataset::Files {
        format,
        splits,
        at: node,
    })
}

/// A multiple-choice `metric_list`: any of acc, acc_norm, acc_mutual_info, f1 and mcc,
/// each once; lm-eval's default (no list) is acc and acc_norm.
fn choice(keys: &mut Keys) -> Result<Vec<ChoiceMetric>, EvalError> {
    let Some(node) = keys.take("metric_list") else {
        return Ok(vec![ChoiceMetric::Acc, ChoiceMetric::AccNorm]);
    };
    let mut metrics = Vec::new();
    for (name, item) in metric_list(&node)? {
        let Some(metric) = ChoiceMetric::ALL.into_iter().find(|m| m.name() == name) else {
            let names: Vec<&str> = ChoiceMetric::ALL.iter().map(|m| m.name()).collect();
            return Err(item.error(format!(
                "metric_list: {name} is not supported for multiple_choice (supported: {})",
                names.join(", ")
            )));
        };
        if metrics.contains(&metric) {
            return Err(item.error(format!("metric_list: {name} is listed twice")));
        }
        plain_metric(item, &name, metric.aggregation())?;
        metrics.push(metric);
    }
    if !metrics.iter().any(|m| m.per_item()) {
        keys.notes.push(
            "metric_list: acc is reported too: painters judges a task by a per-item score, \
             which f1 and mcc lack"
                .to_string(),
        );
        metrics.push(ChoiceMetric::Acc);
    }
    Ok(metrics)
}

/// A loglikelihood `metric_list`: painters reports lm-eval's default pair, perplexity and
/// acc, so only a list that means the same is accepted.
fn loglikelihood_metrics(keys: &mut Keys) -> Result<(), EvalError> {
    let Some(node) = keys.take("metric_list") else {
        return Ok(());
    };
    let mut names = Vec::new();
    for (name, item) in metric_list(&node)? {
        let aggregation = if name == "perplexity" {
            "perplexity"
        } else {
            "mean"
        };
        plain_metric(item, &name, aggregation)?;
        names.push(name);
    }
    if names != ["perplexity", "acc"] {
        return Err(node.error(format!(
            "metric_list: [{}] is not supported; painters reports [perplexity, acc]",
            names.join(", ")
        )));
    }
    Ok(())
}

/// lm-eval's `HFLM` default `max_gen_toks`.
const MAX_GEN_TOKS: usize = 256;

fn count(node: &Node, key: &str, min: i64) -> Result<usize, EvalError> {
    match node.value {
        Value::Int(n) if n >= min => Ok(n as usize),
        _ => Err(node.error(format!("{key}: expected an integer >= {min}"))),
    }
}

fn flag(node: &Node, key: &str) -> Result<bool, EvalError> {
    match node.value {
        Value::Bool(b) => Ok(b),
        _ => Err(node.error(format!("{key}: expected true or false"))),
    }
}

/// A string or a list of strings.
fn strings(node: &Node, key: &str) -> Result<Vec<String>, EvalError> {
    match &node.value {
        Value::Str(s) => Ok(vec![s.clone()]),
        Value::Seq(items) => items.iter().map(|i| string(i, key)).collect(),
        _ => Err(node.error(format!("{key}: expected a string or a list of strings"))),
    }
}

/// A generate_until task's `generation_kwargs`, `repeats`, `filter_list` and `metric_list`.
fn generation(keys: &mut Keys, fewshot_delimiter: &str) -> Result<Generation, EvalError> {
    // Without `until`, lm-eval stops at the few-shot delimiter.
    let mut until = vec![fewshot_delimiter.to_string()];
    let mut max_gen_toks = MAX_GEN_TOKS;
    let mut sampling = None;
    if let Some(node) = keys.take("generation_kwargs") {
        let entries = map(&node, "generation_kwargs")?;
        let mut settings: Vec<(&str, &Node)> = Vec::new();
        for (key, value) in entries {
            let at = format!("generation_kwargs.{key}");
            match key.as_str() {
                "until" => until = strings(value, &at)?,
                "max_gen_toks" => max_gen_toks = count(value, &at, 1)?,
                "do_sample" | "temperature" | "top_k" | "top_p" => {
                    settings.push((key.as_str(), value))
                }
                _ => {
                    return Err(value.error(format!(
                        "{at}: not supported (supported: until, max_gen_toks, do_sample, temperature, top_k, top_p)"
                    )));
                }
            }
        }
        sampling = sampling_settings(&settings)?;
    }
    let repeats = match keys.take("repeats") {
        Some(node) => count(&node, "repeats", 1)?,
        None => 1,
    };
    let pipelines = match keys.take("filter_list") {
        None => vec![("none".to_string(), vec![Step::TakeFirst])],
        Some(node) => {
            let Value::Seq(items) = &node.value else {
                return Err(node.error("filter_list: expected a list of {name, filter} entries"));
            };
            items.iter().map(pipeline).collect::<Result<_, _>>()?
        }
    };
    let exact_match = generation_metrics(keys)?;
    Ok(Generation {
        until,
        max_gen_toks,
        sampling,
        repeats,
        pipelines,
        exact_match,
    })
}

/// Transformers' `GenerationConfig` defaults for what a sampling file does not set
/// (painters does not read a checkpoint's own generation_config.json).
const DEFAULT_SAMPLING: Sampling = Sampling {
    temperature: 1.0,
    top_k: 50,
    top_p: 1.0,
    seed: 0,
};

/// `do_sample`, `temperature`, `top_k` and `top_p` as lm-eval passes them to transformers:
/// `None` (greedy) unless `do_sample: true`; without it only `temperature: 0` (lm-eval's
/// explicit greedy) is accepted, since lm-eval would leave the choice to the checkpoint.
fn sampling_settings(settings: &[(&str, &Node)]) -> Result<Option<Sampling>, EvalError> {
    let number = |node: &Node, key: &str| match node.value {
        Value::Int(n) => Ok(n as f64),
        Value::Float(x) => Ok(x),
        _ => Err(node.error(format!("generation_kwargs.{key}: expected a number"))),
    };
    let do_sample = match settings.iter().find(|(k, _)| *k == "do_sample") {
        Some((key, node)) => flag(node, &format!("generation_kwargs.{key}"))?,
        None => false,
    };
    let mut sampling = DEFAULT_SAMPLING;
    for &(key, node) in settings {
        let at = format!("generation_kwargs.{key}");
        match key {
            "do_sample" => {}
            "temperature" if !do_sample && number(node, key)? == 0.0 => {}
            _ if !do_sample => {
                return Err(node.error(format!(
                    "{at}: only with do_sample: true (without it lm-eval leaves greedy or \
                     sampled decoding to the checkpoint's generation config)"
                )));
            }
            "temperature" => match number(node, key)? {
                t if t > 0.0 && t.is_finite() => sampling.temperature = t,
                _ => {
                    return Err(node.error(format!(
                        "{at}: must be > 0 with do_sample: true (for greedy decoding set do_sample: false)"
                    )));
                }
            },
            "top_k" => sampling.top_k = count(node, &at, 0)?,
            _ => match number(node, key)? {
                p if p > 0.0 && p <= 1.0 => sampling.top_p = p,
                _ => return Err(node.error(format!("{at}: must be in (0, 1]"))),
            },
        }
    }
    Ok(do_sample.then_some(sampling))
}

/// One `filter_list` entry: `{name, filter: [{function, ...}, ...]}`.
fn pipeline(node: &Node) -> Result<(String, Vec<Step>), EvalError> {
    let mut name = None;
    let mut steps = Vec::new();
    let mut last = node;
    for (key, value) in map(node, "filter_list[]")? {
        match key.as_str() {
            "name" => name = Some(string(value, "filter_list[].name")?),
            "filter" => {
                let Value::Seq(items) = &value.value else {
                    return Err(
                        value.error("filter_list[].filter: expected a list of {function: ...}")
                    );
                };
                for item in items {
                    steps.push(step(item)?);
                    last = item;
                }
            }
            other => {
                return Err(value.error(format!(
                    "filter_list[].{other}: not supported (supported: name, filter)"
                )));
            }
        }
    }
    let Some(name) = name else {
        return Err(node.error("filter_list[]: every pipeline needs a name"));
    };
    if !matches!(steps.last(), Some(Step::TakeFirst)) {
        return Err(last.error(format!(
            "filter_list[{name}]: a pipeline must end with take_first, which gives the one answer that is scored"
        )));
    }
    Ok((name, steps))
}

/// One filter step.
fn step(node: &Node) -> Result<Step, EvalError> {
    let entries = map(node, "filter_list[].filter[]")?;
    let Some((_, function)) = entries.iter().find(|(k, _)| k == "function") else {
        return Err(node.error("filter_list[].filter[]: every step needs a function"));
    };
    let function = string(function, "filter_list[].filter[].function")?;
    let (mut pattern, mut group_select, mut fallback, mut k) = (
        r"#### (\-?[0-9\.\,]+)".to_string(),
        0,
        INVALID.to_string(),
        None,
    );
    let allowed: &[&str] = match function.as_str() {
        "regex" => &["regex_pattern", "group_select", "fallback"],
        "take_first_k" => &["k"],
        _ => &[],
    };
    for (key, value) in entries {
        let at = format!("filter_list[].filter[].{key}");
        match key.as_str() {
            "function" => {}
            "regex_pattern" if allowed.contains(&"regex_pattern") => pattern = string(value, &at)?,
            "group_select" if allowed.contains(&"group_select") => match value.value {
                Value::Int(g) => group_select = g,
                _ => return Err(value.error(format!("{at}: expected an integer"))),
            },
            "fallback" if allowed.contains(&"fallback") => fallback = string(value, &at)?,
            "k" if allowed.contains(&"k") => k = Some(count(value, &at, 1)?),
            _ => return Err(value.error(format!("{at}: not an argument of {function}"))),
        }
    }
    Ok(match function.as_str() {
        "regex" => {
            if pattern.ends_with('$') && !pattern.ends_with("\\$") {
                return Err(node.error(
                    "regex_pattern: a trailing $ is not supported (Python's also matches before a final newline)",
                ));
            }
            let regex = regex::Regex::new(&pattern).map_err(|e| {
                node.error(format!("regex_pattern: {pattern:?} is not supported: {e}"))
            })?;
            Step::Regex(RegexFilter {
                regex,
                group_select,
                fallback,
            })
        }
        "take_first" => Step::TakeFirst,
        "take_first_k" => match k {
            Some(k) => Step::TakeFirstK(k),
            None => return Err(node.error("take_first_k: needs k")),
        },
        "majority_vote" => Step::MajorityVote,
        "remove_whitespace" => Step::RemoveWhitespace,
        "lowercase" => Step::Lowercase,
        "uppercase" => Step::Uppercase,
        other => {
            return Err(node.error(format!(
                "filter function {other:?} is not supported (supported: regex, take_first, take_first_k, majority_vote, remove_whitespace, lowercase, uppercase)"
            )));
        }
    })
}

/// A generate_until task's `metric_list`: `exact_match` (lm-eval's default) with its
/// options.
fn generation_metrics(keys: &mut Keys) -> Result<ExactMatch, EvalError> {
    let Some(node) = keys.take("metric_list") else {
        return Ok(ExactMatch::default());
    };
    let items = match &node.value {
        Value::Seq(items) if items.len() == 1 => items,
        _ => {
            return Err(
                node.error("metric_list: painters reports [exact_match] for generate_until")
            );
        }
    };
    let entries = map(&items[0], "metric_list[]")?;
    let (mut regexes, mut ignore_case, mut ignore_punctuation, mut ignore_numbers) =
        (Vec::new(), false, false, false);
    for (key, value) in entries {
        let at = format!("metric_list[].{key}");
        match (key.as_str(), &value.value) {
            ("metric", Value::Str(m)) if m == "exact_match" => {}
            ("metric", _) => {
                return Err(value.error(format!(
                    "{at}: painters reports exact_match for generate_until"
                )));
            }
            ("aggregation", Value::Str(a)) if a == "mean" => {}
            ("higher_is_better", _) => {}
            ("ignore_case", _) => ignore_case = flag(value, &at)?,
            ("ignore_punctuation", _) => ignore_punctuation = flag(value, &at)?,
            ("ignore_numbers", _) => ignore_numbers = flag(value, &at)?,
            ("regexes_to_ignore", _) => regexes = strings(value, &at)?,
            _ => {
                return Err(value.error(format!(
                    "{at}: not supported for exact_match (supported: aggregation: mean, higher_is_better, ignore_case, ignore_punctuation, ignore_numbers, regexes_to_ignore)"
                )));
            }
        }
    }
    let patterns: Vec<&str> = regexes.iter().map(String::as_str).collect();
    ExactMatch::new(&patterns, ignore_case, ignore_punctuation, ignore_numbers)
        .map_err(|e| items[0].error(format!("metric_list[].regexes_to_ignore: {e}")))
}

/// A loglikelihood_rolling task's `metric_list`: any of lm-eval's three (its default: all,
/// in this order), each with its own aggregation.
fn rolling(keys: &mut Keys) -> Result<Vec<&'static str>, EvalError> {
    const ALL: [(&str, &str); 3] = [
        ("word_perplexity", "weighted_perplexity"),
        ("byte_perplexity", "weighted_perplexity"),
        ("bits_per_byte", "bits_per_byte"),
    ];
    let Some(node) = keys.take("metric_list") else {
        return Ok(ALL.iter().map(|(m, _)| *m).collect());
    };
    let mut metrics = Vec::new();
    for (name, item) in metric_list(&node)? {
        let Some(&(metric, aggregation)) = ALL.iter().find(|(m, _)| *m == name) else {
            return Err(item.error(format!(
                "metric_list: {name} is not supported for loglikelihood_rolling (supported: word_perplexity, byte_perplexity, bits_per_byte)"
            )));
        };
        plain_metric(item, metric, aggregation)?;
        metrics.push(metric);
    }
    Ok(metrics)
}

/// A `metric_list`: each entry's metric name and its node.
fn metric_list(node: &Node) -> Result<Vec<(String, &Node)>, EvalError> {
    let Value::Seq(items) = &node.value else {
        return Err(node.error("metric_list: expected a list of {metric: name} entries"));
    };
    items
        .iter()
        .map(|item| {
            let entries = map(item, "metric_list[]")?;
            let Some((_, name)) = entries.iter().find(|(k, _)| k == "metric") else {
                return Err(item.error("metric_list[]: every entry needs a metric"));
            };
            Ok((string(name, "metric_list[].metric")?, item))
        })
        .collect()
}

/// Refuses a key of metric entry `item` other than `metric`, `higher_is_better` and
/// `aggregation: {aggregation}` (the metric's own).
fn plain_metric(item: &Node, metric: &str, aggregation: &str) -> Result<(), EvalError> {
    for (key, value) in map(item, "metric_list[]")? {
        match (key.as_str(), &value.value) {
            ("metric" | "higher_is_better", _) => {}
            ("aggregation", Value::Str(a)) if a == aggregation => {}
            (other, _) => {
                return Err(value.error(format!(
                    "metric_list[].{other}: not supported for {metric} (supported: metric, aggregation: {aggregation}, higher_is_better)"
                )));
            }
        }
    }
    Ok(())
}
