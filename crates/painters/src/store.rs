//! The result store of an experiment directory, keyed by content, never by path: a
//! (plan, task) cell's key hashes the model's identity (its full contents and settings,
//! [`crate::identity`]), the plan's canonical text, the task settings and the harness
//! version. Finished cells are `store/<key>.json` (metrics) + `store/<key>.jsonl` (items);
//! a cell in progress appends each answered chunk of requests to `store/<key>.partial`,
//! so a killed run resumes where it stopped and recomputes at most one chunk. Cells of one
//! task that are computed together (one plan trie) log into each other's partial logs
//! ([`Store::follower`]); each then finishes by replaying its own log.
//!
//! Several processes may work in one store (shards of a grid, or two runs of one
//! experiment): a process writes a cell's partial log and result only while it holds the
//! cell's claim, an exclusive `flock` on `store/<key>.lock` taken without blocking
//! ([`Store::claim`]), for the cell it computes and for each follower it logs into. A cell
//! claimed elsewhere is left to its holder and looked at again later; the kernel drops a
//! claim when its process dies, so a killed holder blocks nobody. A claim is only granted
//! for a cell found unfinished once locked, so the lock file can go as soon as the result
//! is written (a process that then locks the old file or a new one finds the cell
//! finished, and removes the file it made); a finished store has none. On NFS,
//! `flock` works where the client maps it onto NFS byte-range locks (Linux >= 2.6.12).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use eval_suite::{
    BackendError, GenerateRequest, ItemRecord, LanguageModel, LoglikelihoodRequest, TaskResult,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bump when stored results would no longer be comparable.
pub const HARNESS_VERSION: &str = "painters-0.2/lm-eval-0.4.13";

/// Errs if `results_dir/resolved.toml` names a harness version other than this one.
fn check_harness(results_dir: &Path) -> Result<()> {
    let path = results_dir.join("resolved.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let written = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("harness")?.as_str().map(str::to_string));
    match written {
        Some(v) if v == HARNESS_VERSION => Ok(()),
        v => anyhow::bail!(
            "{}: written by harness {}, this is {HARNESS_VERSION}; its results are not comparable: use another --out",
            path.display(),
            v.map_or("(unknown)".to_string(), |v| format!("{v:?}"))
        ),
    }
}

/// What of a task enters its cells' keys: its settings and, for a task file, the file's
/// resolved content (never its path, so a moved or copied file keeps its cells).
#[derive(Serialize)]
struct TaskKey<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_fewshot: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_file: Option<String>,
}

/// Key of one (plan, task) cell.
pub fn cell_key(
    model_id: &str,
    plan: &layer_plan::Plan,
    task: &crate::experiment::TaskSettings,
) -> String {
    let task = TaskKey {
        name: &task.name,
        limit: task.limit,
        offset: task.offset.filter(|&n| n > 0),
        num_fewshot: task.num_fewshot,
        task_file: eval_suite::task_file_identity(&task.name),
    };
    let text = format!(
        "{HARNESS_VERSION}\n{model_id}\n{}:{plan}\n{}",
        plan.num_layers(),
        serde_json::to_string(&task).expect("task settings serialise")
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

pub struct Store {
    dir: PathBuf,
}

/// A finished cell: the task result without items (they live in the JSONL) plus the
/// chance level of each metric, which needs the items to compute.
#[derive(Serialize, Deserialize)]
pub struct StoredResult {
    pub result: TaskResult,
    pub chance: Vec<(String, Option<f64>)>,
}

impl Store {
    /// Opens (creating) the store of `results_dir`, refusing a directory whose
    /// resolved.toml was written by another harness version: its results are not
    /// comparable and none of them would be reused.
    pub fn open(results_dir: &Path) -> Result<Self> {
        check_harness(results_dir)?;
        let dir = results_dir.join("store");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir })
    }

    /// The store of a results directory that must exist already.
    pub fn open_existing(results_dir: &Path) -> Result<Self> {
        check_harness(results_dir)?;
        let dir = results_dir.join("store");
        anyhow::ensure!(
            dir.is_dir(),
            "{} is not a results directory (it has no store/)",
            results_dir.display()
        );
        Ok(Self { dir })
    }

    /// Whether `key` is finished.
    pub fn has(&self, key: &str) -> bool {
        self.result_path(key).exists()
    }

    fn result_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    fn items_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.jsonl"))
    }

    /// The exclusive right to write unfinished `key`'s log and result, held until
    /// dropped; `None` if `key` is finished, or if another process holds it and not
    /// `wait` (which blocks until it is free).
    pub fn claim(&self, key: &str, wait: bool) -> Result<Option<Claim>> {
        let path = self.lock_path(key);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let locked = match wait {
            true => file.lock().map(|()| true),
            false => match file.try_lock() {
                Ok(()) => Ok(true),
                Err(std::fs::TryLockError::WouldBlock) => Ok(false),
                Err(std::fs::TryLockError::Error(e)) => Err(e),
            },
        };
        if !locked.with_context(|| format!("locking {}", path.display()))? {
            return Ok(None);
        }
        if self.has(key) {
            // Finished by another process while this one was getting here.
            let _ = std::fs::remove_file(&path);
            return Ok(None);
        }
        Ok(Some(Claim {
            key: key.to_owned(),
            _file: file,
        }))
    }

    /// Copies finished `key` from `other` (items first, the metrics file last, as
    /// [`Store::save`] writes them).
    pub fn import(&self, other: &Store, key: &str) -> Result<()> {
        for (from, to) in [
            (other.items_path(key), self.items_path(key)),
            (other.result_path(key), self.result_path(key)),
        ] {
            let bytes =
                std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
            crate::atomic::write(&to, &bytes)?;
        }
        Ok(())
    }

    pub fn load(&self, key: &str) -> Result<Option<StoredResult>> {
        let path = self.result_path(key);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
                format!("{}: unreadable stored result", path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The per-item records of finished `key`, in doc order.
    pub fn items(&self, key: &str) -> Result<Vec<ItemRecord>> {
        let path = self.items_path(key);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let record = |(i, line): (usize, &str)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}:{}: unreadable item record", path.display(), i + 1))
        };
        text.lines().enumerate().map(record).collect()
    }

    /// Writes a finished cell (items first, the metrics file last as its commit mark)
    /// and drops its partial log and lock file.
    pub fn save(&self, claim: &Claim, mut result: TaskResult) -> Result<()> {
        let key = claim.key.as_str();
        let chance = result
            .metrics
            .iter()
            .map(|m| {
                (
                    m.name.clone(),
                    eval_suite::stats::chance_level(&result, &m.name),
                )
            })
            .collect();
        crate::atomic::write_jsonl(&self.items_path(key), &result.items)?;
        result.items.clear();
        let stored = StoredResult { result, chance };
        crate::atomic::write(
            &self.result_path(key),
            serde_json::to_string_pretty(&stored)?.as_bytes(),
        )?;
        for done in [self.partial_path(key), self.lock_path(key)] {
            let _ = std::fs::remove_file(done);
        }
        Ok(())
    }

    fn lock_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.lock"))
    }

    fn partial_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.partial"))
    }

    /// A backend that replays the answers a killed run already logged for `key` and
    /// logs every new chunk of answers before returning it.
    pub fn resumable<'a>(
        &self,
        claim: &Claim,
        inner: &'a mut dyn LanguageModel,
    ) -> Result<Resumable<'a>> {
        let (log, logged) = self.open_log(&claim.key)?;
        Ok(Resumable { inner, logged, log })
    }

    /// The log of a cell that shares its computation with the cell being run: the
    /// runner's backend appends the answers it computed for this cell too, so that when
    /// its turn comes the cell replays them instead of recomputing. `None` if the cell is
    /// finished or another process holds it; the log keeps the cell's claim until dropped.
    pub fn follower(&self, key: &str) -> Result<Option<FollowerLog>> {
        let Some(claim) = self.claim(key, false)? else {
            return Ok(None);
        };
        let (log, logged) = self.open_log(key)?;
        Ok(Some(FollowerLog {
            logged: logged.into_iter().map(|c| c.requests).collect(),
            log,
            _claim: claim,
        }))
    }

    /// Opens `key`'s partial log for appending, after reading the chunks it holds and
    /// rewriting it without a line torn by a kill.
    fn open_log(&self, key: &str) -> Result<(ChunkLog, VecDeque<Chunk>)> {
        let path = self.partial_path(key);
        let mut logged = VecDeque::new();
        if let Ok(file) = File::open(&path) {
            // A line cut short by a kill is the end of what was logged.
            for line in BufReader::new(file).lines().map_while(|l| l.ok()) {
                match serde_json::from_str::<Chunk>(&line) {
                    Ok(chunk) => logged.push_back(chunk),
                    Err(_) => break,
                }
            }
        }
        crate::atomic::write_jsonl(&path, &logged)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok((ChunkLog(file), logged))
    }
}

/// A process's exclusive hold on one cell of a store (see the module docs).
pub struct Claim {
    key: String,
    /// The locked `store/<key>.lock`; closing it releases the lock.
    _file: File,
}

impl Claim {
    /// The claimed cell's key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A cell's append-only log of answered chunks, synced after every line.
struct ChunkLog(File);

impl ChunkLog {
    fn append(&mut self, chunk: &Chunk) -> Result<(), BackendError> {
        let line = serde_json::to_string(chunk).map_err(BackendError::new)?;
        writeln!(self.0, "{line}")
            .and_then(|()| self.0.sync_data())
            .map_err(BackendError::new)
    }
}

/// Another cell's log, as the backend computing for it sees it.
pub struct FollowerLog {
    /// Digests of the chunks it already holds.
    logged: std::collections::HashSet<String>,
    log: ChunkLog,
    _claim: Claim,
}

impl FollowerLog {
    /// Whether this cell still needs the answers to `requests`.
    pub fn needs(&self, requests: &[LoglikelihoodRequest]) -> bool {
        !self.logged.contains(&loglikelihood_digest(requests))
    }

    pub fn needs_rolling(&self, texts: &[String]) -> bool {
        !self.logged.contains(&digest_of(texts.iter().cloned()))
    }

    pub fn append(
        &mut self,
        requests: &[LoglikelihoodRequest],
        answers: Vec<(f64, bool)>,
    ) -> Result<(), BackendError> {
        self.record(
            loglikelihood_digest(requests),
            Answers::Loglikelihood(answers),
        )
    }

    pub fn append_rolling(
        &mut self,
        texts: &[String],
        answers: Vec<f64>,
    ) -> Result<(), BackendError> {
        self.record(digest_of(texts.iter().cloned()), Answers::Rolling(answers))
    }

    fn record(&mut self, requests: String, answers: Answers) -> Result<(), BackendError> {
        let chunk = Chunk { requests, answers };
        self.log.append(&chunk)?;
        self.logged.insert(chunk.requests);
        Ok(())
    }
}

/// One backend call's requests (hashed) and answers.
#[derive(Serialize, Deserialize)]
struct Chunk {
    requests: String,
    answers: Answers,
}

#[derive(Serialize, Deserialize)]
enum Answers {
    Loglikelihood(Vec<(f64, bool)>),
    Rolling(Vec<f64>),
    Generate(Vec<String>),
}

pub struct Resumable<'a> {
    inner: &'a mut dyn LanguageModel,
    /// Logged chunks not replayed yet, in call order.
    logged: VecDeque<Chunk>,
    log: ChunkLog,
}

impl Resumable<'_> {
    /// The logged answers of this call if the same requests were answered before, else
    /// `compute`'s, logged.
    fn answer(
        &mut self,
        requests: String,
        compute: impl FnOnce(&mut dyn LanguageModel) -> Result<Answers, BackendError>,
    ) -> Result<Answers, BackendError> {
        match self.logged.pop_front() {
            Some(chunk) if chunk.requests == requests => return Ok(chunk.answers),
            // The requests changed: nothing logged from here on is valid.
            _ => self.logged.clear(),
        }
        let chunk = Chunk {
            requests,
            answers: compute(self.inner)?,
        };
        self.log.append(&chunk)?;
        Ok(chunk.answers)
    }
}

fn digest_of(parts: impl Iterator<Item = String>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

fn loglikelihood_digest(reqs: &[LoglikelihoodRequest]) -> String {
    digest_of(
        reqs.iter()
            .flat_map(|r| [r.context.clone(), r.continuation.clone()]),
    )
}

fn mismatch() -> BackendError {
    BackendError::new("resumed answers do not match the request kind")
}

impl LanguageModel for Resumable<'_> {
    fn loglikelihood(
        &mut self,
        reqs: &[LoglikelihoodRequest],
    ) -> Result<Vec<(f64, bool)>, BackendError> {
        let key = loglikelihood_digest(reqs);
        match self.answer(key, |lm| lm.loglikelihood(reqs).map(Answers::Loglikelihood))? {
            Answers::Loglikelihood(a) => Ok(a),
            _ => Err(mismatch()),
        }
    }

    fn loglikelihood_rolling(&mut self, texts: &[String]) -> Result<Vec<f64>, BackendError> {
        let key = digest_of(texts.iter().cloned());
        match self.answer(key, |lm| {
            lm.loglikelihood_rolling(texts).map(Answers::Rolling)
        })? {
            Answers::Rolling(a) => Ok(a),
            _ => Err(mismatch()),
        }
    }

    fn generate_until(&mut self, reqs: &[GenerateRequest]) -> Result<Vec<String>, BackendError> {
        // A sampled request adds its settings and seed; greedy keys are as they were.
        let key = digest_of(reqs.iter().flat_map(|r| {
            [
                r.context.clone(),
                r.until.join("\u{1}"),
                r.max_tokens.to_string(),
            ]
            .into_iter()
            .chain(r.sampling.map(|s| format!("{s:?}")))
        }));
        match self.answer(key, |lm| lm.generate_until(reqs).map(Answers::Generate))? {
            Answers::Generate(a) => Ok(a),
            _ => Err(mismatch()),
        }
    }
}
