//! The command line, as clap types. Each subcommand's options live here; what they do
//! lives in `cmd/`.

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};
use layer_plan::{Part, ShuffleRng};

use crate::backend::AddBos;
use crate::experiment::{Device, Dtype, Kv};

#[derive(Parser)]
#[command(
    name = "painters",
    version,
    about = "Layer-execution experiments on frozen transformers (\"Transformer Layers as Painters\")"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print the plan a variant compiles to, or every cell of an experiment file, without
    /// loading a model.
    Plan(PlanCmd),
    /// Per-token log-probabilities of a text under a model (and optionally a plan).
    Logprobs(LogprobsCmd),
    /// Greedy continuation of a prompt under a model (and optionally a plan).
    Generate(GenerateCmd),
    /// Score benchmarks as lm-evaluation-harness 0.4.13 does, under a plan.
    Eval(EvalCmd),
    /// Score token-id requests from a JSONL file under a plan, timed (for checks and
    /// benchmarks against other implementations).
    Score(ScoreCmd),
    /// Run every (variant x task) cell of an experiment file; resumable.
    Run(RunCmd),
    /// Combine the stores of a grid's shards into one results directory and write its
    /// summary, as an unsharded run would.
    Merge(MergeCmd),
    /// Write a Slurm job array (one shard per task) and a merge job for an experiment.
    Slurm(SlurmCmd),
    /// Draw the paper's figures from a results directory into DIR/plots (PNG and SVG), or
    /// compare several directories (--compare) into --out.
    Plot(PlotCmd),
    /// Paired comparisons of a results directory's cells with the same M, on the same
    /// items (bootstrap intervals, McNemar's test), into DIR/paired.csv.
    Stats(StatsCmd),
    /// The numbers behind a results directory's figures as a paper table (Markdown,
    /// booktabs LaTeX or CSV): normalised scores, 95% paired-bootstrap intervals and a mark
    /// where a series differs significantly from a reference (needs paired.csv).
    Table(TableCmd),
    /// One self-contained HTML file with everything a results directory holds: figures,
    /// tables, paired comparisons, informative benchmarks and one cell's items.
    Report(ReportCmd),
    /// Cosine similarity between the hidden states of every pair of layers (paper Fig. 3).
    Similarity(SimilarityCmd),
    /// Which layers matter: Block Influence, relative magnitude and angular distance per
    /// step, beside the NLL drop of removing it, with their Spearman correlations.
    Importance(ImportanceCmd),
    /// The logit lens: next-token NLL, KL from the final distribution, top-1 agreement
    /// with it and entropy, had the model stopped after each executed step.
    Lens(LensCmd),
    /// Which layers can go: iterative greedy removal on the NLL of texts, or the one-shot
    /// Block Influence / angular-distance choices; writes prune.csv and prune.json.
    Prune(PruneCmd),
    /// Write a sequential plan as a Hugging Face checkpoint directory (and a mergekit
    /// recipe), checked to compute what the plan computes.
    Export(ExportCmd),
    /// Benchmark data: `painters data fetch` downloads and verifies the official files.
    #[command(subcommand)]
    Data(DataCmd),
}

#[derive(Subcommand)]
pub enum DataCmd {
    /// Download each benchmark's canonical files from its official origin, verify their
    /// sha256, and lay them out as the tasks read them.
    Fetch(FetchCmd),
}

#[derive(Args)]
pub struct FetchCmd {
    /// Comma-separated task names (default: all).
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<String>,
    /// Target directory (default: $PAINTERS_DATA, else ~/.local/share/painters/data).
    #[arg(long = "dir")]
    pub dir: Option<PathBuf>,
    /// Fetch from a mirror: https://HOST/PATH becomes BASE_URL/HOST/PATH.
    #[arg(long)]
    pub base_url: Option<String>,
}

#[derive(Args)]
pub struct PlanCmd {
    /// An experiment file: print each cell (variant, affected layers M, layer passes,
    /// plan), their count and the grid's cost.
    #[arg(conflicts_with_all = ["plan", "variant"])]
    pub experiment: Option<PathBuf>,
    /// Number of layers T of the model (for a single variant; an experiment file has its
    /// own).
    #[arg(long, required_unless_present = "experiment")]
    pub layers: Option<usize>,
    #[command(flatten)]
    pub plan: PlanArgs,
}

/// How the layers execute: a plan in text form, or a named variant with its arguments.
/// Without either, the model runs as trained (baseline).
#[derive(Args, Clone, Default)]
pub struct PlanArgs {
    /// Plan text, e.g. "0..11 [11|12|13]x3 14..30".
    #[arg(long, conflicts_with = "variant")]
    pub plan: Option<String>,
    /// Variant name.
    #[arg(long, value_parser = PossibleValuesParser::new(layer_plan::variant_names()))]
    pub variant: Option<String>,
    /// The paper's window: keep layers 0..=s and T-s..T, rewrite the middle.
    #[arg(long, conflicts_with = "range")]
    pub start_layer: Option<usize>,
    /// A half-open window [A, B) instead of --start-layer.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub range: Option<Vec<usize>>,
    /// skip-one: the layer to drop; swap: the first layer; repeat-middle: the layer to
    /// repeat (default: the window's centre, the lower middle layer for an even width).
    #[arg(long)]
    pub layer: Option<usize>,
    /// swap: the second layer (default: --layer + 1).
    #[arg(long)]
    pub with: Option<usize>,
    /// shuffle: the seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// looped-parallel: iterations K.
    #[arg(long)]
    pub times: Option<usize>,
    /// skip, skip-one: drop only this half of each skipped layer (attn or mlp).
    #[arg(long)]
    pub part: Option<Part>,
    /// shuffle: python (CPython's random.shuffle, as the paper's code) or portable.
    #[arg(long)]
    pub rng: Option<ShuffleRng>,
}

#[derive(Args)]
pub struct ModelArgs {
    /// A Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// The compute dtype; auto is the checkpoint's own (config.json's torch_dtype).
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: Dtype,
}

#[derive(Args)]
pub struct LogprobsCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The text to score.
    #[arg(long)]
    pub text: String,
    /// Print one JSON object {"tokens": [ids], "logprobs": [...], "sum": s}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Args)]
pub struct GenerateCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The prompt to continue.
    #[arg(long)]
    pub prompt: String,
    /// Maximum number of new tokens.
    #[arg(long, default_value_t = 64)]
    pub max_tokens: usize,
    /// Stop once the continuation contains this text (repeatable).
    #[arg(long)]
    pub until: Vec<String>,
    /// KV cache semantics for parallel groups.
    #[arg(long, value_enum, default_value = "exact")]
    pub kv: Kv,
    /// Sample with this seed instead of decoding greedily (transformers' temperature,
    /// top-k and top-p filters; the same seed gives the same text).
    #[arg(long)]
    pub sample_seed: Option<u64>,
    /// Sampling temperature (> 0), with --sample-seed.
    #[arg(long, default_value_t = 1.0, requires = "sample_seed")]
    pub temperature: f64,
    /// Keep the k most likely tokens (0: all), with --sample-seed.
    #[arg(long, default_value_t = 50, requires = "sample_seed")]
    pub top_k: usize,
    /// Keep the most likely tokens whose probabilities reach p, in (0, 1], with
    /// --sample-seed.
    #[arg(long, default_value_t = 1.0, requires = "sample_seed")]
    pub top_p: f64,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Args)]
pub struct EvalCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Comma-separated lm-evaluation-harness task names (mmlu_<subject> for one MMLU
    /// subject) or task YAML files (`path/to/task.yaml`); an unknown name is refused with
    /// the list of known ones.
    #[arg(long, value_delimiter = ',', required = true)]
    pub tasks: Vec<String>,
    /// A folder of lm-eval task YAML files whose `task:` names --tasks may then use
    /// (repeatable).
    #[arg(long)]
    pub include_path: Vec<PathBuf>,
    /// Only the first N documents of each task (per subject for mmlu).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Few-shot examples (default: 5 for gsm8k and mmlu, else 0).
    #[arg(long)]
    pub num_fewshot: Option<usize>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Write OUT/<task>.jsonl (one line per item, in source order) and OUT/results.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// KV cache semantics for parallel groups in generation tasks.
    #[arg(long, value_enum, default_value = "exact")]
    pub kv: Kv,
    /// Encode requests with the tokenizer's special tokens (a BOS for Llama-2), as
    /// lm-eval 0.4.13 does, or never, as the paper's harness did.
    #[arg(long, value_enum, default_value = "tokenizer")]
    pub add_bos: AddBos,
    #[command(flatten)]
    pub plan: PlanArgs,
}

/// How requests are batched, for the commands that score them.
#[derive(Args)]
pub struct ScoringArgs {
    /// Rows per forward pass (a row is a context with all its continuations).
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Score every request in its own row, as lm-eval does (for benchmarks).
    #[arg(long)]
    pub no_reuse: bool,
    /// Score one request per forward pass, in its own row: scores then do not depend on
    /// the batch size or on which requests share a batch (slower; see README).
    #[arg(long)]
    pub batch_invariant: bool,
}

#[derive(Args)]
pub struct ScoreCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSONL, one request per line: {"context": [ids], "continuation": [ids]}.
    #[arg(long)]
    pub requests: PathBuf,
    /// Write one line per request: {"logprob": f, "is_greedy": b}.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// Score this many times and report the fastest (the first warms the device up).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Args)]
pub struct DataArgs {
    /// Benchmark data directory (layout of the official files; see README). Default: an
    /// experiment file's [data] dir, else $PAINTERS_DATA, else ~/.local/share/painters/data.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

#[derive(Args)]
pub struct RunCmd {
    /// The experiment file (experiments/*.toml).
    pub experiment: PathBuf,
    /// Results directory (default: results/<experiment file stem>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Requests per checkpoint: a killed run recomputes at most this many.
    #[arg(long, default_value_t = 64)]
    pub chunk_size: usize,
    /// Compute every cell alone and every request in its own row (no plan trie, no
    /// shared contexts): the baseline `make bench` measures the reuse against.
    #[arg(long)]
    pub no_reuse: bool,
    /// Score one request per forward pass, in its own row: scores then do not depend on
    /// the batch size or on which requests share a batch (slower; see README).
    #[arg(long)]
    pub batch_invariant: bool,
    /// Run only shard I of N (0 <= I < N): a fixed share of the grid's cells, balanced by
    /// cost. Writes the store only; `painters merge` writes the summary.
    #[arg(long, value_name = "I/N", conflicts_with = "devices")]
    pub shard: Option<crate::shard::Shard>,
    /// Run on this device instead of the file's model.device (cpu, cuda or cuda:N).
    #[arg(long, conflicts_with = "devices")]
    pub device: Option<Device>,
    /// One worker process per device, each running one shard into --out; then the
    /// summary. Comma-separated: a CUDA index N (cuda:N), cuda, cuda:N or cpu.
    #[arg(long, value_delimiter = ',', value_parser = Device::parse_worker)]
    pub devices: Vec<Device>,
}

#[derive(Args)]
pub struct MergeCmd {
    /// The experiment file the shards ran.
    pub experiment: PathBuf,
    /// Results directories of the shards (one shared directory is fine).
    #[arg(long, num_args = 1.., required = true, value_name = "DIR")]
    pub from: Vec<PathBuf>,
    /// Results directory to write (default: results/<experiment file stem>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Args)]
pub struct SlurmCmd {
    /// The experiment file.
    pub experiment: PathBuf,
    /// Number of shards, one array task each.
    #[arg(long)]
    pub shards: usize,
    /// Results directory the shards share (default: results/<experiment file stem>);
    /// the scripts go to OUT/slurm.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Device of every shard instead of the file's model.device (e.g. cuda).
    #[arg(long)]
    pub device: Option<Device>,
    /// Slurm partition of both jobs.
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm account of both jobs.
    #[arg(long)]
    pub account: Option<String>,
    /// Time limit of each shard, [D-]HH:MM:SS (or MM, MM:SS, D-HH, D-HH:MM).
    #[arg(long, value_parser = slurm_time)]
    pub time: Option<String>,
    /// GPUs per shard.
    #[arg(long)]
    pub gpus_per_task: Option<usize>,
    /// CPUs per shard.
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// Memory per shard, as sbatch takes it: megabytes, or a number with K, M, G or T.
    #[arg(long, value_parser = slurm_mem)]
    pub mem: Option<String>,
}

/// Slurm's time formats: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`.
fn slurm_time(text: &str) -> Result<String, String> {
    let (days, clock) = text
        .split_once('-')
        .map_or((None, text), |(d, c)| (Some(d), c));
    let numbers = |parts: &[&str]| {
        parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let fields: Vec<&str> = clock.split(':').collect();
    if numbers(&fields) && fields.len() <= 3 && days.is_none_or(|d| numbers(&[d])) {
        Ok(text.into())
    } else {
        Err("expected [D-]HH:MM:SS (or MM, MM:SS, D-HH, D-HH:MM)".into())
    }
}

fn slurm_mem(text: &str) -> Result<String, String> {
    let digits = text.trim_end_matches(['K', 'M', 'G', 'T']);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && text.len() - digits.len() <= 1
    {
        Ok(text.into())
    } else {
        Err("expected megabytes, or a number with one of K, M, G, T (e.g. 32G)".into())
    }
}

#[derive(Args)]
pub struct PlotCmd {
    /// A results directory written by `painters run` (summary.csv, medians.csv).
    #[arg(required_unless_present = "compare", conflicts_with = "compare")]
    pub dir: Option<PathBuf>,
    /// Results directories to put side by side (models, dtypes, a model and its export):
    /// every figure as a row of panels, and the median against the share of layers
    /// affected with one line per directory.
    #[arg(long, num_args = 2.., requires = "out")]
    pub compare: Vec<PathBuf>,
    /// With --compare: a name per directory, comma-separated (default: the directories'
    /// names).
    #[arg(long, value_delimiter = ',', requires = "compare")]
    pub labels: Vec<String>,
    /// With --compare: where the figures go.
    #[arg(long, requires = "compare")]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct TableCmd {
    /// A results directory with medians.csv and paired.csv (`painters stats`).
    pub dir: PathBuf,
    /// Columns: the number of layers affected M (medians), or each benchmark.
    #[arg(long, value_enum, default_value = "m")]
    pub by: crate::paper_table::TableBy,
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: crate::paper_table::TableFormat,
    /// The series entries are marked against at the same M, or `baseline` (the full model).
    #[arg(long, default_value = "baseline")]
    pub reference: String,
    /// Decimal places.
    #[arg(long, default_value_t = 2)]
    pub digits: usize,
}

#[derive(Args)]
pub struct ReportCmd {
    /// A results directory written by `painters run` (and `painters stats` for tables).
    pub dir: PathBuf,
    /// The HTML file (default: DIR/report.html).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The cell whose items the drill-down shows (a summary.csv variant, e.g. "skip s=10");
    /// default: the first cell after the baseline.
    #[arg(long)]
    pub cell: Option<String>,
    /// Items shown per task.
    #[arg(long, default_value_t = 50)]
    pub items: usize,
    /// Results directories to compare DIR with (`painters plot --compare`).
    #[arg(long, num_args = 1..)]
    pub compare: Vec<PathBuf>,
    /// With --compare: a name for DIR and each other directory, comma-separated (default:
    /// the directories' names).
    #[arg(long, value_delimiter = ',', requires = "compare")]
    pub labels: Vec<String>,
}

#[derive(Args)]
pub struct StatsCmd {
    /// A results directory written by `painters run` (summary.csv, store/).
    pub dir: PathBuf,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["texts", "tasks"])))]
pub struct LensCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSONL texts, one {"text": ...} per line (the LAMBADA file's format); each text is
    /// its own sequence.
    #[arg(long)]
    pub texts: Option<PathBuf>,
    /// Comma-separated log-likelihood tasks instead (names, or lm-eval task YAML files):
    /// each one's metrics had the model stopped after each step.
    #[arg(long, value_delimiter = ',', conflicts_with = "texts")]
    pub tasks: Vec<String>,
    /// Only the first N texts, or each task's first N items.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    /// Encode requests with the tokenizer's special tokens, or never (as `painters eval`).
    #[arg(long, value_enum, default_value = "tokenizer")]
    pub add_bos: AddBos,
    /// Print one JSON object instead of the table: at least {"steps": S, "nll": [S values]}.
    #[arg(long)]
    pub json: bool,
    /// Write lens.json and lens.csv (one row per step) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Args)]
pub struct ImportanceCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSONL texts, one {"text": ...} per line (the LAMBADA file's format); each text is
    /// its own sequence.
    #[arg(long)]
    pub texts: PathBuf,
    /// Only the first N texts.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Angular distance for blocks of 1..=N steps.
    #[arg(long, default_value_t = 8)]
    pub max_block: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write importance.json, importance.csv, angular.csv and plots/ here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also the real drop on a benchmark, `NAME[:METRIC[:FILTER]]` (default: the task's
    /// headline metric), of removing each step and each best block; its cells are stored
    /// in OUT/store (needs --out).
    #[arg(long)]
    pub task: Option<TaskMetric>,
    /// The task's first N items.
    #[arg(long)]
    pub task_limit: Option<usize>,
    /// The task's items start after the first N.
    #[arg(long, default_value_t = 0)]
    pub task_offset: usize,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

/// A benchmark metric: `NAME[:METRIC[:FILTER]]`, the metric defaulting to the task's
/// headline and the filter to `none`. Displayed as `NAME:METRIC` (`:FILTER` unless none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskMetric {
    pub name: String,
    pub metric: String,
    pub filter: String,
}

impl std::str::FromStr for TaskMetric {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').collect();
        match parts[..] {
            ["", ..] => Err(format!("{text:?}: no task name")),
            [name] => {
                let (metric, filter) = crate::summary::headline(name);
                Ok(TaskMetric {
                    name: name.into(),
                    metric: metric.into(),
                    filter: filter.into(),
                })
            }
            [name, metric] | [name, metric, _] if !metric.is_empty() => Ok(TaskMetric {
                name: name.into(),
                metric: metric.into(),
                filter: parts.get(2).copied().unwrap_or("none").into(),
            }),
            _ => Err(format!(
                "{text:?}: expected NAME[:METRIC[:FILTER]], e.g. arc_easy or arc_easy:acc_norm"
            )),
        }
    }
}

impl std::fmt::Display for TaskMetric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.metric)?;
        match self.filter.as_str() {
            "none" => Ok(()),
            filter => write!(f, ":{filter}"),
        }
    }
}

#[derive(Args)]
pub struct ExportCmd {
    /// The source checkpoint directory.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// A `painters prune` output directory: export the plan of its step --step.
    #[arg(long, conflicts_with_all = ["plan", "variant"], requires = "step")]
    pub from_prune: Option<PathBuf>,
    /// With --from-prune: the step whose plan is exported (0 is the start plan).
    #[arg(long, requires = "from_prune")]
    pub step: Option<usize>,
    /// The new checkpoint directory; it must not exist or be empty.
    #[arg(long)]
    pub out: PathBuf,
    /// The dtype written (and checked in); auto keeps every tensor as stored.
    #[arg(long, value_enum, default_value = "auto")]
    pub dtype: Dtype,
    /// Where the check runs: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Print painters-export.json as one line instead of the summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct PruneCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// nll: greedy, each step removing the layer whose loss raises the texts' NLL least
    /// (SLEB); task:NAME[:METRIC[:FILTER]]: greedy on a benchmark metric, by default the
    /// task's headline (Moslem et al.);
    /// bi: the k lowest Block Influence layers (ShortGPT); angular: the block of k layers
    /// with the least angular distance (Gromov et al.).
    #[arg(long)]
    pub objective: PruneObjective,
    /// JSONL texts, one {"text": ...} per line (nll, bi, angular).
    #[arg(long)]
    pub texts: Option<PathBuf>,
    /// Only the first N texts, or N items of the task.
    #[arg(long)]
    pub limit: Option<usize>,
    /// A task objective's items start after the first N (so the search and a later
    /// evaluation on the first N can use disjoint items).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    #[command(flatten)]
    pub data: DataArgs,
    /// Layers to remove.
    #[arg(long)]
    pub steps: usize,
    /// Layers never removed, e.g. 0,29.
    #[arg(long, value_delimiter = ',')]
    pub protect: Vec<usize>,
    /// Stop once this many steps are left.
    #[arg(long)]
    pub target_layers: Option<usize>,
    /// Stop before a removal that leaves less than this fraction of the start plan's
    /// score (NLL: start / current).
    #[arg(long)]
    pub min_score: Option<f64>,
    /// Results directory (default results/prune/<model>-<objective>); keeps the NLL cache
    /// a rerun resumes from.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of a line per step.
    #[arg(long)]
    pub json: bool,
    /// Print the layer passes per step with and without prefix sharing; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Score every candidate in its own passes, sharing no prefixes (the baseline `make
    /// bench` measures the sharing against; same results).
    #[arg(long)]
    pub one_by_one: bool,
    #[command(flatten)]
    pub scoring: ScoringArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
}

/// What `painters prune` optimises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PruneObjective {
    /// The texts' next-token NLL, greedily.
    Nll,
    /// One-shot: the lowest Block Influence.
    Bi,
    /// One-shot: the least angular distance.
    Angular,
    /// A benchmark metric, greedily: `task:NAME[:METRIC[:FILTER]]`.
    Task(TaskMetric),
}

impl std::str::FromStr for PruneObjective {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "nll" => Ok(PruneObjective::Nll),
            "bi" => Ok(PruneObjective::Bi),
            "angular" => Ok(PruneObjective::Angular),
            _ => match text.strip_prefix("task:") {
                Some(task) => Ok(PruneObjective::Task(task.parse()?)),
                None => Err(
                    "expected nll, bi, angular or task:NAME[:METRIC[:FILTER]] (e.g. task:arc_easy:acc_norm)"
                        .into(),
                ),
            },
        }
    }
}

impl std::fmt::Display for PruneObjective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PruneObjective::Nll => f.write_str("nll"),
            PruneObjective::Bi => f.write_str("bi"),
            PruneObjective::Angular => f.write_str("angular"),
            PruneObjective::Task(task) => write!(f, "task:{task}"),
        }
    }
}

#[derive(Args)]
pub struct SimilarityCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Number of LAMBADA passages (the paper uses 100).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[command(flatten)]
    pub data: DataArgs,
    /// Results directory to write similarity.csv and variance.csv into (`painters plot`
    /// draws them); rows of other plans already there are kept.
    #[arg(long)]
    pub out: PathBuf,
    /// The plan whose hidden states are compared (default: the model as trained).
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    fn parse(args: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("painters").chain(args.split_whitespace()))
    }

    /// clap's own consistency checks (unique names, valid `requires`) over every command.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn task_metrics_default_to_the_headline_metric() {
        let text = |t: &str| t.parse::<TaskMetric>().map(|m| m.to_string());
        assert_eq!(text("arc_easy"), Ok("arc_easy:acc_norm".into()));
        assert_eq!(text("boolq:f1"), Ok("boolq:f1".into()));
        let gsm8k = "gsm8k:exact_match:strict-match";
        assert_eq!(text(gsm8k), Ok(gsm8k.into()));
        for bad in ["", ":acc", "arc_easy:", "arc_easy::none", "a:b:c:d"] {
            assert!(text(bad).is_err(), "{bad:?} parsed");
        }
        let objective = "task:hellaswag".parse::<PruneObjective>();
        assert_eq!(
            objective.map(|o| o.to_string()),
            Ok("task:hellaswag:acc_norm".into())
        );
    }

    /// The error for `args`, which must be a bad value.
    fn bad_value(args: &str) -> String {
        let Err(e) = parse(args) else {
            panic!("{args} parsed");
        };
        // InvalidValue for a value enum, ValueValidation for a FromStr type.
        assert!(
            matches!(
                e.kind(),
                ErrorKind::InvalidValue | ErrorKind::ValueValidation
            ),
            "{e}"
        );
        e.to_string()
    }

    #[test]
    fn bad_settings_are_refused_with_the_valid_values() {
        let cases = [
            (
                "logprobs --model m --text t --dtype f64",
                "invalid value 'f64' for '--dtype <DTYPE>'",
                "[possible values: f32, bf16, f16, auto]",
            ),
            (
                "logprobs --model m --text t --device gpu",
                "invalid value 'gpu' for '--device <DEVICE>'",
                "(valid: cpu, cuda, cuda:N)",
            ),
            (
                "generate --model m --prompt p --kv fast",
                "invalid value 'fast' for '--kv <KV>'",
                "[possible values: exact, paper]",
            ),
            (
                "plan --layers 30 --variant shuffle --start-layer 3 --seed 1 --rng numpy",
                "invalid value 'numpy' for '--rng <RNG>'",
                "(valid: portable, python)",
            ),
            (
                "plan --layers 30 --variant skipp",
                "invalid value 'skipp' for '--variant <VARIANT>'",
                "[possible values: baseline, skip, skip-one,",
            ),
            (
                "run x.toml --devices 0,gpu",
                "invalid value 'gpu' for '--devices <DEVICES>'",
                "unknown device 'gpu' (valid: cpu, cuda, cuda:N, N for cuda:N)",
            ),
        ];
        for (args, what, valid) in cases {
            let e = bad_value(args);
            assert!(e.contains(what) && e.contains(valid), "{args}: {e}");
        }
    }

    #[test]
    fn settings_parse_to_their_types() {
        let Command::Eval(eval) = parse(
            "eval --model m --tasks piqa --device cuda:1 --dtype bfloat16 --kv paper --data d",
        )
        .unwrap()
        .command
        else {
            panic!("not eval");
        };
        assert_eq!(eval.model.device, Device::Cuda(Some(1)));
        assert_eq!(eval.model.dtype, Dtype::Bf16);
        assert_eq!(eval.kv, Kv::Paper);
        assert_eq!(eval.data.data, Some(PathBuf::from("d")));
        let Command::Run(run) = parse("run x.toml --devices 0,cuda,cuda:2,cpu --data d")
            .unwrap()
            .command
        else {
            panic!("not run");
        };
        assert_eq!(
            run.devices,
            [
                Device::Cuda(Some(0)),
                Device::Cuda(None),
                Device::Cuda(Some(2)),
                Device::Cpu
            ]
        );
        assert_eq!(run.data.data, Some(PathBuf::from("d")));
        let Command::Plan(plan) = parse("plan --layers 8 --variant shuffle --rng portable")
            .unwrap()
            .command
        else {
            panic!("not plan");
        };
        assert_eq!(plan.plan.rng, Some(ShuffleRng::Portable));
    }
}
