//! Experiment files (`experiments/*.toml`): a model, the tasks to score, and a grid of
//! layer-execution variants, parsed strictly and expanded into cells (one plan each,
//! the baseline always first). Nothing here loads a model or reads benchmark data.
//!
//! ```toml
//! [model]
//! dir = "models/smollm2-135m"   # relative paths are taken from the working directory
//! name = "SmolLM2-135M"         # optional: how plots name the model
//! layers = 30                   # optional; read from dir/config.json when absent
//! device = "cpu"                # cpu | cuda | cuda:N
//! dtype = "f32"                 # f32 | bf16 | f16 | auto (the checkpoint's own)
//! batch_size = 8
//! kv = "exact"                  # exact | paper (parallel groups in generation)
//! add_bos = "tokenizer"         # tokenizer (lm-eval 0.4.13) | never (the paper's harness)
//!
//! [data]
//! dir = "../shared/data"        # optional; else --data, $PAINTERS_DATA, the default
//!
//! [[tasks]]
//! name = "arc_easy"             # lm-evaluation-harness task name
//! limit = 100                   # first N documents (optional)
//! offset = 300                  # skip the first N documents before those (optional)
//! num_fewshot = 0               # optional; the task's standard setting when absent
//!
//! [[variants]]
//! kind = "skip"                 # any variant name of `painters plan`
//! start_layer = { from = 0, to = 14 }   # an integer, a list, or an inclusive range
//! [[variants]]
//! kind = "shuffle"
//! start_layer = [4, 8]
//! seed = { from = 0, to = 9 }   # averaged over seeds in the figures, as in the paper
//! [[variants]]
//! kind = "looped-parallel"
//! start_layer = 10
//! times = [1, 2, 3]
//! ```
//! `start_layer`, `layer`, `seed` and `times` take one value, a list or `{ from, to }`;
//! a variant expands to the product of its lists (at most 10 000 cells). Other keys
//! (`range`, `with`, `part`, `rng`, `plan`, `slices`) are single values, as `painters
//! plan` takes them; `part = "attn"` on skip or skip-one drops only attention. Every setting is parsed into its type here, so a bad value is reported as
//! `FILE:LINE: key: what is wrong (valid: ...)`, the line found from toml's spans.

mod settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use layer_plan::{Part, Plan, PlanError, ShuffleRng, Variant, VariantSpec};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::backend::AddBos;
pub use settings::{Device, Dtype, Kv};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    pub dir: PathBuf,
    /// How plots name the model (default: the directory's last component).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<usize>,
    #[serde(default)]
    pub device: Device,
    #[serde(default, with = "settings::by_name")]
    pub dtype: Dtype,
    #[serde(default = "eight")]
    pub batch_size: usize,
    #[serde(default, with = "settings::by_name")]
    pub kv: Kv,
    /// Which special tokens requests are encoded with (it changes every score).
    #[serde(
        default,
        skip_serializing_if = "AddBos::is_tokenizer",
        with = "settings::by_name"
    )]
    pub add_bos: AddBos,
}

fn eight() -> usize {
    8
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    pub dir: PathBuf,
}

/// The number of layers config.json in the checkpoint directory `dir` declares, read
/// without loading the model.
pub fn config_layers(dir: &Path) -> Result<usize> {
    Ok(layer_graph::export::config_layers(dir)?)
}

/// One `[[tasks]]` table: a task by `name`, or an lm-eval task file by `yaml` (relative to
/// the experiment file; `name` is then the file's `task:`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSettings {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yaml: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Documents skipped before the first scored (so two runs can score disjoint items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_fewshot: Option<usize>,
}

/// One value, a list, or an inclusive `{ from, to }` range.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Values {
    One(u64),
    List(Vec<u64>),
    Range { from: u64, to: u64 },
}

impl Values {
    /// The number of values, without listing them.
    fn len(&self) -> u64 {
        match self {
            Values::One(_) => 1,
            Values::List(vs) => vs.len() as u64,
            Values::Range { from, to } => to.checked_sub(*from).map_or(0, |n| n.saturating_add(1)),
        }
    }

    fn expand(&self) -> Vec<u64> {
        match self {
            Values::One(v) => vec![*v],
            Values::List(vs) => vs.clone(),
            Values::Range { from, to } => (*from..=*to).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantGrid {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_layer: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<Values>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[usize; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rng: Option<ShuffleRng>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<Vec<[usize; 2]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub model: ModelSettings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSettings>,
    pub tasks: Vec<TaskSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_files: Option<TaskFiles>,
    #[serde(default)]
    pub variants: Vec<VariantGrid>,
}

/// `[task_files]`: folders of lm-eval task YAML files whose `task:` names `[[tasks]]` may
/// use (relative to the experiment file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskFiles {
    pub include_path: Vec<PathBuf>,
}

/// One variant of the grid with its compiled plan.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Unique, human-readable: `skip s=10`, `shuffle s=4 seed=2`, `baseline`.
    pub label: String,
    pub spec: VariantSpec,
    pub plan: Plan,
    /// M, the number of layers the variant rewrites (None for explicit plans).
    pub affected_layers: Option<usize>,
}

/// A parsed experiment file.
pub struct ExperimentFile {
    pub path: PathBuf,
    pub experiment: Experiment,
    /// Where each `[[variants]]` table is in the file, for error messages.
    variant_lines: Vec<TableLines>,
}

/// The line (1-based) of a table's header and of each of its keys.
struct TableLines {
    header: usize,
    keys: BTreeMap<String, usize>,
}

/// The spans toml records for the `[[variants]]` tables and their keys.
#[derive(Deserialize)]
struct VariantSpans {
    #[serde(default)]
    variants: Vec<Spanned<BTreeMap<String, Spanned<IgnoredAny>>>>,
}

/// The 1-based line of byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl ExperimentFile {
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(path, &text)
    }

    /// Parses `text`; errors read `FILE:LINE: KEY: what is wrong`.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let at = |e: &toml::de::Error| match e.span() {
            Some(span) => format!("{}:{}", path.display(), line_at(text, span.start)),
            None => path.display().to_string(),
        };
        let de = toml::Deserializer::parse(text)
            .map_err(|e| anyhow!("{}: {}", at(&e), e.message().trim()))?;
        let mut experiment: Experiment = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            anyhow!("{}: {key}: {}", at(&inner), inner.message().trim())
        })?;
        if experiment.tasks.is_empty() {
            bail!(
                "{}: tasks: at least one [[tasks]] table is needed",
                path.display()
            );
        }
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(files) = &experiment.task_files {
            crate::task_files::include(&files.include_path, base)
                .map_err(|e| anyhow!("{}: task_files.include_path: {e:#}", path.display()))?;
        }
        for (i, task) in experiment.tasks.iter_mut().enumerate() {
            let name = match &task.yaml {
                Some(file) => crate::task_files::read(&base.join(file))
                    .map_err(|e| anyhow!("{}: tasks[{i}].yaml: {e:#}", path.display()))?,
                None if task.name.is_empty() => {
                    bail!("{}: tasks[{i}]: name or yaml is needed", path.display())
                }
                None => {
                    eval_suite::check_task(&task.name)
                        .map_err(|e| anyhow!("{}: tasks[{i}].name: {e}", path.display()))?;
                    task.name.clone()
                }
            };
            if !task.name.is_empty() && task.name != name {
                bail!(
                    "{}: tasks[{i}].name: {:?} differs from the task file's task: {name:?}; leave name out",
                    path.display(),
                    task.name
                );
            }
            task.name = name;
        }
        let spans: VariantSpans =
            toml::from_str(text).context("the experiment parsed once but not twice")?;
        let variant_lines = spans
            .variants
            .iter()
            .map(|table| TableLines {
                header: line_at(text, table.span().start),
                keys: table
                    .get_ref()
                    .iter()
                    .map(|(key, value)| (key.clone(), line_at(text, value.span().start)))
                    .collect(),
            })
            .collect();
        Ok(Self {
            path: path.to_owned(),
            experiment,
            variant_lines,
        })
    }

    /// The model's layer count: `[model] layers`, else its config.json.
    pub fn num_layers(&self) -> Result<usize> {
        if let Some(n) = self.experiment.model.layers {
            return Ok(n);
        }
        config_layers(&self.experiment.model.dir)
            .with_context(|| format!("{}: model.layers is not set", self.path.display()))
    }

    /// Every cell of the grid for a model of `num_layers` layers: the baseline, then each
    /// `[[variants]]` table's product in file order.
    pub fn cells(&self, num_layers: usize) -> Result<Vec<Cell>> {
        let baseline = VariantSpec {
            name: "baseline".into(),
            ..VariantSpec::default()
        };
        let baseline = compile("baseline".into(), baseline, num_layers)
            .map_err(|e| anyhow!("{}: baseline: {}", self.path.display(), e.message()))?;
        let mut cells = vec![baseline];
        for (i, grid) in self.experiment.variants.iter().enumerate() {
            // `FILE:LINE: variants[i]`, or `FILE:LINE: variants[i].KEY` at KEY's line.
            let at = |key: Option<&str>| {
                let lines = &self.variant_lines[i];
                let (line, key) = match key.and_then(|k| Some((*lines.keys.get(k)?, k))) {
                    Some((line, key)) => (line, format!(".{key}")),
                    None => (lines.header, String::new()),
                };
                format!("{}:{line}: variants[{i}]{key}", self.path.display())
            };
            for spec in expand(grid).map_err(|e| anyhow!("{}: {e}", at(None)))? {
                let label = label(&spec);
                let cell = compile(label, spec, num_layers)
                    .map_err(|e| anyhow!("{}: {}", at(e.key()), e.message()))?;
                if cells.iter().any(|c| c.label == cell.label) {
                    bail!(
                        "{}: cell {:?} appears twice in the grid",
                        at(None),
                        cell.label
                    );
                }
                cells.push(cell);
            }
        }
        Ok(cells)
    }
}

/// A variant's error as an experiment file names things: its key where it has one, and
/// arguments spelt as the file's keys (`start_layer`, not `start-layer`).
struct GridError(PlanError);

impl GridError {
    /// The key of the table the error is about, if one.
    fn key(&self) -> Option<&str> {
        match &self.0 {
            PlanError::UnknownVariant { .. } => Some("kind"),
            PlanError::UnusedArg { arg, .. } => Some(arg),
            _ => None,
        }
    }

    fn message(&self) -> String {
        let key = |arg: &str| arg.replace('-', "_");
        match &self.0 {
            PlanError::UnusedArg {
                variant,
                arg,
                valid,
            } => {
                let valid: Vec<String> = valid.iter().map(|a| key(a)).collect();
                let valid = if valid.is_empty() {
                    "none".into()
                } else {
                    valid.join(", ")
                };
                format!("{variant} does not take {} (valid: {valid})", key(arg))
            }
            PlanError::MissingArg { variant, arg } => {
                format!("variant {variant} needs {}", key(arg))
            }
            PlanError::ConflictingArgs { variant, args } => {
                format!("variant {variant} takes {}, not both", key(args))
            }
            e => e.to_string(),
        }
    }
}

fn compile(label: String, spec: VariantSpec, num_layers: usize) -> Result<Cell, GridError> {
    let variant = Variant::try_from(spec.clone()).map_err(GridError)?;
    let plan = variant.compile(num_layers).map_err(GridError)?;
    let affected_layers = variant.affected_layers(num_layers).map_err(GridError)?;
    Ok(Cell {
        label,
        spec,
        plan,
        affected_layers,
    })
}

/// The most cells one `[[variants]]` table may expand to; guards against typos like
/// `seed = { from = 0, to = 1000000000 }`.
const MAX_GRID_CELLS: u64 = 10_000;

/// The product of a grid table's lists, as variant specs.
fn expand(grid: &VariantGrid) -> Result<Vec<VariantSpec>> {
    let lists = [&grid.start_layer, &grid.layer, &grid.seed, &grid.times];
    let size = lists.into_iter().try_fold(1u64, |n, v| {
        n.checked_mul(v.as_ref().map_or(1, Values::len))
    });
    if size.is_none_or(|n| n > MAX_GRID_CELLS) {
        bail!("the grid expands to more than {MAX_GRID_CELLS} cells");
    }
    let values = |v: &Option<Values>| {
        v.as_ref()
            .map(|v| v.expand().into_iter().map(Some).collect())
            .unwrap_or_else(|| vec![None])
    };
    let mut specs = Vec::new();
    for start_layer in values(&grid.start_layer) {
        for layer in values(&grid.layer) {
            for seed in values(&grid.seed) {
                for times in values(&grid.times) {
                    specs.push(VariantSpec {
                        name: grid.kind.clone(),
                        start_layer: start_layer.map(|v| v as usize),
                        range: grid.range,
                        layer: layer.map(|v| v as usize),
                        with: grid.with,
                        seed,
                        times: times.map(|v| v as usize),
                        part: grid.part,
                        rng: grid.rng,
                        plan: grid.plan.clone(),
                        slices: grid.slices.clone(),
                        label: grid.label.clone(),
                    });
                }
            }
        }
    }
    Ok(specs)
}

/// `kind` plus its arguments: `looped-parallel s=10 K=3`, `swap layer=4`; a labelled
/// explicit plan is its label plus the plan (`greedy NLL plan="0..17 18..30"`). Labels name
/// cells in summary.csv and the figures: their text must not change.
pub(crate) fn label(spec: &VariantSpec) -> String {
    // Exhaustive, so that a new argument cannot be left out of the label (two cells that
    // differ only in it would then share one).
    let VariantSpec {
        name,
        start_layer,
        range,
        layer,
        with,
        seed,
        times,
        part,
        rng,
        plan,
        slices,
        label: family,
    } = spec;
    let mut label = family.clone().unwrap_or_else(|| name.clone());
    let mut add = |part: String| {
        label.push(' ');
        label.push_str(&part);
    };
    if let Some(s) = start_layer {
        add(format!("s={s}"));
    }
    if let Some([a, b]) = range {
        add(format!("range={a}..{b}"));
    }
    if let Some(l) = layer {
        add(format!("layer={l}"));
    }
    if let Some(w) = with {
        add(format!("with={w}"));
    }
    if let Some(k) = times {
        add(format!("K={k}"));
    }
    if let Some(seed) = seed {
        add(format!("seed={seed}"));
    }
    if let Some(part) = part {
        add(format!("part={part}"));
    }
    if let Some(rng) = rng {
        add(format!("rng={rng}"));
    }
    if let Some(plan) = plan {
        add(format!("plan=\"{plan}\""));
    }
    if let Some(slices) = slices {
        let text: Vec<String> = slices.iter().map(|[a, b]| format!("{a}..{b}")).collect();
        add(format!("slices={}", text.join(",")));
    }
    label
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    fn parse(text: &str) -> Result<ExperimentFile> {
        ExperimentFile::parse(Path::new("x.toml"), text)
    }

    const HEAD: &str =
        "[model]\ndir = \"m\"\nlayers = 30\n\n[[tasks]]\nname = \"arc_easy\"\nlimit = 5\n";

    fn labels(text: &str) -> Vec<String> {
        let file = parse(&format!("{HEAD}{text}")).unwrap();
        file.cells(30)
            .unwrap()
            .into_iter()
            .map(|c| format!("{} | {}", c.label, c.plan))
            .collect()
    }

    #[test]
    fn grids_expand_in_file_order_after_the_baseline() {
        let cells = labels(
            "[[variants]]\nkind = \"skip\"\nstart_layer = { from = 13, to = 14 }\n\
             [[variants]]\nkind = \"looped-parallel\"\nstart_layer = [10]\ntimes = [1, 3]\n\
             [[variants]]\nkind = \"shuffle\"\nstart_layer = 12\nseed = [0, 1]\n\
             [[variants]]\nkind = \"explicit\"\nplan = \"0..10 [10|11] 12..30\"\n\
             [[variants]]\nkind = \"explicit\"\nlabel = \"greedy NLL\"\nplan = \"0..10 14..30\"\n",
        );
        assert_eq!(
            cells,
            [
                "baseline | 0..30",
                "skip s=13 | 0..14 17..30",
                "skip s=14 | 0..15 16..30",
                "looped-parallel s=10 K=1 | 0..11 [11|12|13|14|15|16|17|18|19] 20..30",
                "looped-parallel s=10 K=3 | 0..11 [11|12|13|14|15|16|17|18|19]x3 20..30",
                // CPython: random.seed(0); random.shuffle([13, 14, 15, 16, 17]) -> [15, 14, 13, 17, 16]
                "shuffle s=12 seed=0 | 0..13 15 14 13 17 16 18..30",
                // random.seed(1) -> [15, 16, 17, 13, 14]
                "shuffle s=12 seed=1 | 0..13 15..18 13..15 18..30",
                "explicit plan=\"0..10 [10|11] 12..30\" | 0..10 [10|11] 12..30",
                // A label names the cell instead of the kind.
                "greedy NLL plan=\"0..10 14..30\" | 0..10 14..30",
            ]
        );
    }

    #[test]
    fn skips_of_one_half_are_cells_of_their_own() {
        let cells = labels(
            "[[variants]]\nkind = \"skip\"\nstart_layer = 13\npart = \"attn\"\n\
             [[variants]]\nkind = \"skip-one\"\nlayer = 4\npart = \"mlp\"\n\
             [[variants]]\nkind = \"explicit\"\nplan = \"0..20 20..30.mlp\"\n",
        );
        assert_eq!(
            cells,
            [
                "baseline | 0..30",
                "skip s=13 part=attn | 0..14 14..17.mlp 17..30",
                "skip-one layer=4 part=mlp | 0..4 4.attn 5..30",
                "explicit plan=\"0..20 20..30.mlp\" | 0..20 20..30.mlp",
            ]
        );
        let e = error(&format!(
            "{HEAD}[[variants]]\nkind = \"skip\"\nstart_layer = 13\npart = \"ffn\"\n"
        ));
        assert!(e.contains("part") && e.contains("ffn"), "{e}");
        let e = error(&format!(
            "{HEAD}[[variants]]\nkind = \"reverse\"\nstart_layer = 13\npart = \"attn\"\n"
        ));
        assert!(e.contains("does not take part"), "{e}");
    }

    fn error(text: &str) -> String {
        let e = parse(text)
            .and_then(|f| f.cells(30).map(|_| ()))
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n'), "one line: {e}");
        e
    }

    /// A multiple-choice task file named `task`, its data in `DATA/sciq`.
    fn task_file(task: &str) -> String {
        format!(
            "task: {task}\noutput_type: multiple_choice\ndataset_path: allenai/sciq\n\
             validation_split: validation\ndoc_to_text: question\ndoc_to_target: 3\n\
             doc_to_choice: \"{{{{[distractor1, distractor2, distractor3, correct_answer]}}}}\"\n"
        )
    }

    #[test]
    fn task_files_name_their_task_and_key_their_cells_by_content_not_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("copy")).unwrap();
        for file in ["mine.yaml", "copy/mine.yaml"] {
            std::fs::write(dir.path().join(file), task_file("content_keyed")).unwrap();
        }
        let experiment = |yaml: &str| {
            let text = format!(
                "[model]\ndir = \"m\"\nlayers = 30\n[[tasks]]\nyaml = \"{yaml}\"\n[[tasks]]\nname = \"piqa\"\n"
            );
            ExperimentFile::parse(&dir.path().join("x.toml"), &text).unwrap()
        };
        let (a, b) = (experiment("mine.yaml"), experiment("copy/mine.yaml"));
        assert_eq!(a.experiment.tasks[0].name, "content_keyed");
        let plan = Plan::parse("0..30", 30).unwrap();
        let key = |f: &ExperimentFile, t: usize| {
            crate::store::cell_key("m", &plan, &f.experiment.tasks[t])
        };
        assert_eq!(key(&a, 0), key(&b, 0), "the same content at another path");
        // A built-in task's key is what it was before task files existed (the settings'
        // JSON alone), so committed stores stay valid; a task file's adds its content.
        let settings_only = |task: &TaskSettings| {
            let text = format!(
                "{}\nm\n30:{plan}\n{}",
                crate::store::HARNESS_VERSION,
                serde_json::to_string(task).unwrap()
            );
            hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
        };
        assert_eq!(key(&a, 1), settings_only(&a.experiment.tasks[1]));
        let mut without_path = a.experiment.tasks[0].clone();
        without_path.yaml = None;
        assert_ne!(key(&a, 0), settings_only(&without_path));
        // Another file with the same task name and other settings is refused.
        std::fs::write(
            dir.path().join("other.yaml"),
            task_file("content_keyed") + "num_fewshot: 2\n",
        )
        .unwrap();
        let text = "[model]\ndir = \"m\"\n[[tasks]]\nyaml = \"other.yaml\"\n";
        let e = ExperimentFile::parse(&dir.path().join("x.toml"), text)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.ends_with(
                "task: content_keyed is already defined by another task file with other settings"
            ),
            "{e}"
        );
        assert!(e.contains("x.toml: tasks[0].yaml: "), "{e}");
    }

    #[test]
    fn include_path_registers_a_folder_of_task_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tasks/more")).unwrap();
        std::fs::write(
            dir.path().join("tasks/more/one.yaml"),
            task_file("included_one"),
        )
        .unwrap();
        std::fs::write(dir.path().join("tasks/broken.yaml"), "task: [unclosed\n").unwrap();
        let text = "[model]\ndir = \"m\"\n[task_files]\ninclude_path = [\"tasks\"]\n[[tasks]]\nname = \"included_one\"\n";
        let file = ExperimentFile::parse(&dir.path().join("x.toml"), text).unwrap();
        assert_eq!(file.experiment.tasks[0].name, "included_one");
        let e = error("[model]\ndir = \"m\"\n[[tasks]]\nlimit = 3\n");
        assert_eq!(e, "x.toml: tasks[0]: name or yaml is needed");
    }

    #[test]
    fn add_bos_defaults_to_the_tokenizer_and_bad_values_name_the_key() {
        assert_eq!(
            parse(HEAD).unwrap().experiment.model.add_bos,
            AddBos::Tokenizer
        );
        let never =
            parse("[model]\ndir = \"m\"\nadd_bos = \"never\"\n[[tasks]]\nname = \"piqa\"\n")
                .unwrap();
        assert_eq!(never.experiment.model.add_bos, AddBos::Never);
        let e = error("[model]\ndir = \"m\"\nadd_bos = \"always\"\n[[tasks]]\nname = \"piqa\"\n");
        assert_eq!(
            e,
            "x.toml:3: model.add_bos: unknown value 'always' (valid: tokenizer, never)"
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = error(&format!(
            "{HEAD}[[variants]]\nkind = \"skip\"\nstart_layr = 3\n"
        ));
        assert!(
            e.starts_with("x.toml:10: variants[0]") && e.contains("start_layr"),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = error("[model]\ndir = \"m\"\nbatch_size = \"eight\"\n[[tasks]]\nname = \"piqa\"\n");
        assert!(
            e.starts_with("x.toml:3: model.batch_size") && e.contains("string"),
            "{e}"
        );
    }

    #[test]
    fn impossible_window_names_the_table_and_range() {
        let e = error(&format!(
            "{HEAD}[[variants]]\nkind = \"skip\"\nstart_layer = [3, 15]\n"
        ));
        assert!(
            e.starts_with("x.toml:8: variants[0]") && e.contains("15") && e.contains("0..=14"),
            "{e}"
        );
    }

    #[test]
    fn zero_layers_and_oversized_grids_are_errors() {
        let file = parse(HEAD).unwrap();
        let e = file.cells(0).unwrap_err().to_string();
        assert!(
            e.starts_with("x.toml: baseline") && e.contains("0 layers"),
            "{e}"
        );
        let e = error(&format!(
            "{HEAD}[[variants]]\nkind = \"shuffle\"\nstart_layer = 3\nseed = {{ from = 0, to = 18446744073709551615 }}\n"
        ));
        assert!(
            e.starts_with("x.toml:8: variants[0]") && e.contains("more than 10000 cells"),
            "{e}"
        );
    }

    #[test]
    fn arguments_a_variant_does_not_take_name_their_line_and_the_valid_keys() {
        // HEAD is 7 lines: the table starts on line 8, its keys on lines 9 to 11.
        let cases = [
            (
                "kind = \"skip\"\nstart_layer = 3\nseed = 3\n",
                "x.toml:11: variants[0].seed: skip does not take seed (valid: start_layer, range, part)",
            ),
            (
                "kind = \"reverse\"\nstart_layer = 3\ntimes = [1, 2]\n",
                "x.toml:11: variants[0].times: reverse does not take times (valid: start_layer, range)",
            ),
            (
                "kind = \"shuffle\"\nstart_layer = 3\nlayer = 4\nseed = 1\n",
                "x.toml:11: variants[0].layer: shuffle does not take layer (valid: start_layer, range, seed, rng)",
            ),
            (
                "kind = \"baseline\"\n\nwith = 2\n",
                "x.toml:11: variants[0].with: baseline does not take with (valid: none)",
            ),
            (
                "\nkind = \"skipp\"\n",
                "x.toml:10: variants[0].kind: unknown variant 'skipp' (valid: baseline, skip, skip-one, swap, reverse, shuffle, repeat-middle, double-repeat, triple-repeat, parallel, looped-parallel, explicit)",
            ),
            (
                "kind = \"skip\"\nlayer = 3\n",
                "x.toml:8: variants[0]: variant skip needs start_layer or range",
            ),
            (
                "kind = \"skip\"\nstart_layer = 3\nrange = [1, 4]\n",
                "x.toml:8: variants[0]: variant skip takes start_layer or range, not both",
            ),
        ];
        for (table, expected) in cases {
            assert_eq!(error(&format!("{HEAD}[[variants]]\n{table}")), expected);
        }
    }

    #[test]
    fn bad_model_settings_and_rng_name_their_line_and_the_valid_values() {
        let model = |line: &str| {
            error(&format!(
                "[model]\ndir = \"m\"\nlayers = 30\n{line}\n[[tasks]]\nname = \"piqa\"\n"
            ))
        };
        assert_eq!(
            model("dtype = \"f64\""),
            "x.toml:4: model.dtype: unknown value 'f64' (valid: f32, bf16, f16, auto)"
        );
        assert_eq!(
            model("device = \"gpu\""),
            "x.toml:4: model.device: unknown device 'gpu' (valid: cpu, cuda, cuda:N)"
        );
        assert_eq!(
            model("device = \"cuda:x\""),
            "x.toml:4: model.device: unknown device 'cuda:x' (valid: cpu, cuda, cuda:N)"
        );
        assert_eq!(
            model("kv = \"fast\""),
            "x.toml:4: model.kv: unknown value 'fast' (valid: exact, paper)"
        );
        let e = error(&format!(
            "{HEAD}[[variants]]\nkind = \"shuffle\"\nstart_layer = 3\nseed = 1\nrng = \"numpy\"\n"
        ));
        assert_eq!(
            e,
            "x.toml:12: variants[0].rng: unknown shuffle rng 'numpy' (valid: portable, python)"
        );
    }

    #[test]
    fn model_settings_parse_to_their_types_and_serialise_as_before() {
        let file = parse(
            "[model]\ndir = \"m\"\ndevice = \"cuda:1\"\ndtype = \"bfloat16\"\nkv = \"paper\"\n\
             [[tasks]]\nname = \"piqa\"\n",
        )
        .unwrap();
        let model = &file.experiment.model;
        assert_eq!(
            (model.device, model.dtype, model.kv),
            (Device::Cuda(Some(1)), Dtype::Bf16, Kv::Paper)
        );
        assert_eq!(
            toml::to_string(model).unwrap(),
            "dir = \"m\"\ndevice = \"cuda:1\"\ndtype = \"bf16\"\nbatch_size = 8\nkv = \"paper\"\n"
        );
        // The defaults, as resolved.toml has always recorded them.
        let defaults = &parse(HEAD).unwrap().experiment.model;
        assert_eq!(
            toml::to_string(defaults).unwrap(),
            "dir = \"m\"\nlayers = 30\ndevice = \"cpu\"\ndtype = \"f32\"\nbatch_size = 8\nkv = \"exact\"\n"
        );
        let cuda = parse("[model]\ndir = \"m\"\ndevice = \"cuda\"\n[[tasks]]\nname = \"piqa\"\n");
        assert_eq!(cuda.unwrap().experiment.model.device, Device::Cuda(None));
    }

    #[test]
    fn unknown_variant_and_malformed_toml_are_reported() {
        let e = error(&format!("{HEAD}[[variants]]\nkind = \"skipp\"\n"));
        assert!(e.contains("variants[0]") && e.contains("skipp"), "{e}");
        let e = error("[model\ndir = 3");
        assert!(e.starts_with("x.toml:1:"), "{e}");
        let e = error("[model]\ndir = \"m\"\ntasks = []\n");
        assert!(e.starts_with("x.toml"), "{e}");
        let e = error("[model]\ndir = \"m\"\n[[tasks]]\nname = \"hellaswg\"\n");
        assert!(
            e.starts_with("x.toml: tasks[0].name") && e.contains("hellaswag"),
            "{e}"
        );
    }
}
