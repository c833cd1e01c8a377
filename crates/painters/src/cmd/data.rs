//! `painters data fetch`: the official benchmark files, verified, in the layout the
//! tasks read.

use anyhow::Result;

use crate::cli::{DataArgs, DataCmd};
use crate::fetch::fetch;
use crate::outln;

pub fn run(cmd: DataCmd) -> Result<()> {
    let DataCmd::Fetch(cmd) = cmd;
    let dir = super::data_dir(&DataArgs { data: cmd.dir });
    let report = fetch(&cmd.tasks, &dir, cmd.base_url.as_deref(), &mut |message| {
        crate::output::progress(message)
    })?;
    outln!(
        "{}: {} file(s) written from {} download(s), {} already present and verified",
        dir.display(),
        report.written.len(),
        report.downloaded.len(),
        report.present.len()
    )?;
    Ok(())
}
