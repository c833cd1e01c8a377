//! `painters run` end to end on the real SmolLM2-135M: a run killed with SIGKILL in the
//! middle of a cell, then rerun with the same command, ends with a summary.csv
//! byte-identical to an uninterrupted run's; a finished grid reruns nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data_dir() -> PathBuf {
    std::env::var_os("PAINTERS_DATA").map(PathBuf::from).unwrap_or_else(|| workspace().join("../shared/data"))
}

fn experiment(dir: &Path) -> PathBuf {
    let model = workspace().join("models/smollm2-135m");
    assert!(model.join("config.json").exists(), "no SmolLM2 in {}: run `make setup`", model.display());
    let text = format!(
        "[model]\ndir = {model:?}\nbatch_size = 4\n\n\
         [[tasks]]\nname = \"hellaswag\"\nlimit = 6\n\n[[tasks]]\nname = \"lambada_openai\"\nlimit = 8\n\n\
         [[variants]]\nkind = \"skip\"\nstart_layer = 13\n"
    );
    let path = dir.join("exp.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn painters(exp: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_painters"));
    cmd.args(["run", exp.to_str().unwrap(), "--chunk-size", "2", "--out", out.to_str().unwrap(), "--data", data_dir().to_str().unwrap()]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Lines already logged in any in-progress cell of `out`.
fn logged_chunks(out: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(out.join("store")) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "partial"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default().lines().count())
        .sum()
}

#[test]
fn killed_run_resumes_to_the_identical_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path());

    let whole = tmp.path().join("whole");
    assert!(painters(&exp, &whole).status().unwrap().success());
    let expected = std::fs::read(whole.join("summary.csv")).unwrap();

    let killed = tmp.path().join("killed");
    let mut child = painters(&exp, &killed).spawn().unwrap();
    let start = Instant::now();
    while logged_chunks(&killed) < 3 {
        assert!(start.elapsed() < Duration::from_secs(300), "no chunk was logged");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join("summary.csv").exists(), "killed before the end, there is no summary yet");
    let logged = logged_chunks(&killed);
    println!("killed after {logged} logged chunk(s)");

    assert!(painters(&exp, &killed).status().unwrap().success());
    assert_eq!(std::fs::read(killed.join("summary.csv")).unwrap(), expected, "resumed summary differs");
    assert_eq!(logged_chunks(&killed), 0, "finished cells leave no partial logs");

    // A finished grid is read back from the store: same summary, nothing recomputed.
    let started = Instant::now();
    assert!(painters(&exp, &killed).status().unwrap().success());
    assert_eq!(std::fs::read(killed.join("summary.csv")).unwrap(), expected);
    println!("rerun of a finished grid took {:.1?}", started.elapsed());
}
