//! Reading lm-eval task YAML files into a tree that remembers the file and line of every
//! value, with lm-eval 0.4.13's `include:` (`tasks/_yaml_loader.load_yaml`): each included
//! file (a path or a list of paths, relative to the including file) is read in turn and
//! merged key by key, the including file's own keys override them, and an included
//! `task_list` is not inherited.
//!
//! Values are YAML 1.2 core-schema scalars (saphyr); PyYAML reads YAML 1.1, which differs
//! only for unquoted `yes`/`no`/`on`/`off` and sexagesimal numbers, which no lm-eval task
//! file uses as such; a key written twice in one mapping is refused (PyYAML keeps the last). `!function` is kept as a [`Value::Function`] so that the task
//! reader can refuse it at its key; any other tag is refused here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};

use crate::error::EvalError;

/// A value and where it was written: the file, and the line of its key (for a mapping
/// entry) or of the value itself (for a list item or a whole file).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub file: Arc<Path>,
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order.
    Map(Vec<(String, Node)>),
    /// `!function module.name`: Python code, which painters does not run.
    Function(String),
}

impl Node {
    /// `FILE:LINE: message`.
    pub fn error(&self, message: impl Into<String>) -> EvalError {
        EvalError::TaskFile {
            path: self.file.to_path_buf(),
            line: Some(self.line),
            message: message.into(),
        }
    }

    /// The value as JSON, as Python's `yaml.load` would hand it to lm-eval (a function
    /// written as `{"!function": name}`): what templates see, and the task's identity.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Function(name) => serde_json::json!({ "!function": name }),
        }
    }
}

/// The top-level mapping of `path` with its includes merged, entries in the order lm-eval's
/// merged dict has them (included keys first, in include order, then the file's own new
/// keys; an overridden key keeps its first position, as a Python dict does).
pub(crate) fn read_merged(path: &Path) -> Result<Vec<(String, Node)>, EvalError> {
    read_with_includes(path, &mut Vec::new())
}

fn read_with_includes(
    path: &Path,
    seen: &mut Vec<PathBuf>,
) -> Result<Vec<(String, Node)>, EvalError> {
    let canonical = path.canonicalize().map_err(|e| io_error(path, e))?;
    if seen.contains(&canonical) {
        return Err(EvalError::TaskFile {
            path: path.to_path_buf(),
            line: None,
            message: "include cycle: this file includes itself".to_string(),
        });
    }
    seen.push(canonical);
    let mut own = read_mapping(path)?;
    let Some(at) = own.iter().position(|(k, _)| k == "include") else {
        return Ok(own);
    };
    let (_, include) = own.remove(at);
    let names: Vec<&Node> = match &include.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![&include],
    };
    let mut merged: Vec<(String, Node)> = Vec::new();
    for name in names {
        let Value::Str(name) = &name.value else {
            return Err(name.error("include: expected a file path or a list of them"));
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let included = read_with_includes(&dir.join(name), seen)?;
        for (key, node) in included {
            if key != "task_list" {
                set(&mut merged, key, node);
            }
        }
    }
    for (key, node) in own {
        set(&mut merged, key, node);
    }
    Ok(merged)
}

/// `dict[key] = node`: replaces in place, or appends.
fn set(map: &mut Vec<(String, Node)>, key: String, node: Node) {
    match map.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = node,
        None => map.push((key, node)),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> EvalError {
    EvalError::TaskFile {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read: {e}"),
    }
}

/// One file's top-level mapping.
fn read_mapping(path: &Path) -> Result<Vec<(String, Node)>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    let file: Arc<Path> = Arc::from(path);
    let docs = MarkedYamlOwned::load_from_str(&text).map_err(|e| EvalError::TaskFile {
        path: path.to_path_buf(),
        line: Some(e.marker().line()),
        message: format!("not valid YAML: {}", e.info()),
    })?;
    let whole = |message: &str| EvalError::TaskFile {
        path: path.to_path_buf(),
        line: None,
        message: message.to_string(),
    };
    let [doc] = docs.as_slice() else {
        return Err(whole("expected one YAML document"));
    };
    match convert(&file, doc)?.value {
        Value::Map(entries) => Ok(entries),
        _ => Err(whole("expected a mapping of task settings")),
    }
}

fn convert(file: &Arc<Path>, node: &MarkedYamlOwned) -> Result<Node, EvalError> {
    let line = node.span.start.line();
    let at = |value| Node {
        file: Arc::clone(file),
        line,
        value,
    };
    let value = match &node.data {
        YamlDataOwned::Value(scalar) => match scalar {
            ScalarOwned::Null => Value::Null,
            ScalarOwned::Boolean(b) => Value::Bool(*b),
            ScalarOwned::Integer(i) => Value::Int(*i),
            ScalarOwned::FloatingPoint(f) => Value::Float(f.into_inner()),
            ScalarOwned::String(s) => Value::Str(s.clone()),
        },
        YamlDataOwned::Sequence(items) => Value::Seq(
            items
                .iter()
                .map(|item| convert(file, item))
                .collect::<Result<_, _>>()?,
        ),
        YamlDataOwned::Mapping(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let Some(name) = key.data.as_str() else {
                    return Err(at(Value::Null).error("mapping keys must be strings"));
                };
                let mut value = convert(file, value)?;
                value.line = key.span.start.line();
                out.push((name.to_string(), value));
            }
            Value::Map(out)
        }
        YamlDataOwned::Tagged(tag, inner) if tag.handle == "!" && tag.suffix == "function" => {
            match inner.data.as_str() {
                Some(name) => Value::Function(name.to_string()),
                None => return Err(at(Value::Null).error("!function needs a function name")),
            }
        }
        YamlDataOwned::Tagged(tag, _) => {
            return Err(at(Value::Null).error(format!(
                "the YAML tag {}{} is not supported",
                tag.handle, tag.suffix
            )));
        }
        YamlDataOwned::Alias(_) | YamlDataOwned::BadValue | YamlDataOwned::Representation(..) => {
            return Err(at(Value::Null).error("YAML anchors and aliases are not supported"));
        }
    };
    Ok(at(value))
}
