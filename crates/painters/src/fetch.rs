//! The engine of `painters data fetch`: download the benchmark files from their official
//! origins, verify every byte against a pinned sha256, and lay them out the way the evaluation
//! code reads them (`arc/ARC-Challenge-Test.jsonl`, `mmlu/data/test/<subject>_test.csv`, …).
//!
//! [`sources`] is the whole of what is known: each official URL, what it holds, and the
//! sha256 of every file taken from it (the values recorded in `shared/data/*/SOURCE.md`), as
//! the tasks' registry entries in eval-suite declare them.
//! MMLU is the exception: only the sha256 of its whole tar is published, so the tar is checked
//! before anything is extracted, and what was extracted is recorded in `mmlu/SHA256SUMS` so that
//! a later run can tell it is still intact.
//!
//! What it guarantees: a file already present with the right sha256 is not downloaded again;
//! each file is written to a temporary file beside its destination and renamed into place only
//! once verified, and the files of one origin land together or not at all; a failure is one
//! error line naming the URL (and archive member) and, for a mismatch, both hashes.
//!
//! What it deliberately does not do: no retries, resuming or parallel downloads; no fallback to
//! other hosts (point `base_url` at a mirror instead); no format conversion (the local mirror's
//! Hugging Face-format WinoGrande copy is not produced here, only the official `dev.jsonl`); and
//! it stops at the first failing origin, keeping what earlier origins wrote.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

pub use eval_suite::source::{File, Form, Member, Source, Tar};

/// Every benchmark file `fetch` knows, by official origin (see `shared/data/ORIGINS.md`): the
/// [`Source`]s the tasks of [`eval_suite::registry`] declare, in registry order, each once
/// (both ARC tasks list the one ARC zip).
pub fn sources() -> &'static [Source] {
    static SOURCES: LazyLock<Vec<Source>> = LazyLock::new(|| {
        let mut sources: Vec<Source> = Vec::new();
        for source in eval_suite::registry().iter().flat_map(|task| task.sources) {
            if !sources.contains(source) {
                sources.push(*source);
            }
        }
        sources
    });
    &SOURCES
}

/// The manifest of a [`Tar`]'s extracted files, written in its `dest` (`sha256sum` format).
pub const MANIFEST: &str = "SHA256SUMS";

/// Largest download accepted, a guard against a runaway server (MMLU's tar is about 166 MB).
const MAX_DOWNLOAD_BYTES: u64 = 1 << 30;

/// The task names [`fetch`] accepts, in table order.
pub fn task_names() -> Vec<&'static str> {
    names(sources())
}

fn names(sources: &[Source]) -> Vec<&'static str> {
    let mut names = Vec::new();
    for task in sources.iter().flat_map(Source::tasks) {
        if !names.contains(&task) {
            names.push(task);
        }
    }
    names
}

/// What a [`fetch`] did.
#[derive(Debug, Default)]
pub struct FetchReport {
    /// URLs downloaded, each at most once.
    pub downloaded: Vec<String>,
    /// Files written (full paths).
    pub written: Vec<PathBuf>,
    /// Files already present with the right sha256, left alone (full paths).
    pub present: Vec<PathBuf>,
}

/// Why a [`fetch`] stopped. Each renders as one line.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("unknown task {unknown}; valid tasks: {valid}")]
    UnknownTask { unknown: String, valid: String },
    #[error(
        "{task} cannot be fetched: no official download serves the files it reads; valid tasks: {valid}"
    )]
    NotFetchable { task: String, valid: String },
    #[error("download failed: {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("sha256 mismatch: {what}: expected {expected}, found {found}")]
    Mismatch {
        what: String,
        expected: String,
        found: String,
    },
    #[error("bad archive: {what}: {reason}")]
    Archive { what: String, reason: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Downloads and verifies the files of `tasks` (all tasks when empty) into `dir`.
///
/// `base_url` replaces the official hosts: `https://HOST/PATH` is fetched as
/// `{base_url}/HOST/PATH`. `progress` receives one line per step.
pub fn fetch(
    tasks: &[String],
    dir: &Path,
    base_url: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> Result<FetchReport, FetchError> {
    fetch_from(sources(), tasks, dir, base_url, progress)
}

/// [`fetch`] over another table than [`sources`] (a test's, or a mirror's with other hashes).
pub fn fetch_from(
    sources: &[Source],
    tasks: &[String],
    dir: &Path,
    base_url: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> Result<FetchReport, FetchError> {
    let known = names(sources);
    let unknown: Vec<&str> = tasks
        .iter()
        .map(String::as_str)
        .filter(|t| !known.contains(t))
        .collect();
    // A registered task whose entry declares no source (e.g. openbookqa).
    if let Some(task) = unknown
        .iter()
        .find(|&&t| eval_suite::task(t).is_some_and(|def| def.name == t))
    {
        return Err(FetchError::NotFetchable {
            task: task.to_string(),
            valid: known.join(", "),
        });
    }
    if !unknown.is_empty() {
        return Err(FetchError::UnknownTask {
            unknown: unknown.join(", "),
            valid: known.join(", "),
        });
    }
    let wanted = |task: &str| tasks.is_empty() || tasks.iter().any(|t| t == task);

    let mut run = Run {
        agent: ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build()
            .into(),
        dir,
        progress,
        report: FetchReport::default(),
    };
    for source in sources {
        let url = match base_url {
            Some(base) => format!(
                "{}/{}",
                base.trim_end_matches('/'),
                source.url.trim_start_matches("https://")
            ),
            None => source.url.to_string(),
        };
        match source.form {
            Form::Plain(file) if wanted(file.task) => run.plain(&url, &file)?,
            Form::Zip(members) => {
                let members: Vec<&Member> =
                    members.iter().filter(|m| wanted(m.file.task)).collect();
                if !members.is_empty() {
                    run.zip(&url, &members)?;
                }
            }
            Form::Tar(tar) if wanted(tar.task) => run.tar(&url, source.url, &tar)?,
            _ => {}
        }
    }
    Ok(run.report)
}

/// The state of one [`fetch`].
struct Run<'a> {
    agent: ureq::Agent,
    dir: &'a Path,
    progress: &'a mut dyn FnMut(&str),
    report: FetchReport,
}

impl Run<'_> {
    fn plain(&mut self, url: &str, file: &File) -> Result<(), FetchError> {
        if self.present(file)? {
            return Ok(());
        }
        let dest = self.dir.join(file.dest);
        let (tmp, found) = self.download(url, parent(&dest, self.dir))?;
        check(found, file.sha256, || url.to_string())?;
        self.commit(vec![(tmp, dest)], true)
    }

    fn zip(&mut self, url: &str, members: &[&Member]) -> Result<(), FetchError> {
        let mut needed = Vec::new();
        for member in members {
            if !self.present(&member.file)? {
                needed.push(member);
            }
        }
        if needed.is_empty() {
            return Ok(());
        }
        let (archive, _) = self.download(url, self.dir)?;
        let reopened = archive.reopen().map_err(|e| io_error(archive.path(), e))?;
        let mut zip = zip::ZipArchive::new(reopened).map_err(|e| FetchError::Archive {
            what: url.to_string(),
            reason: e.to_string(),
        })?;
        let mut staged = Vec::new();
        for member in needed {
            let what = format!("{url} member {}", member.name);
            let bad = |e: &dyn std::fmt::Display| FetchError::Archive {
                what: what.clone(),
                reason: e.to_string(),
            };
            let mut entry = zip.by_name(member.name).map_err(|e| bad(&e))?;
            let dest = self.dir.join(member.file.dest);
            let (tmp, found) = stage(&mut entry, parent(&dest, self.dir), |e| bad(&e))?;
            check(found, member.file.sha256, || what.clone())?;
            staged.push((tmp, dest));
        }
        self.commit(staged, true)
    }

    /// `origin` is the official URL, recorded in the manifest whatever host served the tar.
    fn tar(&mut self, url: &str, origin: &str, tar: &Tar) -> Result<(), FetchError> {
        let root = self.dir.join(tar.dest);
        let header = format!("# extracted from {origin}, sha256 {}", tar.sha256);
        if let Some(files) = intact(&root, &header, tar)? {
            (self.progress)(&format!(
                "{}: present, {} files match {MANIFEST}",
                root.display(),
                files.len()
            ));
            self.report.present.extend(files);
            return Ok(());
        }
        let (archive, found) = self.download(url, self.dir)?;
        check(found, tar.sha256, || url.to_string())?;
        let bad = |what: &str, e: io::Error| FetchError::Archive {
            what: what.to_string(),
            reason: e.to_string(),
        };
        let reopened = archive.reopen().map_err(|e| io_error(archive.path(), e))?;
        let mut tarball = tar::Archive::new(reopened);
        let mut staged = Vec::new();
        let mut manifest = header + "\n";
        for entry in tarball.entries().map_err(|e| bad(url, e))? {
            let mut entry = entry.map_err(|e| bad(url, e))?;
            let path = entry
                .path()
                .map_err(|e| bad(url, e))?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            if !entry.header().entry_type().is_file() || !tar.keeps(&path) {
                continue;
            }
            let what = format!("{url} member {path}");
            let dest = root.join(&path);
            let (tmp, found) = stage(&mut entry, parent(&dest, &root), |e| bad(&what, e))?;
            let _ = writeln!(manifest, "{found}  {path}");
            staged.push((tmp, dest));
        }
        let extracted = staged.len();
        let mut list = temp_in(&root)?;
        list.write_all(manifest.as_bytes())
            .map_err(|e| io_error(list.path(), e))?;
        staged.push((list, root.join(MANIFEST)));
        self.commit(staged, false)?;
        (self.progress)(&format!(
            "{}: {extracted} files extracted from the verified tar, listed in {MANIFEST}",
            root.display()
        ));
        Ok(())
    }

    /// Whether `file` is already in place with the right sha256.
    fn present(&mut self, file: &File) -> Result<bool, FetchError> {
        let path = self.dir.join(file.dest);
        let Some(found) = sha256_of(&path)? else {
            return Ok(false);
        };
        if found == file.sha256 {
            (self.progress)(&format!("{}: present, sha256 ok", path.display()));
            self.report.present.push(path);
            Ok(true)
        } else {
            (self.progress)(&format!(
                "{}: present but sha256 differs, refetching",
                path.display()
            ));
            Ok(false)
        }
    }

    /// Streams `url` into a temporary file in `dir`; returns it with the sha256 of its bytes.
    fn download(&mut self, url: &str, dir: &Path) -> Result<(NamedTempFile, String), FetchError> {
        (self.progress)(&format!("downloading {url}"));
        let failed = |e: &dyn std::fmt::Display| FetchError::Download {
            url: url.to_string(),
            reason: e.to_string(),
        };
        let response = self.agent.get(url).call().map_err(|e| failed(&e))?;
        let mut body = response
            .into_body()
            .into_with_config()
            .limit(MAX_DOWNLOAD_BYTES)
            .reader();
        let staged = stage(&mut body, dir, |e| failed(&e))?;
        self.report.downloaded.push(url.to_string());
        Ok(staged)
    }

    /// Renames verified temporary files onto their destinations, telling each if `each`.
    fn commit(
        &mut self,
        staged: Vec<(NamedTempFile, PathBuf)>,
        each: bool,
    ) -> Result<(), FetchError> {
        for (tmp, dest) in staged {
            tmp.as_file()
                .sync_all()
                .map_err(|e| io_error(tmp.path(), e))?;
            tmp.persist(&dest).map_err(|e| io_error(&dest, e.error))?;
            if each {
                (self.progress)(&format!("{}: written, sha256 ok", dest.display()));
            }
            self.report.written.push(dest);
        }
        Ok(())
    }
}

/// The files a [`Tar`]'s manifest under `root` lists, if it has the expected `header` and every
/// listed file still has its recorded sha256; `None` means extract again.
fn intact(root: &Path, header: &str, tar: &Tar) -> Result<Option<Vec<PathBuf>>, FetchError> {
    let path = root.join(MANIFEST);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path, e)),
    };
    let mut lines = text.lines();
    if lines.next() != Some(header) {
        return Ok(None);
    }
    let mut files = Vec::new();
    for line in lines {
        let Some((sha256, name)) = line.split_once("  ") else {
            return Ok(None);
        };
        let file = root.join(name);
        if !tar.keeps(name) || sha256_of(&file)?.as_deref() != Some(sha256) {
            return Ok(None);
        }
        files.push(file);
    }
    Ok((!files.is_empty()).then_some(files))
}

fn check(found: String, expected: &str, what: impl FnOnce() -> String) -> Result<(), FetchError> {
    if found == expected {
        Ok(())
    } else {
        Err(FetchError::Mismatch {
            what: what(),
            expected: expected.to_string(),
            found,
        })
    }
}

/// The sha256 of the file at `path`, or `None` if there is none.
fn sha256_of(path: &Path) -> Result<Option<String>, FetchError> {
    let mut file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    hash_stream(&mut file, |_| Ok(()), |e| io_error(path, e)).map(Some)
}

/// Streams `from` into a new temporary file in `dir`; returns it with the sha256 of its bytes.
/// `read_failed` turns an error reading `from` into the caller's error.
fn stage(
    from: &mut dyn Read,
    dir: &Path,
    read_failed: impl Fn(io::Error) -> FetchError,
) -> Result<(NamedTempFile, String), FetchError> {
    let mut tmp = temp_in(dir)?;
    let path = tmp.path().to_path_buf();
    let found = hash_stream(
        from,
        |chunk| tmp.write_all(chunk).map_err(|e| io_error(&path, e)),
        read_failed,
    )?;
    Ok((tmp, found))
}

/// Reads `from` to its end, handing each chunk to `sink`; returns the sha256 of all of it.
fn hash_stream(
    from: &mut dyn Read,
    mut sink: impl FnMut(&[u8]) -> Result<(), FetchError>,
    read_failed: impl Fn(io::Error) -> FetchError,
) -> Result<String, FetchError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_failed(e)),
        };
        hasher.update(&buf[..n]);
        sink(&buf[..n])?;
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A new temporary file in `dir` (created if needed), removed unless persisted.
fn temp_in(dir: &Path) -> Result<NamedTempFile, FetchError> {
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".fetch-").suffix(".part");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(dir).map_err(|e| io_error(dir, e))
}

/// The directory `path` is in (`fallback` for a bare name).
fn parent<'p>(path: &'p Path, fallback: &'p Path) -> &'p Path {
    path.parent().unwrap_or(fallback)
}

fn io_error(path: &Path, source: io::Error) -> FetchError {
    FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}
