//! `painters export`: a sequential plan as an ordinary Hugging Face checkpoint directory
//! (layer_graph::export writes it), with the equivalent mergekit `passthrough` recipe and
//! `painters-export.json` (the source's identity, the plan, the check), verified before
//! it is handed over: the export, loaded as a plain model, must give the log-probs (an
//! encoder: the last hidden states) the source gives under the plan on fixed texts.
//!
//! Everything is written into a temporary directory beside OUT and renamed to OUT only
//! once the check passes, so OUT either does not exist or is complete and checked.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};
use layer_graph::Model;
use layer_graph::device::ComputeDtype;
use layer_graph::exec::{Batch, run_plan};
use layer_graph::export::{config_layers, write_checkpoint};
use layer_plan::Plan;
use serde::Serialize;

use crate::cli::{ExportCmd, ModelArgs};
use crate::experiment::Dtype;
use crate::outln;

/// The texts the check runs: short, mixed prose, digits and punctuation.
const CHECK_TEXTS: [&str; 3] = [
    "The capital of France is Paris, and the capital of Italy is Rome.",
    "In 1969, Neil Armstrong became the first person to walk on the Moon; millions watched.",
    "def add(a, b):\n    return a + b  # 2 + 3 = 5",
];
/// The largest difference the check accepts. The export runs the same weights through
/// the same operations as the plan, so any honest export differs by rounding at most.
const CHECK_TOLERANCE: f64 = 1e-4;

/// painters-export.json.
#[derive(Serialize)]
struct Manifest {
    painters_version: &'static str,
    source: Source,
    plan: String,
    /// Source layer run at each step: exported layer i is source layer `layers[i]`.
    layers: Vec<usize>,
    source_layers: usize,
    dtype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_prune: Option<FromPrune>,
    /// The export's own identity (as `painters run` keys its results in this dtype).
    identity: String,
    weight_files: Vec<String>,
    check: Check,
}

#[derive(Serialize)]
struct Source {
    dir: PathBuf,
    identity: String,
}

#[derive(Serialize)]
struct FromPrune {
    dir: PathBuf,
    step: usize,
}

#[derive(Serialize)]
struct Check {
    /// "log-probs over the vocabulary" (every position) or "last hidden states".
    compared: &'static str,
    texts: usize,
    tokens: usize,
    max_abs_diff: f64,
    tolerance: f64,
}

pub fn run(cmd: ExportCmd) -> Result<()> {
    check_out_dir(&cmd.out)?;
    let tokenizer = cmd.model.join("tokenizer.json");
    ensure!(
        tokenizer.is_file(),
        "{}: no tokenizer.json; an export carries the source's tokenizer, and painters needs it to check the export",
        cmd.model.display()
    );
    let source_layers = config_layers(&cmd.model)?;
    let plan = export_plan(&cmd, source_layers)?;
    let layers = plan
        .sequential_layers("exported")
        .context("painters export")?;
    let kind = match ComputeDtype::from(cmd.dtype) {
        ComputeDtype::Fixed(kind) => Some(kind),
        ComputeDtype::Auto => None,
    };

    let parent = cmd
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".painters-export-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let written = write_checkpoint(&cmd.model, &layers, tmp.path(), kind)?;
    crate::atomic::write(
        &tmp.path().join("mergekit.yml"),
        mergekit_recipe(&cmd.model, &layers, &cmd.dtype)?.as_bytes(),
    )?;
    let check = check_export(&cmd, &plan, tmp.path())?;
    ensure!(
        check.max_abs_diff <= CHECK_TOLERANCE,
        "the export does not compute what the plan computes: {} differ by up to {:.3e} (tolerance {CHECK_TOLERANCE:e}); nothing was written to {}",
        check.compared,
        check.max_abs_diff,
        cmd.out.display()
    );
    let model_args = |dir: &Path| ModelArgs {
        model: dir.to_owned(),
        device: cmd.device,
        dtype: cmd.dtype,
    };
    let manifest = Manifest {
        painters_version: env!("CARGO_PKG_VERSION"),
        source: Source {
            dir: absolute(&cmd.model)?,
            identity: crate::cells::store_model_id(&model_args(&cmd.model))?,
        },
        plan: plan.to_string(),
        layers,
        source_layers,
        dtype: cmd.dtype.to_string(),
        from_prune: cmd.from_prune.as_ref().map(|dir| FromPrune {
            dir: dir.clone(),
            step: cmd.step.unwrap_or_default(),
        }),
        identity: crate::cells::store_model_id(&model_args(tmp.path()))?,
        weight_files: written.weight_files.clone(),
        check,
    };
    crate::atomic::write(
        &tmp.path().join("painters-export.json"),
        (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
    )?;
    publish(tmp, &cmd.out)?;

    if cmd.json {
        return outln!("{}", serde_json::to_string(&manifest)?);
    }
    let check = &manifest.check;
    outln!(
        "exported plan {} ({} layers, from {}) to {}: {} ({:.1} MB), {} files copied, mergekit.yml",
        manifest.plan,
        manifest.layers.len(),
        source_layers,
        cmd.out.display(),
        written.weight_files.join(", "),
        written.bytes as f64 / 1e6,
        written.copied.len(),
    )?;
    outln!(
        "check: loaded back as a plain model, its {} on {} texts ({} tokens) match the source under the plan: max |diff| {:.3e}",
        check.compared,
        check.texts,
        check.tokens,
        check.max_abs_diff
    )
}

/// OUT must not exist, or be an empty directory.
fn check_out_dir(out: &Path) -> Result<()> {
    match std::fs::read_dir(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("--out {}", out.display())),
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => bail!(
                "--out {}: the directory exists and is not empty; painters export writes a new checkpoint directory",
                out.display()
            ),
        },
    }
}

/// The plan to export: `--from-prune DIR --step K` (step K of DIR/prune.json), else the
/// plan flags, for a model of `num_layers` layers.
fn export_plan(cmd: &ExportCmd, num_layers: usize) -> Result<Plan> {
    let Some(dir) = &cmd.from_prune else {
        return super::resolve_plan(&cmd.plan, num_layers);
    };
    #[derive(serde::Deserialize)]
    struct PruneFile {
        num_layers: Option<usize>,
        steps: Vec<PruneStep>,
    }
    #[derive(serde::Deserialize)]
    struct PruneStep {
        step: usize,
        plan: String,
    }
    let path = dir.join("prune.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("--from-prune: {} cannot be read", path.display()))?;
    let file: PruneFile =
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
    if let Some(layers) = file.num_layers {
        ensure!(
            layers == num_layers,
            "{}: the search ran on a model of {layers} layers, {} has {num_layers}",
            path.display(),
            cmd.model.display()
        );
    }
    let step = cmd
        .step
        .ok_or_else(|| anyhow!("--from-prune needs --step K"))?;
    let last = file.steps.last().map_or(0, |s| s.step);
    let found = file
        .steps
        .iter()
        .find(|s| s.step == step)
        .ok_or_else(|| anyhow!("--step {step}: {} has steps 0..={last}", path.display()))?;
    Plan::parse(&found.plan, num_layers)
        .with_context(|| format!("{} step {step}: plan {:?}", path.display(), found.plan))
}

/// mergekit's `passthrough` recipe for the same model: one slice per run of consecutive
/// layers, `layer_range` half-open like painters' `a..b`.
fn mergekit_recipe(source: &Path, layers: &[usize], dtype: &Dtype) -> Result<String> {
    let model = serde_json::to_string(&absolute(source)?)?;
    let mut out = String::from(
        "# The same checkpoint built by mergekit: mergekit-yaml mergekit.yml OUT_DIR\n# (written by painters export; layer_range is half-open, as painters' a..b)\nslices:\n",
    );
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &layer in layers {
        match runs.last_mut() {
            Some((_, end)) if *end == layer => *end += 1,
            _ => runs.push((layer, layer + 1)),
        }
    }
    for (start, end) in runs {
        out += &format!(
            "  - sources:\n      - model: {model}\n        layer_range: [{start}, {end}]\n"
        );
    }
    out += "merge_method: passthrough\n";
    let dtype = match dtype {
        Dtype::F32 => Some("float32"),
        Dtype::Bf16 => Some("bfloat16"),
        Dtype::F16 => Some("float16"),
        Dtype::Auto => None,
    };
    if let Some(dtype) = dtype {
        out += &format!("dtype: {dtype}\n");
    }
    Ok(out)
}

/// Loads the source under `plan` and the export as a plain model and compares their
/// outputs on [`CHECK_TEXTS`], one text at a time (no padding).
fn check_export(cmd: &ExportCmd, plan: &Plan, export: &Path) -> Result<Check> {
    let load = |dir: &Path| {
        super::load_model(&ModelArgs {
            model: dir.to_owned(),
            device: cmd.device,
            dtype: cmd.dtype,
        })
    };
    let source = load(&cmd.model)?;
    let exported = load(export).context("loading the export back")?;
    let baseline = Plan::baseline(exported.stack().num_layers())?;
    let causal = source.stack().is_causal();
    let (mut tokens, mut max_abs_diff) = (0, 0f64);
    for text in CHECK_TEXTS {
        let ids = source.tokenizer().encode(text)?;
        let again = exported.tokenizer().encode(text)?;
        ensure!(
            ids == again,
            "the export's tokenizer encodes {text:?} differently"
        );
        tokens += ids.len();
        let outputs = |model: &Model, plan: &Plan| -> Result<Vec<f64>> {
            let batch = Batch::right_padded(std::slice::from_ref(&ids), model.device());
            let output = run_plan(model, &batch, plan, false)?.output;
            let values = match causal {
                true => output.log_softmax(-1, tch::Kind::Double),
                false => output.to_kind(tch::Kind::Double),
            };
            Ok(Vec::<f64>::try_from(values.flatten(0, -1))?)
        };
        let (want, got) = (outputs(&source, plan)?, outputs(&exported, &baseline)?);
        ensure!(
            want.len() == got.len(),
            "the export's output has another shape"
        );
        for (a, b) in want.iter().zip(&got) {
            max_abs_diff = max_abs_diff.max((a - b).abs());
        }
    }
    Ok(Check {
        compared: match causal {
            true => "log-probs over the vocabulary",
            false => "last hidden states",
        },
        texts: CHECK_TEXTS.len(),
        tokens,
        max_abs_diff,
        tolerance: CHECK_TOLERANCE,
    })
}

/// Moves the finished export to `out` (replacing an empty directory there).
fn publish(tmp: tempfile::TempDir, out: &Path) -> Result<()> {
    let mut permissions = std::fs::metadata(tmp.path())?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(tmp.path(), permissions)?;
    if out.exists() {
        std::fs::remove_dir(out).with_context(|| format!("replacing {}", out.display()))?;
    }
    let tmp = tmp.keep();
    std::fs::rename(&tmp, out)
        .with_context(|| format!("moving {} to {}", tmp.display(), out.display()))
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn tiny_llama() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny/llama")
    }

    /// The check is what stands between a wrong export and a user: an export of one plan
    /// checked against another must fail it.
    #[test]
    fn the_check_catches_an_export_of_another_plan() {
        let tmp = tempfile::tempdir().unwrap();
        let source = tiny_llama();
        write_checkpoint(&source, &[0, 1, 2], tmp.path(), None).unwrap();
        let cli = crate::cli::Cli::try_parse_from([
            "painters",
            "export",
            "--model",
            source.to_str().unwrap(),
            "--out",
            "unused",
        ])
        .unwrap();
        let crate::cli::Command::Export(cmd) = cli.command else {
            unreachable!()
        };
        let same = check_export(&cmd, &Plan::parse("0..3", 3).unwrap(), tmp.path()).unwrap();
        assert_eq!(same.max_abs_diff, 0.0);
        let other = check_export(&cmd, &Plan::parse("0 2 1", 3).unwrap(), tmp.path()).unwrap();
        assert!(other.max_abs_diff > 1e-2, "{}", other.max_abs_diff);
    }

    #[test]
    fn mergekit_slices_are_half_open_runs() {
        let recipe = mergekit_recipe(&tiny_llama(), &[0, 1, 2, 2, 1], &Dtype::Auto).unwrap();
        let ranges: Vec<&str> = recipe
            .lines()
            .filter_map(|l| l.trim().strip_prefix("layer_range: "))
            .collect();
        assert_eq!(ranges, ["[0, 3]", "[2, 3]", "[1, 2]"]);
        assert!(!recipe.contains("dtype:"));
    }
}
