//! `painters run` end to end on the real SmolLM2-135M: a run killed with SIGKILL in the
//! middle of a cell, then rerun with the same command, ends with a summary.csv
//! byte-identical to an uninterrupted run's; a finished grid reruns nothing. Scale-out:
//! shards in separate processes merged by `painters merge`, `--devices` workers, and two
//! runs sharing one results directory all end with the unsharded run's exact files;
//! `painters slurm` writes a job array, a merge job and a script that chains them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data_dir() -> PathBuf {
    std::env::var_os("PAINTERS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/data"))
}

/// An experiment on SmolLM2 scoring `items` HellaSwag and `items + 2` LAMBADA items
/// under the baseline and skip at each of `start_layers`.
fn experiment(dir: &Path, items: usize, start_layers: &str) -> PathBuf {
    experiment_on(&smollm2(), dir, items, start_layers)
}

fn smollm2() -> PathBuf {
    let model = workspace().join("models/smollm2-135m");
    assert!(
        model.join("config.json").exists(),
        "no SmolLM2 in {}: run `make setup`",
        model.display()
    );
    model
}

/// [`experiment`] on the checkpoint in `model`.
fn experiment_on(model: &Path, dir: &Path, items: usize, start_layers: &str) -> PathBuf {
    let text = format!(
        "[model]\ndir = {model:?}\nbatch_size = 4\n\n\
         [[tasks]]\nname = \"hellaswag\"\nlimit = {items}\n\n[[tasks]]\nname = \"lambada_openai\"\nlimit = {}\n\n\
         [[variants]]\nkind = \"skip\"\nstart_layer = {start_layers}\n",
        items + 2
    );
    let path = dir.join("exp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn bin(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_painters"));
    cmd.args(args);
    cmd
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `painters run EXP --out OUT` with small chunks and the test data, plus `extra`, on
/// one CPU thread per process: scores depend on libtorch's thread count in the last
/// bits, and the runs compared here must not, however many run at once.
fn run(exp: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = bin(&[
        "run",
        s(exp),
        "--chunk-size",
        "2",
        "--out",
        s(out),
        "--data",
        s(&data_dir()),
    ]);
    cmd.args(extra).env("OMP_NUM_THREADS", "1");
    cmd
}

fn painters(exp: &Path, out: &Path) -> Command {
    let mut cmd = run(exp, out, &[]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Lines already logged in any in-progress cell of `out`.
fn logged_chunks(out: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(out.join("store")) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "partial"))
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .count()
        })
        .sum()
}

#[test]
fn killed_run_resumes_to_the_identical_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), 6, "13");

    let whole = tmp.path().join("whole");
    assert!(painters(&exp, &whole).status().unwrap().success());
    let expected = std::fs::read(whole.join("summary.csv")).unwrap();

    let killed = tmp.path().join("killed");
    kill_after_chunks(painters(&exp, &killed).spawn().unwrap(), &killed, 3);

    assert!(painters(&exp, &killed).status().unwrap().success());
    assert_eq!(
        std::fs::read(killed.join("summary.csv")).unwrap(),
        expected,
        "resumed summary differs"
    );
    assert_eq!(
        logged_chunks(&killed),
        0,
        "finished cells leave no partial logs"
    );

    // A finished grid is read back from the store: same summary, nothing recomputed.
    let started = Instant::now();
    assert!(painters(&exp, &killed).status().unwrap().success());
    assert_eq!(std::fs::read(killed.join("summary.csv")).unwrap(), expected);
    println!("rerun of a finished grid took {:.1?}", started.elapsed());
}

/// Kills `child` (a `painters run` writing to `out`) with SIGKILL once `chunks` chunks are
/// logged in an unfinished cell.
fn kill_after_chunks(mut child: std::process::Child, out: &Path, chunks: usize) {
    let start = Instant::now();
    while logged_chunks(out) < chunks {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no chunk was logged"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !out.join("summary.csv").exists(),
        "killed before the end, there is no summary yet"
    );
    println!("killed after {} logged chunk(s)", logged_chunks(out));
}

/// An experiment mixing a task file (lm-eval's own sciq.yaml, through eval-suite's test
/// wrapper that points it at the local data) with a built-in task: killed inside the task
/// file's cell and rerun, it ends with the uninterrupted run's summary; with the task files
/// deleted, `painters stats` and `painters plot` still read the results (the run saved
/// them), and the task file's rows carry its headline metric.
#[test]
fn an_experiment_mixing_task_files_and_built_in_tasks_runs_resumes_and_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let tasks = workspace().join("crates/eval-suite/tests/eval/tasks");
    for file in ["sciq.yaml", "sciq_validation.yaml"] {
        std::fs::copy(tasks.join(file), tmp.path().join(file)).unwrap();
    }
    let exp = tmp.path().join("mixed.toml");
    std::fs::write(
        &exp,
        format!(
            "[model]\ndir = {:?}\nbatch_size = 4\n\n\
             [[tasks]]\nyaml = \"sciq_validation.yaml\"\nlimit = 8\n\n\
             [[tasks]]\nname = \"lambada_openai\"\nlimit = 4\n\n\
             [[variants]]\nkind = \"skip\"\nstart_layer = 13\n",
            smollm2()
        ),
    )
    .unwrap();

    let whole = tmp.path().join("whole");
    assert!(painters(&exp, &whole).status().unwrap().success());
    let expected = std::fs::read_to_string(whole.join("summary.csv")).unwrap();
    // baseline and skip, two metrics each.
    for task in ["sciq_validation", "lambada_openai"] {
        assert_eq!(
            expected.matches(&format!(",{task},")).count(),
            4,
            "{task} rows in\n{expected}"
        );
    }

    // The task file's cell comes first: 8 docs x 4 choices in chunks of 2 requests.
    let killed = tmp.path().join("killed");
    kill_after_chunks(painters(&exp, &killed).spawn().unwrap(), &killed, 3);
    assert!(painters(&exp, &killed).status().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(killed.join("summary.csv")).unwrap(),
        expected,
        "resumed summary differs"
    );

    for file in ["sciq.yaml", "sciq_validation.yaml"] {
        std::fs::remove_file(tmp.path().join(file)).unwrap();
    }
    for command in ["stats", "plot"] {
        let output = bin(&[command, s(&killed)]).output().unwrap();
        assert!(
            output.status.success(),
            "painters {command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let paired = std::fs::read_to_string(killed.join("paired.csv")).unwrap();
    assert!(paired.contains("sciq_validation"), "{paired}");
    let plots: Vec<String> = std::fs::read_dir(killed.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(plots.iter().any(|p| p.ends_with(".png")), "{plots:?}");
}

/// `painters run` with the test settings and every file it writes limited to `max_bytes`
/// (RLIMIT_FSIZE, with SIGXFSZ ignored so a write past it fails with EFBIG, as a full disk
/// fails a write with ENOSPC).
fn painters_on_a_small_disk(exp: &Path, out: &Path, max_bytes: u64) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = run(exp, out, &[]);
    // SAFETY: only async-signal-safe libc calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: max_bytes,
                rlim_max: max_bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    cmd.output().unwrap()
}

#[test]
fn a_full_disk_fails_in_one_line_and_the_rerun_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), 4, "13");
    let whole = tmp.path().join("whole");
    assert!(painters(&exp, &whole).status().unwrap().success());
    let expected = std::fs::read(whole.join("summary.csv")).unwrap();

    let full = tmp.path().join("full");
    let failed = painters_on_a_small_disk(&exp, &full, 2500);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    let message = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    println!("on a full disk: {message}");
    assert!(
        !failed.status.success(),
        "the run succeeded with 2500-byte files"
    );
    assert!(
        message.contains("File too large") && message.contains(s(&full)),
        "{message}"
    );
    let logged = logged_chunks(&full);
    println!("{logged} chunk(s) were logged before the disk filled up");

    assert!(painters(&exp, &full).status().unwrap().success());
    assert_eq!(
        std::fs::read(full.join("summary.csv")).unwrap(),
        expected,
        "summary after a full disk differs"
    );
}

#[test]
fn a_results_directory_of_another_harness_version_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), 1, "13");
    let out = tmp.path().join("old");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("resolved.toml"),
        "harness = \"painters-0.0/lm-eval-0.4.2\"\n",
    )
    .unwrap();
    let done = run(&exp, &out, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    println!("{}", stderr.trim());
    assert!(!done.status.success());
    assert!(
        stderr.contains("resolved.toml: written by harness \"painters-0.0/lm-eval-0.4.2\"")
            && stderr.contains("use another --out"),
        "{stderr}"
    );
    assert!(
        !out.join("store").exists(),
        "nothing is written into a refused directory"
    );
}

#[test]
fn a_checkpoint_differing_in_one_weight_computes_its_own_cells() {
    let tmp = tempfile::tempdir().unwrap();
    // SmolLM2 with one float of its last tensor changed: same files, sizes and shapes.
    let changed = tmp.path().join("smollm2-changed");
    std::fs::create_dir_all(&changed).unwrap();
    for entry in std::fs::read_dir(smollm2()).unwrap() {
        let path = entry.unwrap().path();
        let target = changed.join(path.file_name().unwrap());
        if path.extension().is_some_and(|e| e == "safetensors") {
            let mut bytes = std::fs::read(&path).unwrap();
            let at = bytes.len() - 4;
            let value = f32::from_le_bytes(bytes[at..].try_into().unwrap());
            bytes[at..].copy_from_slice(&(value + 0.5).to_le_bytes());
            std::fs::write(&target, bytes).unwrap();
        } else {
            std::os::unix::fs::symlink(&path, &target).unwrap();
        }
    }
    let out = tmp.path().join("out");
    let first = ok(run(&experiment(tmp.path(), 1, "13"), &out, &[])
        .output()
        .unwrap());
    let keys = |dir: &Path| -> std::collections::BTreeSet<String> {
        std::fs::read_dir(dir.join("store"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect()
    };
    let original = keys(&out);
    assert_eq!((computed_here(&first), original.len()), (4, 4), "{first}");

    std::fs::create_dir_all(tmp.path().join("changed")).unwrap();
    let exp = experiment_on(&changed, &tmp.path().join("changed"), 1, "13");
    let second = ok(run(&exp, &out, &[]).output().unwrap());
    assert_eq!(
        computed_here(&second),
        4,
        "the changed checkpoint reused the original's cells: {second}"
    );
    assert_eq!(
        keys(&out).len(),
        8,
        "the changed checkpoint's cells have keys of their own"
    );
}

#[test]
fn missing_data_is_refused_before_the_model_loads_with_how_to_get_it() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), 1, "13");
    let out = tmp.path().join("out");
    let done = bin(&[
        "run",
        s(&exp),
        "--out",
        s(&out),
        "--data",
        s(&tmp.path().join("no-data")),
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    println!("{}", stderr.trim());
    assert!(!done.status.success());
    // The task's own check names the experiment file and task: it runs before the model loads.
    assert!(
        stderr.contains(&format!("{}: tasks[0] (hellaswag): ", s(&exp)))
            && stderr.contains("`painters data fetch` downloads"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// The files of a complete grid.
const OUTPUTS: [&str; 3] = ["resolved.toml", "summary.csv", "medians.csv"];

fn outputs(dir: &Path) -> Vec<Vec<u8>> {
    OUTPUTS
        .iter()
        .map(|name| {
            std::fs::read(dir.join(name))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
        })
        .collect()
}

fn assert_same_outputs(dir: &Path, expected: &[Vec<u8>]) {
    for (name, (got, want)) in OUTPUTS.iter().zip(outputs(dir).iter().zip(expected)) {
        assert!(
            got == want,
            "{} differs from the unsharded run's",
            dir.join(name).display()
        );
    }
}

/// The scale-out tests' grid (four distinct plans: every one of four shards gets one)
/// and the files an unsharded run of it writes, computed once for all tests.
struct Reference {
    exp: PathBuf,
    out: PathBuf,
    outputs: Vec<Vec<u8>>,
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("painters-scale-out");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let exp = experiment(&dir, 2, "[11, 12, 13]");
        let out = dir.join("unsharded");
        let started = Instant::now();
        assert!(painters(&exp, &out).status().unwrap().success());
        println!("unsharded run: {:.1?}", started.elapsed());
        Reference {
            outputs: outputs(&out),
            exp,
            out,
        }
    })
}

fn ok(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// The command's one-line error.
fn error(output: Output) -> String {
    assert!(
        !output.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    stderr.lines().next().unwrap_or_default().to_string()
}

/// N in a run's "(N results computed here)".
fn computed_here(stdout: &str) -> usize {
    let (before, _) = stdout
        .split_once(" results computed here")
        .unwrap_or_else(|| panic!("{stdout}"));
    before.rsplit('(').next().unwrap().parse().unwrap()
}

/// Partial logs and lock files in a store: a finished grid has none.
fn leftovers(out: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(out.join("store")).unwrap();
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "partial" || x == "lock"))
        .collect()
}

/// `run`, started for one of several processes at once.
fn concurrent(exp: &Path, out: &Path, extra: &[&str]) -> std::process::Child {
    run(exp, out, extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn shards_in_separate_processes_merge_to_the_unsharded_files() {
    let reference = reference();
    let tmp = tempfile::tempdir().unwrap();
    // Shards 0 and 2 share one directory, 1 and 3 another.
    let dirs = [tmp.path().join("even"), tmp.path().join("odd")];
    let children: Vec<_> = (0..4)
        .map(|i| {
            concurrent(
                &reference.exp,
                &dirs[i % 2],
                &["--shard", &format!("{i}/4")],
            )
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let stdout = ok(child.wait_with_output().unwrap());
        assert!(
            stdout.contains(&format!(
                "shard {i}/4: 1 of 4 cells x 2 tasks in store/ (2 results computed here)"
            )),
            "{stdout}"
        );
    }
    for dir in &dirs {
        assert!(
            !dir.join("summary.csv").exists(),
            "a shard writes no summary"
        );
        assert_eq!(leftovers(dir), Vec::<PathBuf>::new());
    }

    let merge = |from: &[PathBuf], out: &Path| {
        let mut cmd = bin(&[
            "merge",
            s(&reference.exp),
            "--data",
            s(&data_dir()),
            "--out",
            s(out),
            "--from",
        ]);
        cmd.args(from).output().unwrap()
    };
    let incomplete = tmp.path().join("incomplete");
    let e = error(merge(&dirs[..1], &incomplete));
    assert!(
        e.contains(&format!(
            "is in none of the shards given (--from {})",
            s(&dirs[0])
        )) && e.contains("cell \"")
            && e.contains("task "),
        "{e}"
    );
    assert!(!incomplete.join("summary.csv").exists());

    let merged = tmp.path().join("merged");
    let stdout = ok(merge(&dirs, &merged));
    assert!(
        stdout.contains("8 results copied from 2 shard directories"),
        "{stdout}"
    );
    assert_same_outputs(&merged, &reference.outputs);
}

#[test]
fn device_workers_write_the_unsharded_files() {
    let reference = reference();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("devices");
    let stdout = ok(run(&reference.exp, &out, &["--devices", "cpu,cpu"])
        .output()
        .unwrap());
    assert!(stdout.contains("on 2 workers"), "{stdout}");
    assert_same_outputs(&out, &reference.outputs);
    assert!(out.join("logs/shard-1-of-2.log").exists());

    // A worker that fails is named with its device and its error; the others finish.
    let failing = tmp.path().join("failing");
    std::fs::create_dir_all(failing.join("store")).unwrap();
    for entry in std::fs::read_dir(reference.out.join("store")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, failing.join("store").join(path.file_name().unwrap())).unwrap();
    }
    let one_result = std::fs::read_dir(failing.join("store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    std::fs::remove_file(one_result).unwrap();
    let e = error(
        run(&reference.exp, &failing, &["--devices", "cuda:99,cuda:99"])
            .output()
            .unwrap(),
    );
    assert!(
        e.starts_with("error: the worker on cuda:99 (shard ")
            && e.contains("device \"cuda:99\"")
            && e.contains("log: "),
        "{e}"
    );
    assert!(!failing.join("summary.csv").exists());

    let e = error(
        run(&reference.exp, &out, &["--devices", "0,gpu"])
            .output()
            .unwrap(),
    );
    assert!(
        e.contains("'gpu'")
            && e.contains("--devices")
            && e.contains("(valid: cpu, cuda, cuda:N, N for cuda:N)"),
        "{e}"
    );
}

#[test]
fn two_runs_on_one_directory_finish_with_the_unsharded_files() {
    let reference = reference();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shared");
    let children: Vec<_> = (0..2)
        .map(|_| concurrent(&reference.exp, &out, &[]))
        .collect();
    let computed: Vec<usize> = children
        .into_iter()
        .map(|child| computed_here(&ok(child.wait_with_output().unwrap())))
        .collect();
    println!("results computed by each of two runs on one directory: {computed:?}");
    // Each of the 4 x 2 results is computed exactly once, and both runs took a share.
    assert_eq!(computed.iter().sum::<usize>(), 8, "{computed:?}");
    assert!(computed.iter().all(|&n| n > 0), "{computed:?}");
    assert_same_outputs(&out, &reference.outputs);
    assert_eq!(leftovers(&out), Vec::<PathBuf>::new());
}

#[test]
fn shard_flags_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), 4, "[11, 12, 13]");
    let out = tmp.path().join("out");
    let e = error(run(&exp, &out, &["--shard", "4/4"]).output().unwrap());
    assert!(e.contains("--shard") && e.contains("0..=3"), "{e}");
    let e = error(run(&exp, &out, &["--shard", "two"]).output().unwrap());
    assert!(e.contains("--shard") && e.contains("expected I/N"), "{e}");
    let e = error(
        bin(&[
            "merge",
            s(&exp),
            "--from",
            s(&tmp.path().join("nowhere")),
            "--out",
            s(&out),
        ])
        .output()
        .unwrap(),
    );
    assert!(
        e.contains("--from") && e.contains("nowhere is not a results directory"),
        "{e}"
    );
}

#[test]
fn slurm_writes_a_requeueable_array_and_a_merge_that_waits_for_it() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), 4, "[11, 12, 13]");
    let out = tmp.path().join("results");
    let slurm = |extra: &[&str]| {
        let mut cmd = bin(&["slurm", s(&exp), "--out", s(&out)]);
        cmd.args(extra).current_dir(tmp.path()).output().unwrap()
    };
    let stdout = ok(slurm(&[
        "--shards",
        "3",
        "--partition",
        "gpu",
        "--time",
        "02:00:00",
        "--gpus-per-task",
        "1",
        "--device",
        "cuda",
        "--data",
        "/data",
    ]));
    assert!(
        stdout.contains("sh ") && stdout.contains("sbatch --dependency=afterok:<array job id>"),
        "{stdout}"
    );
    let read = |name: &str| std::fs::read_to_string(out.join("slurm").join(name)).unwrap();
    let painters = env!("CARGO_BIN_EXE_painters");
    let (exp, out_dir, cwd) = (s(&exp), s(&out), s(tmp.path()));

    let shards = read("shards.sbatch");
    for line in [
        "#!/bin/bash".to_string(),
        "#SBATCH --job-name=painters-exp".into(),
        "#SBATCH --ntasks=1".into(),
        format!("#SBATCH --chdir={cwd}"),
        format!("#SBATCH --output={out_dir}/slurm/logs/shard-%a.out"),
        "#SBATCH --partition=gpu".into(),
        "#SBATCH --array=0-2".into(),
        "#SBATCH --requeue".into(),
        "#SBATCH --time=02:00:00".into(),
        "#SBATCH --gpus-per-task=1".into(),
        format!(
            "exec '{painters}' run '{exp}' --shard \"$SLURM_ARRAY_TASK_ID/3\" --out '{out_dir}' --device 'cuda' --data '/data'"
        ),
    ] {
        assert!(
            shards.lines().any(|l| l == line),
            "no line {line:?} in\n{shards}"
        );
    }
    let merge = read("merge.sbatch");
    assert!(merge.lines().any(|l| l == format!("exec '{painters}' merge '{exp}' --from '{out_dir}' --out '{out_dir}' --data '/data'")), "{merge}");
    assert!(
        merge.contains("#SBATCH --job-name=painters-exp-merge")
            && !merge.contains("--array")
            && !merge.contains("--gpus"),
        "{merge}"
    );
    for name in ["shards.sbatch", "merge.sbatch", "submit.sh"] {
        let syntax = Command::new("bash")
            .args(["-n", s(&out.join("slurm").join(name))])
            .status()
            .unwrap();
        assert!(syntax.success(), "{name} is not valid shell");
    }

    // submit.sh chains the merge on the array job, as a stand-in sbatch records.
    let fake = tmp.path().join("bin");
    std::fs::create_dir_all(&fake).unwrap();
    let record = tmp.path().join("sbatch-calls");
    let sbatch = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\necho '4242;cluster'\n",
        s(&record)
    );
    std::fs::write(fake.join("sbatch"), sbatch).unwrap();
    std::fs::set_permissions(
        fake.join("sbatch"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", s(&fake), std::env::var("PATH").unwrap());
    let status = Command::new("sh")
        .arg(out.join("slurm/submit.sh"))
        .env("PATH", path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let calls = std::fs::read_to_string(&record).unwrap();
    assert_eq!(
        calls,
        format!(
            "--parsable {out_dir}/slurm/shards.sbatch\n--dependency=afterok:4242 {out_dir}/slurm/merge.sbatch\n"
        )
    );

    let e = error(slurm(&["--shards", "5"]));
    assert!(e.contains("--shards 5: expected 1..=4"), "{e}");
    let e = error(slurm(&["--shards", "2", "--time", "2h"]));
    assert!(e.contains("--time") && e.contains("[D-]HH:MM:SS"), "{e}");
}

/// `painters score` of `requests` (indices into `pool`) with `flags`: one output line per
/// request.
fn score_lines(dir: &Path, pool: &[String], requests: &[usize], flags: &[&str]) -> Vec<String> {
    let name = format!(
        "{}{}",
        requests
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("-"),
        flags.join("")
    );
    let (input, output) = (
        dir.join(format!("{name}.jsonl")),
        dir.join(format!("{name}.out")),
    );
    std::fs::write(
        &input,
        requests
            .iter()
            .map(|&r| format!("{}\n", pool[r]))
            .collect::<String>(),
    )
    .unwrap();
    let model = smollm2();
    let done = bin(&[
        "score",
        "--model",
        s(&model),
        "--requests",
        s(&input),
        "--out",
        s(&output),
        "--batch-size",
        "7",
    ])
    .args(flags)
    .env("OMP_NUM_THREADS", "1")
    .stdout(Stdio::null())
    .status()
    .unwrap();
    assert!(done.success());
    std::fs::read_to_string(output)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// What `--batch-invariant` promises: a request's record does not depend on which other
/// requests share the run, nor on their order. Requests 0..5 scored alone must equal,
/// byte for byte, the same requests inside a run of 9 in another order. Without the flag
/// the same comparison differs (asserted below, so that this test can fail): batches of
/// other shapes pad to other lengths and sum in another order.
#[test]
fn batch_invariant_records_do_not_depend_on_the_other_requests() {
    let tmp = tempfile::tempdir().unwrap();
    // Nine requests of different lengths (arbitrary ids inside SmolLM2's vocabulary).
    let pool: Vec<String> = (0..9)
        .map(|r: i64| {
            let ids = |n: i64, salt: i64| {
                (0..n)
                    .map(|k| ((r * 7919 + k * 104_729 + salt) % 49_000).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!(
                "{{\"context\": [{}], \"continuation\": [{}]}}",
                ids(5 + 9 * r, 1),
                ids(1 + r % 4, 2)
            )
        })
        .collect();
    let alone: Vec<usize> = (0..5).collect();
    let mixed = [7, 3, 0, 8, 4, 1, 6, 2, 5];
    let records = |flags: &[&str]| {
        let (first, second) = (
            score_lines(tmp.path(), &pool, &alone, flags),
            score_lines(tmp.path(), &pool, &mixed, flags),
        );
        let in_mixed: Vec<String> = alone
            .iter()
            .map(|r| second[mixed.iter().position(|m| m == r).unwrap()].clone())
            .collect();
        (first, in_mixed)
    };
    let (first, in_mixed) = records(&["--batch-invariant"]);
    assert_eq!(
        first, in_mixed,
        "--batch-invariant records depend on the other requests of the run"
    );
    let (first, in_mixed) = records(&["--no-reuse"]);
    assert_ne!(
        first, in_mixed,
        "without --batch-invariant the batches of the two runs score alike: this test shows nothing"
    );
}

/// The longest LAMBADA passage of the first `n` (long passages under reordered plans are
/// where multithreaded SGEMM's alignment-dependent paths showed).
fn long_passage(n: usize) -> String {
    let text = std::fs::read_to_string(data_dir().join("lambada/lambada_test.jsonl")).unwrap();
    let passages = text.lines().take(n).map(|l| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
            .as_str()
            .unwrap()
            .to_string()
    });
    passages.max_by_key(|p| p.len()).unwrap()
}

/// The same command gives the same numbers: `painters logprobs` under reordered and
/// parallel plans and `painters eval`, each run 20 times with libtorch's default thread
/// count, give one output each. Every MKL call runs in conditional numerical
/// reproducibility mode (MKL_VERBOSE reports it per call; without the mode it says
/// `CNR:OFF` and, once in a few runs, the last bits moved).
#[test]
fn the_same_command_gives_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let (model, passage) = (smollm2(), long_passage(200));
    let verbose = bin(&[
        "logprobs",
        "--model",
        s(&model),
        "--text",
        "One short sentence.",
        "--json",
    ])
    .env("MKL_VERBOSE", "1")
    .output()
    .unwrap();
    let calls: Vec<String> = String::from_utf8_lossy(&verbose.stdout)
        .lines()
        .filter(|l| l.contains("GEMM"))
        .map(str::to_string)
        .collect();
    assert!(
        !calls.is_empty() && calls.iter().all(|l| l.contains("CNR:AUTO,STRICT")),
        "MKL calls outside CNR mode: {:?}",
        calls.first()
    );

    let distinct = |command: &dyn Fn(usize) -> Vec<u8>| {
        (0..20)
            .map(command)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    for plan in [
        "0..11 19 18 17 16 15 14 13 12 11 20..30",
        "0..11 12 11 13..30",
        "0..11 [11|12|13|14|15|16|17|18|19] 20..30",
    ] {
        let logprobs = |_| {
            ok(bin(&[
                "logprobs",
                "--model",
                s(&model),
                "--text",
                &passage,
                "--plan",
                plan,
                "--json",
            ])
            .output()
            .unwrap())
            .into_bytes()
        };
        assert_eq!(
            distinct(&logprobs),
            1,
            "painters logprobs --plan {plan:?} gave different outputs"
        );
    }
    let eval = |run: usize| {
        let out = tmp.path().join(format!("eval-{run}"));
        ok(bin(&[
            "eval",
            "--model",
            s(&model),
            "--data",
            s(&data_dir()),
            "--tasks",
            "hellaswag",
            "--limit",
            "3",
            "--variant",
            "reverse",
            "--start-layer",
            "10",
        ])
        .args(["--out", s(&out)])
        .output()
        .unwrap());
        std::fs::read(out.join("hellaswag.jsonl")).unwrap()
    };
    assert_eq!(distinct(&eval), 1, "painters eval gave different records");
}
