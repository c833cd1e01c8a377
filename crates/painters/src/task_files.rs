//! Tasks given as lm-eval task YAML files: a `--tasks` entry or `[[tasks]] yaml` that is a
//! file path, and every file of an include folder (`--include-path`, `[task_files]
//! include_path`, lm-eval's `--include_path`), registered with eval-suite so that their
//! `task:` names work wherever a task name does.
//!
//! A results directory keeps each task file it ran as resolved (`task-files/<task>.yaml`,
//! its includes merged, as JSON, which is YAML too): the record of what was run, and what
//! `painters plot` and `painters stats` read to judge those tasks as the run did.

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

/// The folder of a results directory that holds its task files.
fn saved_dir(results: &Path) -> PathBuf {
    results.join("task-files")
}

/// Writes the resolved content of every task of `tasks` that came from a task file into
/// `results/task-files/<task>.yaml`.
pub fn save(results: &Path, tasks: &[String]) -> Result<()> {
    for task in tasks {
        let Some(identity) = eval_suite::task_file_identity(task) else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(&identity)?;
        let text = format!(
            "# The task file of {task} as painters ran it (includes merged; JSON is YAML).\n{}\n",
            serde_json::to_string_pretty(&value)?
        );
        crate::atomic::write(
            &saved_dir(results).join(format!("{task}.yaml")),
            text.as_bytes(),
        )?;
    }
    Ok(())
}

/// Registers the task files a results directory ran, if it has any.
pub fn load_saved(results: &Path) -> Result<()> {
    let dir = saved_dir(results);
    if dir.is_dir() {
        include(&[dir], Path::new(""))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_task_file_reads_back_as_the_same_task() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gen.yaml");
        // Quotes, escapes, unicode, a float and nested lists: what JSON-as-YAML must keep.
        std::fs::write(
            &file,
            "task: saved_round_trip\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: [a.jsonl]\n\
             test_split: test\ndoc_to_text: \"Q: {{q}}\\n\\\"A\\\" — \\u00e9:\"\ndoc_to_target: a\n\
             generation_kwargs:\n  until: [\"\\n\\n\", \"Q:\"]\n  temperature: 0.0\n",
        )
        .unwrap();
        let name = read(&file).unwrap();
        let results = dir.path().join("results");
        save(&results, &[name.clone(), "piqa".to_string()]).unwrap();
        let saved = results.join("task-files/saved_round_trip.yaml");
        assert!(saved.is_file() && !results.join("task-files/piqa.yaml").exists());
        // Registering a task of that name with other content would fail: the same
        // identity is what lets this read succeed.
        let again = eval_suite::read_task_file(&saved).unwrap();
        assert_eq!(again.name, name);
        assert_eq!(Some(again.identity), eval_suite::task_file_identity(&name));
        load_saved(&results).unwrap();
    }
}
