//! `painters slurm`: an experiment as Slurm jobs, written to `OUT/slurm/`:
//! `shards.sbatch`, a job array whose task k runs `painters run --shard k/n` into the
//! shared results directory OUT (requeueable: a requeued shard resumes from the store);
//! `merge.sbatch`, `painters merge` of OUT into itself; and `submit.sh`, which submits
//! the array and then the merge with `--dependency=afterok:<array job id>`, so the summary
//! is written once every shard has succeeded. Paths are absolute and jobs start in the
//! directory `painters slurm` ran in, where the experiment's relative paths point.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::cli::SlurmCmd;
use crate::experiment::ExperimentFile;
use crate::outln;

pub fn run(cmd: SlurmCmd) -> Result<()> {
    let file = ExperimentFile::read(&cmd.experiment)?;
    let units = crate::shard::units(&file.cells(file.num_layers()?)?);
    if !(1..=units).contains(&cmd.shards) {
        bail!(
            "--shards {}: expected 1..={units} (the grid has {units} distinct plans, the most shards that all get work)",
            cmd.shards
        );
    }
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let jobs = Jobs {
        painters: std::env::current_exe().context("locating the painters binary")?,
        experiment: cwd.join(&cmd.experiment),
        out: cwd.join(super::results_dir(cmd.out.as_deref(), &cmd.experiment)),
        data: cmd.data.data.as_ref().map(|d| cwd.join(d)),
        cwd,
    };
    let dir = jobs.out.join("slurm");
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("creating {}", dir.join("logs").display()))?;
    let files = [
        ("shards.sbatch", jobs.shards(&cmd)),
        ("merge.sbatch", jobs.merge(&cmd)),
        ("submit.sh", jobs.submit()),
    ];
    for (name, text) in &files {
        let path = dir.join(name);
        crate::atomic::write(&path, text.as_bytes())?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let d = dir.display();
    outln!(
        "{d}: shards.sbatch ({} array tasks), merge.sbatch, submit.sh",
        cmd.shards
    )?;
    outln!("submit both:  sh {d}/submit.sh")?;
    outln!("or by hand:   sbatch --parsable {d}/shards.sbatch    # prints the array job id")?;
    outln!("              sbatch --dependency=afterok:<array job id> {d}/merge.sbatch")?;
    Ok(())
}

/// What the jobs run, with absolute paths.
struct Jobs {
    painters: PathBuf,
    experiment: PathBuf,
    out: PathBuf,
    data: Option<PathBuf>,
    cwd: PathBuf,
}

impl Jobs {
    fn shards(&self, cmd: &SlurmCmd) -> String {
        let mut options = vec![
            format!("--array=0-{}", cmd.shards - 1),
            "--requeue".into(),
            "--open-mode=append".into(),
        ];
        options.extend(cmd.time.iter().map(|t| format!("--time={t}")));
        options.extend(
            cmd.gpus_per_task
                .iter()
                .map(|g| format!("--gpus-per-task={g}")),
        );
        options.extend(
            cmd.cpus_per_task
                .iter()
                .map(|c| format!("--cpus-per-task={c}")),
        );
        options.extend(cmd.mem.iter().map(|m| format!("--mem={m}")));
        let mut run = format!(
            "{} run {} --shard \"$SLURM_ARRAY_TASK_ID/{}\" --out {}",
            quote(self.painters.display()),
            quote(self.experiment.display()),
            cmd.shards,
            quote(self.out.display())
        );
        if let Some(device) = &cmd.device {
            run.push_str(&format!(" --device {}", quote(device)));
        }
        let header = format!(
            "# Shard $SLURM_ARRAY_TASK_ID of {} of {}; resumes from the store when requeued.",
            cmd.shards,
            self.experiment.display()
        );
        self.script(cmd, "", "shard-%a", &options, &header, &run)
    }

    fn merge(&self, cmd: &SlurmCmd) -> String {
        let run = format!(
            "{} merge {} --from {} --out {}",
            quote(self.painters.display()),
            quote(self.experiment.display()),
            quote(self.out.display()),
            quote(self.out.display())
        );
        let header = format!(
            "# The summary of {}, once every shard has succeeded.",
            self.experiment.display()
        );
        self.script(cmd, "-merge", "merge", &[], &header, &run)
    }

    /// A batch script: the options every job shares, then `options`, then `command`
    /// (with `--data` when given).
    fn script(
        &self,
        cmd: &SlurmCmd,
        suffix: &str,
        log: &str,
        options: &[String],
        header: &str,
        command: &str,
    ) -> String {
        let stem = self
            .experiment
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy();
        let mut all = vec![
            format!("--job-name=painters-{stem}{suffix}"),
            "--ntasks=1".into(),
            format!("--chdir={}", self.cwd.display()),
        ];
        all.push(format!(
            "--output={}/slurm/logs/{log}.out",
            self.out.display()
        ));
        all.extend(cmd.partition.iter().map(|p| format!("--partition={p}")));
        all.extend(cmd.account.iter().map(|a| format!("--account={a}")));
        all.extend_from_slice(options);
        let mut text = format!("#!/bin/bash\n{header}\n");
        for option in all {
            text.push_str(&format!("#SBATCH {option}\n"));
        }
        let data = self
            .data
            .as_ref()
            .map(|d| format!(" --data {}", quote(d.display())))
            .unwrap_or_default();
        text.push_str(&format!("set -euo pipefail\nexec {command}{data}\n"));
        text
    }

    fn submit(&self) -> String {
        let dir = self.out.join("slurm");
        format!(
            "#!/bin/sh\n\
             # Submits the shards of {exp} as a job array, then the merge, which runs once\n\
             # every shard has succeeded.\n\
             set -eu\n\
             array=$(sbatch --parsable {shards})\n\
             array=${{array%%;*}}  # --parsable prints JOBID[;CLUSTER]\n\
             echo \"shards: job $array\"\n\
             sbatch --dependency=afterok:\"$array\" {merge}\n",
            exp = self.experiment.display(),
            shards = quote(dir.join("shards.sbatch").display()),
            merge = quote(dir.join("merge.sbatch").display()),
        )
    }
}

/// `word` as one shell word.
fn quote(word: impl std::fmt::Display) -> String {
    format!("'{}'", word.to_string().replace('\'', r"'\''"))
}
