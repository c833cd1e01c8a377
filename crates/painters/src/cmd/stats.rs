//! `painters stats DIR`: DIR/paired.csv, the paired comparisons of [`crate::paired`]. Its
//! own step, not part of `painters run`: the bootstrap over every pair of cells can take
//! minutes on a large grid, and a run's files do not depend on it.

use anyhow::Result;

use crate::cli::StatsCmd;
use crate::outln;

pub fn run(cmd: StatsCmd) -> Result<()> {
    let rows = crate::paired::write(&cmd.dir)?;
    outln!("{}: {rows} rows", cmd.dir.join("paired.csv").display())
}
