//! What commands print to stdout, written so that a reader that stops early is no error.
//!
//! `painters plan x.toml | head -1` closes the pipe after one line. Rust ignores SIGPIPE,
//! so the next write fails with `BrokenPipe`, on which `println!` panics. Restoring the
//! default SIGPIPE instead would kill the process by the signal (status 141 under
//! `pipefail`); like ripgrep, painters exits quietly with status 0: every line to stdout
//! goes through [`outln!`], which returns [`StdoutClosed`] for a closed pipe (any other
//! write error is reported as one), and `main` treats that error as success. Progress
//! goes to stderr (indicatif's bars, `data fetch`'s messages) and never fails a command.

use std::fmt;
use std::io::{self, Write};

/// The reader of stdout has gone away; `main` exits with status 0 on it.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// `println!` that returns its error: [`StdoutClosed`] when the reader has gone away.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}

#[doc(hidden)]
pub fn write_line(line: fmt::Arguments) -> anyhow::Result<()> {
    match writeln!(io::stdout().lock(), "{line}") {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
    }
}

/// A progress message on stderr; lost, not fatal, if stderr is closed.
pub fn progress(message: &str) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}
