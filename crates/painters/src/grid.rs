//! An experiment's grid resolved against its model's files (no model is loaded): the
//! cells, the store key of every (cell, task), and the files of a complete grid,
//! `resolved.toml`, `summary.csv` and `medians.csv`. An unsharded `painters run`, the
//! parent of `painters run --devices` and `painters merge` all write them here, so a
//! grid computed in pieces ends with the bytes a single run writes.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::backend::AddBos;
use crate::experiment::{Cell, Experiment, ExperimentFile, TaskSettings};
use crate::identity::{cache_root, model_identity};
use crate::store::{HARNESS_VERSION, Store, cell_key};

pub struct Grid {
    pub file: ExperimentFile,
    pub layers: usize,
    pub cells: Vec<Cell>,
    pub model_id: String,
    /// The benchmark data directory (recorded in resolved.toml).
    pub data: PathBuf,
    /// `keys[c][t]`: where cell c's result on task t is stored.
    pub keys: Vec<Vec<String>>,
}

#[derive(Serialize)]
struct Resolved<'a> {
    harness: &'a str,
    model_id: &'a str,
    layers: usize,
    data_dir: &'a Path,
    experiment: &'a Experiment,
    cells: Vec<ResolvedCell<'a>>,
}

#[derive(Serialize)]
struct ResolvedCell<'a> {
    label: &'a str,
    plan: String,
    plan_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    affected_layers: Option<usize>,
    layer_passes: usize,
}

impl Grid {
    /// Expands `file`'s cells and keys them by the contents of its model directory.
    pub fn resolve(file: ExperimentFile, data: PathBuf) -> Result<Self> {
        let layers = file.num_layers()?;
        let cells = file.cells(layers)?;
        let model = &file.experiment.model;
        // Model settings that change scores are part of the identity, defaults included.
        let settings = match model.add_bos {
            AddBos::Tokenizer => "add_bos=tokenizer",
            AddBos::Never => "add_bos=never",
        };
        let dtype = model.dtype.to_string();
        let model_id = model_identity(&model.dir, &dtype, settings, cache_root().as_deref())?;
        let keys = cells
            .iter()
            .map(|cell| {
                file.experiment
                    .tasks
                    .iter()
                    .map(|task| cell_key(&model_id, &cell.plan, task))
                    .collect()
            })
            .collect();
        Ok(Self {
            file,
            layers,
            cells,
            model_id,
            data,
            keys,
        })
    }

    pub fn tasks(&self) -> &[TaskSettings] {
        &self.file.experiment.tasks
    }

    /// `cell "skip s=13", task hellaswag`, for messages.
    pub fn describe(&self, c: usize, t: usize) -> String {
        format!(
            "cell {:?}, task {}",
            self.cells[c].label,
            self.tasks()[t].name
        )
    }

    /// The expanded grid, the model's identity and the harness version, and the task
    /// files the grid runs ([`crate::task_files::save`]).
    pub fn write_resolved(&self, out: &Path) -> Result<()> {
        let names: Vec<String> = self.tasks().iter().map(|t| t.name.clone()).collect();
        crate::task_files::save(out, &names)?;
        let resolved = Resolved {
            harness: HARNESS_VERSION,
            model_id: &self.model_id,
            layers: self.layers,
            data_dir: &self.data,
            experiment: &self.file.experiment,
            cells: self.cells.iter().map(resolved_cell).collect(),
        };
        crate::atomic::write(
            &out.join("resolved.toml"),
            toml::to_string(&resolved)?.as_bytes(),
        )
    }

    /// summary.csv and medians.csv from `store`, which must hold every cell's results.
    pub fn write_summary(&self, out: &Path, store: &Store) -> Result<()> {
        let mut results = Vec::new();
        for (c, row) in self.keys.iter().enumerate() {
            let mut cell_results = Vec::new();
            for (t, key) in row.iter().enumerate() {
                let stored = store.load(key)?.ok_or_else(|| {
                    anyhow!(
                        "{}: no result for {} in {}",
                        self.file.path.display(),
                        self.describe(c, t),
                        out.display()
                    )
                })?;
                cell_results.push(stored);
            }
            results.push(cell_results);
        }
        let task_names: Vec<String> = self.tasks().iter().map(|t| t.name.clone()).collect();
        crate::summary::write(out, &self.cells, &task_names, &results, &self.keys, store)
    }
}

fn resolved_cell(c: &Cell) -> ResolvedCell<'_> {
    ResolvedCell {
        label: &c.label,
        plan: c.plan.to_string(),
        plan_hash: c.plan.hash(),
        affected_layers: c.affected_layers,
        layer_passes: c.plan.layer_passes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tiny llama of the golden fixtures (made by `make fixtures`).
    fn tiny_llama() -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny/llama");
        assert!(
            dir.join("config.json").exists(),
            "no fixtures in {}: run `make fixtures`",
            dir.display()
        );
        dir
    }

    fn keys(add_bos: &str) -> (String, Vec<Vec<String>>) {
        let text = format!(
            "[model]\ndir = {:?}\n{add_bos}[[tasks]]\nname = \"piqa\"\n",
            tiny_llama()
        );
        let grid = Grid::resolve(
            ExperimentFile::parse(Path::new("x.toml"), &text).unwrap(),
            PathBuf::from("data"),
        )
        .unwrap();
        (grid.model_id, grid.keys)
    }

    #[test]
    fn add_bos_never_keys_cells_of_its_own() {
        let (_, default_keys) = keys("");
        assert_eq!(keys("add_bos = \"tokenizer\"\n").1, default_keys);
        assert_ne!(keys("add_bos = \"never\"\n").1, default_keys);
    }
}
