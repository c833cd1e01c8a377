//! Where a task's benchmark files officially come from, as data: each official URL, what it
//! serves, and the sha256 of every file taken from it, so that a downloader (painters'
//! `data fetch`) can get and verify exactly the bytes the task reads.
//!
//! Tasks declare these in their registry entry ([`crate::TaskDef::sources`]); this crate
//! never downloads anything itself.

/// One official download: where it is and what it holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Source {
    /// The official URL (always `https://HOST/PATH`).
    pub url: &'static str,
    /// What the URL serves.
    pub form: Form,
}

/// What a [`Source`] URL serves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Form {
    /// The file itself.
    Plain(File),
    /// A zip archive; each listed member is verified on its own.
    Zip(&'static [Member]),
    /// A tar archive known only by its own sha256.
    Tar(Tar),
}

/// A file of the layout, with the task that needs it and its pinned sha256.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct File {
    /// The lm-evaluation-harness task name.
    pub task: &'static str,
    /// Where it goes, relative to the data directory.
    pub dest: &'static str,
    /// Lower-case hex sha256 of its bytes.
    pub sha256: &'static str,
}

/// A zip member and the file it becomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Member {
    /// The member's path inside the archive.
    pub name: &'static str,
    /// Where it goes and what it must hash to.
    pub file: File,
}

/// A tar archive verified as a whole, then partly extracted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tar {
    /// The lm-evaluation-harness task name.
    pub task: &'static str,
    /// Lower-case hex sha256 of the whole archive.
    pub sha256: &'static str,
    /// The directory, relative to the data directory, that entries are extracted under.
    pub dest: &'static str,
    /// Regular-file entries `DIR NAME SUFFIX` are extracted, for each `(DIR, SUFFIX)` here and a
    /// plain `NAME` (ASCII letters, digits, `_` and `-`); everything else is left out.
    pub keep: &'static [(&'static str, &'static str)],
}

impl Tar {
    /// Whether the entry at `path` (as stored in the archive) is one to extract.
    pub fn keeps(&self, path: &str) -> bool {
        self.keep.iter().any(|(dir, suffix)| {
            path.strip_prefix(dir)
                .and_then(|rest| rest.strip_suffix(suffix))
                .is_some_and(|name| {
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                })
        })
    }
}

impl Source {
    /// The task names its files are for, in order, each once.
    pub fn tasks(&self) -> Vec<&'static str> {
        let mut tasks: Vec<&'static str> = match self.form {
            Form::Plain(file) => vec![file.task],
            Form::Zip(members) => members.iter().map(|m| m.file.task).collect(),
            Form::Tar(tar) => vec![tar.task],
        };
        tasks.dedup();
        tasks
    }
}
