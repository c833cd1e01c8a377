//! What each subcommand does.

mod data;
mod eval;
mod export;
mod generate;
pub(crate) mod importance;
mod lens;
mod logprobs;
mod merge;
mod plan;
mod prune;
mod run;
mod score;
pub(crate) mod similarity;
mod slurm;
mod stats;
mod workers;

use anyhow::{Context, Result};
use layer_graph::scoring::ScoreOptions;
use layer_graph::{LoadOptions, Model};
use layer_plan::{Plan, Variant, VariantSpec};

use std::path::{Path, PathBuf};

use crate::cli::{Command, DataArgs, ModelArgs, PlanArgs, ScoringArgs};
use crate::experiment::ExperimentFile;
use crate::grid::Grid;
use crate::outln;

pub fn run(cli: crate::cli::Cli) -> Result<()> {
    match cli.command {
        Command::Plan(c) => plan::run(c),
        Command::Logprobs(c) => logprobs::run(c),
        Command::Generate(c) => generate::run(c),
        Command::Eval(c) => eval::run(c),
        Command::Run(c) => run::run(c),
        Command::Merge(c) => merge::run(c),
        Command::Slurm(c) => slurm::run(c),
        Command::Score(c) => score::run(c),
        Command::Similarity(c) => similarity::run(c),
        Command::Importance(c) => importance::run(c),
        Command::Lens(c) => lens::run(c),
        Command::Prune(c) => prune::run(c),
        Command::Export(c) => export::run(c),
        Command::Stats(c) => {
            crate::task_files::load_saved(&c.dir)?;
            stats::run(c)
        }
        Command::Plot(c) => plot(c),
        Command::Table(c) => {
            let table = crate::paper_table::Table::build(&c.dir, c.by, &c.reference)?;
            outln!("{}", table.render(c.format, c.digits).trim_end())
        }
        Command::Report(c) => {
            crate::task_files::load_saved(&c.dir)?;
            let mut dirs = vec![c.dir.clone()];
            dirs.extend(c.compare.iter().cloned());
            let options = crate::report::ReportOptions {
                cell: c.cell,
                items: c.items,
                labels: match c.compare.is_empty() {
                    true => Vec::new(),
                    false => compare_labels(&dirs, &c.labels)?,
                },
                compare: c.compare,
            };
            let out = c.out.unwrap_or_else(|| c.dir.join("report.html"));
            crate::report::write(&c.dir, &out, &options)?;
            outln!("{}", out.display())
        }
        Command::Data(c) => data::run(c),
    }
}

/// `painters plot DIR`, or `--compare DIR... --out OUT`.
fn plot(cmd: crate::cli::PlotCmd) -> Result<()> {
    let written = match (&cmd.dir, &cmd.out) {
        (Some(dir), _) => {
            crate::task_files::load_saved(dir)?;
            crate::plot::plot_results(dir)?
        }
        (None, Some(out)) => {
            for dir in &cmd.compare {
                crate::task_files::load_saved(dir)?;
            }
            let labels = compare_labels(&cmd.compare, &cmd.labels)?;
            crate::plot::plot_compare(&cmd.compare, &labels, out)?
        }
        (None, None) => unreachable!("clap requires DIR or --compare with --out"),
    };
    for path in written {
        outln!("{}", path.display())?;
    }
    Ok(())
}

/// `--labels`, one per directory; by default the directories' names.
fn compare_labels(dirs: &[PathBuf], labels: &[String]) -> Result<Vec<String>> {
    if !labels.is_empty() {
        anyhow::ensure!(
            labels.len() == dirs.len(),
            "--labels gives {} name(s) for {} directories: one per directory",
            labels.len(),
            dirs.len()
        );
        return Ok(labels.to_vec());
    }
    let name = |dir: &PathBuf| {
        dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    Ok(dirs.iter().map(name).collect())
}

/// Scoring settings from the flags: `--batch-invariant` scores one request per forward
/// pass (batch size and context sharing ignored), else `--no-reuse` turns off shared
/// contexts.
fn score_options(args: &ScoringArgs) -> ScoreOptions {
    scoring(args.batch_size, args.no_reuse, args.batch_invariant)
}

/// [`score_options`] from its parts (`painters run` takes the batch size from its file).
fn scoring(batch_size: usize, no_reuse: bool, batch_invariant: bool) -> ScoreOptions {
    match batch_invariant {
        true => ScoreOptions {
            share_contexts: false,
            ..ScoreOptions::new(1)
        },
        false => ScoreOptions {
            share_contexts: !no_reuse,
            ..ScoreOptions::new(batch_size)
        },
    }
}

/// Loads the checkpoint on the chosen device and dtype.
fn load_model(args: &ModelArgs) -> Result<Model> {
    let options = LoadOptions {
        device: args.device.open()?,
        dtype: args.dtype.into(),
    };
    Ok(Model::load(&args.model, options)?)
}

/// The plan the flags describe for a model of `num_layers` layers.
fn resolve_plan(args: &PlanArgs, num_layers: usize) -> Result<Plan> {
    if let Some(text) = &args.plan {
        return Plan::parse(text, num_layers).with_context(|| format!("--plan {text:?}"));
    }
    let spec = VariantSpec {
        name: args.variant.clone().unwrap_or_else(|| "baseline".into()),
        start_layer: args.start_layer,
        range: args.range.as_ref().map(|r| [r[0], r[1]]),
        layer: args.layer,
        with: args.with,
        seed: args.seed,
        times: args.times,
        part: args.part,
        rng: args.rng,
        ..VariantSpec::default()
    };
    let variant = Variant::try_from(spec)?;
    Ok(variant.compile(num_layers)?)
}

/// `--data`, else `$PAINTERS_DATA`, else `$XDG_DATA_HOME/painters/data`
/// (`~/.local/share/painters/data`), where `painters data fetch` puts the files.
fn data_dir(args: &DataArgs) -> PathBuf {
    if let Some(dir) = &args.data {
        return dir.clone();
    }
    if let Some(dir) = std::env::var_os("PAINTERS_DATA") {
        return dir.into();
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/share")
        });
    data_home.join("painters/data")
}

/// An experiment file's grid, scored on the data directory `--data`, else the file's
/// `[data] dir`, else the default of [`data_dir`].
fn read_grid(experiment: &Path, data: &DataArgs) -> Result<Grid> {
    let file = ExperimentFile::read(experiment)?;
    let data = data_dir(&DataArgs {
        data: data
            .data
            .clone()
            .or(file.experiment.data.as_ref().map(|d| d.dir.clone())),
    });
    Grid::resolve(file, data)
}

/// `--out`, else `results/<experiment file stem>`.
fn results_dir(out: Option<&Path>, experiment: &Path) -> PathBuf {
    out.map(Path::to_owned).unwrap_or_else(|| {
        PathBuf::from("results").join(experiment.file_stem().unwrap_or_default())
    })
}
