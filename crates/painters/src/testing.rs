//! Results directories for unit tests, written without a model through the real store
//! and summary code: every item is a four-choice question (chance 0.25) whose right or
//! wrong answer the test gives.

use std::path::Path;

use eval_suite::metrics::{mean, mean_stderr};
use eval_suite::{ChoiceContext, ChoiceRecord, ItemRecord, MetricValue, TaskResult};

use crate::experiment::{Cell, ExperimentFile};
use crate::store::Store;

/// A results directory in `dir` (store, summary.csv, medians.csv) for a 12-layer model
/// scoring `tasks` under the baseline and the `[[variants]]` tables of `variants`, with
/// `correct(cell label, task)` the items' scores (1 right, 0 wrong). Returns the cells.
pub fn results_dir(
    dir: &Path,
    variants: &str,
    tasks: &[&str],
    correct: impl Fn(&str, &str) -> Vec<f64>,
) -> Vec<Cell> {
    let task_tables: String = tasks
        .iter()
        .map(|t| format!("[[tasks]]\nname = \"{t}\"\n"))
        .collect();
    let text = format!("[model]\ndir = \"unused\"\nlayers = 12\n{task_tables}{variants}");
    let cells = ExperimentFile::parse(Path::new("test.toml"), &text)
        .unwrap()
        .cells(12)
        .unwrap();
    let store = Store::open(dir).unwrap();
    let (mut results, mut keys) = (Vec::new(), Vec::new());
    for (c, cell) in cells.iter().enumerate() {
        let (mut cell_results, mut cell_keys) = (Vec::new(), Vec::new());
        for task in tasks {
            let key = format!("c{c}-{task}");
            let claim = store.claim(&key, true).unwrap().unwrap();
            store
                .save(&claim, task_result(task, &correct(&cell.label, task)))
                .unwrap();
            cell_results.push(store.load(&key).unwrap().unwrap());
            cell_keys.push(key);
        }
        results.push(cell_results);
        keys.push(cell_keys);
    }
    let names: Vec<String> = tasks.iter().map(|t| t.to_string()).collect();
    crate::summary::write(dir, &cells, &names, &results, &keys, &store).unwrap();
    cells
}

fn task_result(task: &str, scores: &[f64]) -> TaskResult {
    let item = |(doc_id, &score): (usize, &f64)| {
        let pred = if score == 1.0 { 0 } else { 1 };
        let mut loglikelihoods = vec![-2.0; 4];
        loglikelihoods[pred] = -1.0;
        ItemRecord::Choice(ChoiceRecord {
            doc_id,
            subject: None,
            context: ChoiceContext::Shared("Q:".into()),
            continuations: vec![" a".into(); 4],
            loglikelihoods,
            is_greedy: vec![false; 4],
            pred,
            pred_norm: pred,
            gold: 0,
            acc: score,
            acc_norm: score,
            unconditional_loglikelihoods: None,
            acc_mutual_info: None,
        })
    };
    let metric = |name: &str| MetricValue {
        name: name.into(),
        filter: "none".into(),
        value: mean(scores),
        stderr: mean_stderr(scores),
    };
    TaskResult {
        task: task.into(),
        n: scores.len(),
        num_fewshot: 0,
        metrics: vec![metric("acc"), metric("acc_norm")],
        items: scores.iter().enumerate().map(item).collect(),
        subtasks: Vec::new(),
    }
}

/// The rows of a CSV file as column name -> value maps.
pub fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.deserialize().map(Result::unwrap).collect()
}
