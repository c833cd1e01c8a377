//! Files a user keeps are written whole or not at all: into a temporary file beside the
//! target, then renamed over it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// `items` as JSON Lines (one compact JSON document per line), written atomically.
pub fn write_jsonl<'a, T: serde::Serialize + 'a>(
    path: &Path,
    items: impl IntoIterator<Item = &'a T>,
) -> Result<()> {
    let mut lines = Vec::new();
    for item in items {
        serde_json::to_writer(&mut lines, item)?;
        lines.push(b'\n');
    }
    write(path, &lines)
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    // Temporary files are private (0600); a result is an ordinary file.
    let mut permissions = tmp.as_file().metadata()?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o644);
    tmp.as_file().set_permissions(permissions)?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
