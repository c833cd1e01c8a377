//! A reader that stops early (`painters plan x.toml | head -1`) ends the command quietly
//! with status 0, as in ripgrep, instead of a panic on the broken pipe.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

#[test]
fn plan_into_a_pipe_closed_after_one_line_exits_quietly_with_status_0() {
    // 500 reverse cells of a 2000-layer model: some MB of plan text, far more than a
    // pipe buffers, so the command is still writing when the reader goes away.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pipe");
    std::fs::create_dir_all(&dir).unwrap();
    let experiment = dir.join("many-cells.toml");
    let text = "[model]\ndir = \"m\"\nlayers = 2000\n\n[[tasks]]\nname = \"arc_easy\"\n\n\
                [[variants]]\nkind = \"reverse\"\nstart_layer = { from = 0, to = 499 }\n";
    std::fs::write(&experiment, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_painters"))
        .arg("plan")
        .arg(&experiment)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("cell "), "{first:?}");
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!((output.status.code(), stderr.as_ref()), (Some(0), ""));
}
