//! `painters run --devices 0,1,cpu`: one worker per device, each a child process of this
//! binary running shard k of n (`run --shard k/n --device D`) into the same results
//! directory. The parent writes resolved.toml first and the summary once every worker
//! has succeeded. A worker's output and errors go to `OUT/logs/shard-k-of-n.log`; a
//! failed worker is reported with the last line of its log. Several CPU workers share the
//! cores out through `OMP_NUM_THREADS` (unless it is set already): libtorch's threads
//! would otherwise contend, and four CPU workers ran six times slower than one after another.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use anyhow::{Context, Result, bail};

use crate::cli::RunCmd;
use crate::experiment::Device;
use crate::grid::Grid;
use crate::outln;
use crate::shard::Shard;
use crate::store::Store;

struct Worker {
    device: Device,
    shard: Shard,
    log: PathBuf,
    child: Child,
}

pub fn run(cmd: &RunCmd, grid: &Grid, out: &Path) -> Result<()> {
    let store = Store::open(out)?;
    grid.write_resolved(out)?;
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let count = cmd.devices.len();
    let threads = cpu_threads(&cmd.devices);
    let workers = cmd
        .devices
        .iter()
        .enumerate()
        .map(|(index, &device)| {
            spawn(
                cmd,
                grid,
                out,
                device,
                Shard { index, count },
                &logs,
                threads,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let mut failures = Vec::new();
    for mut w in workers {
        let status = w
            .child
            .wait()
            .with_context(|| format!("waiting for the worker on {}", w.device))?;
        if !status.success() {
            failures.push(format!(
                "the worker on {} (shard {}) failed ({status}): {} (log: {})",
                w.device,
                w.shard,
                last_line(&w.log),
                w.log.display()
            ));
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    grid.write_summary(out, &store)?;
    outln!(
        "{}: {} cells x {} tasks on {count} workers -> summary.csv, medians.csv",
        out.display(),
        grid.cells.len(),
        grid.tasks().len()
    )?;
    Ok(())
}

/// Starts `painters run --shard` for one device, its output going to its log.
fn spawn(
    cmd: &RunCmd,
    grid: &Grid,
    out: &Path,
    device: Device,
    shard: Shard,
    logs: &Path,
    cpu_threads: Option<usize>,
) -> Result<Worker> {
    let log = logs.join(format!("shard-{}-of-{}.log", shard.index, shard.count));
    let output = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let exe = std::env::current_exe().context("locating the painters binary")?;
    let mut command = Command::new(exe);
    command
        .arg("run")
        .arg(&cmd.experiment)
        .arg("--shard")
        .arg(shard.to_string())
        .arg("--device")
        .arg(device.to_string());
    command
        .arg("--out")
        .arg(out)
        .arg("--data")
        .arg(&grid.data)
        .arg("--chunk-size")
        .arg(cmd.chunk_size.to_string());
    if cmd.no_reuse {
        command.arg("--no-reuse");
    }
    if cmd.batch_invariant {
        command.arg("--batch-invariant");
    }
    if let Some(threads) = cpu_threads.filter(|_| device == Device::Cpu) {
        command.env("OMP_NUM_THREADS", threads.to_string());
    }
    let child = command
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()
        .with_context(|| format!("starting the worker on {device}"))?;
    Ok(Worker {
        device,
        shard,
        log,
        child,
    })
}

/// Threads for each CPU worker when there are several: the cores shared out evenly.
fn cpu_threads(devices: &[Device]) -> Option<usize> {
    let cpu_workers = devices.iter().filter(|d| **d == Device::Cpu).count();
    if cpu_workers < 2 || std::env::var_os("OMP_NUM_THREADS").is_some() {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Some((cores / cpu_workers).max(1))
}

/// The last non-empty line of a worker's log (its error), or a note that it has none.
fn last_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("it printed nothing")
        .to_string()
}
