//! Tasks given as lm-eval task YAML files: a `--tasks` entry or `[[tasks]] yaml` that is a
//! file path, and every file of an include folder (`--include-path`, `[task_files]
//! include_path`, lm-eval's `--include_path`), registered with eval-suite so that their
//! `task:` names work wherever a task name does.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

/// Whether a `--tasks` entry names a task file rather than a task.
pub fn is_task_file(spec: &str) -> bool {
    spec.ends_with(".yaml") || spec.ends_with(".yml")
}

/// The task name of `spec`: a task file (read and registered; relative to `base`) or a
/// task name (checked). Notes about ignored keys go to stderr.
pub fn task_name(spec: &str, base: &Path) -> Result<String> {
    if !is_task_file(spec) {
        eval_suite::check_task(spec)?;
        return Ok(spec.to_string());
    }
    read(&base.join(spec))
}

/// Reads and registers the task file at `path`; returns its task name.
pub fn read(path: &Path) -> Result<String> {
    let file = eval_suite::read_task_file(path)?;
    for note in &file.notes {
        eprintln!("note: {note}");
    }
    Ok(file.name)
}

/// Registers every task file (`*.yaml`, `*.yml`) under each folder of `dirs` (relative to
/// `base`), as lm-eval's `--include_path` does. A file that cannot be read as a task (a
/// group file, Python it needs) is skipped with one line on stderr saying why, so the
/// folder's other tasks stay usable. Returns the task names registered.
pub fn include(dirs: &[PathBuf], base: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for dir in dirs {
        let dir = base.join(dir);
        let mut files = Vec::new();
        collect(&dir, &mut files).with_context(|| format!("include path {}", dir.display()))?;
        files.sort();
        for file in files {
            match eval_suite::read_task_file(&file) {
                Ok(task) => names.push(task.name),
                Err(e) => eprintln!("skipped {}: {e}", file.display()),
            }
        }
    }
    Ok(names)
}

/// The task files under `dir`, recursively.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| anyhow!("cannot read: {e}"))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.to_str().is_some_and(is_task_file) {
            out.push(path);
        }
    }
    Ok(())
}
