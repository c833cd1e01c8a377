//! `painters::fetch` against a loopback HTTP mirror built from the local copies in
//! `shared/data` (this machine cannot reach the official hosts). The mirror lays each official
//! URL `https://HOST/PATH` out as `HOST/PATH`, the shape `base_url` expects.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use painters::fetch::{
    FetchError, FetchReport, Form, MANIFEST, Source, Tar, fetch, fetch_from, sources, task_names,
};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// The local benchmark copies: `$PAINTERS_SHARED_DATA`, else `shared/data` beside the repo.
fn shared_data() -> PathBuf {
    let dir = std::env::var_os("PAINTERS_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    assert!(
        dir.join("ORIGINS.md").is_file(),
        "no benchmark data at {}",
        dir.display()
    );
    dir
}

/// The local file holding `dest`'s content. WinoGrande's canonical `dev.jsonl` is not available
/// here, so its Hugging Face-format copy (same rows, no `qID`, different bytes) stands in.
fn local(dest: &str) -> PathBuf {
    match dest {
        "winogrande/dev.jsonl" => shared_data().join("winogrande/winogrande_xl-validation.jsonl"),
        _ => shared_data().join(dest),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, b| {
            hex.push_str(&format!("{b:02x}"));
            hex
        })
}

/// Where the mirror keeps `url`.
fn mirrored(root: &Path, url: &str) -> PathBuf {
    root.join(
        url.strip_prefix("https://")
            .expect("official URLs are https"),
    )
}

/// A mirror directory holding every source: plain files copied, the zips built from the local
/// member files, MMLU's tar built from the local CSVs (so it cannot match the official tar).
fn build_mirror() -> TempDir {
    let root = TempDir::new().unwrap();
    for source in sources() {
        let path = mirrored(root.path(), source.url);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        match source.form {
            Form::Plain(file) => {
                fs::copy(local(file.dest), &path).unwrap();
            }
            Form::Zip(members) => {
                let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                for member in members {
                    zip.start_file(member.name, options).unwrap();
                    zip.write_all(&fs::read(local(member.file.dest)).unwrap())
                        .unwrap();
                }
                zip.finish().unwrap();
            }
            Form::Tar(tar) => {
                let mut builder = tar::Builder::new(fs::File::create(&path).unwrap());
                builder
                    .append_dir_all("data", shared_data().join(tar.dest).join("data"))
                    .unwrap();
                builder.finish().unwrap();
            }
        }
    }
    root
}

/// A file server for `root` on 127.0.0.1 (ephemeral port), stopped when dropped.
struct Mirror {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    requests: Arc<AtomicUsize>,
    base_url: String,
}

impl Mirror {
    fn serve(root: &Path) -> Mirror {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (server, requests, root) = (server.clone(), requests.clone(), root.to_path_buf());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    requests.fetch_add(1, Ordering::SeqCst);
                    let path = request.url().trim_start_matches('/');
                    let file = (!path.split('/').any(|part| part == ".."))
                        .then(|| fs::File::open(root.join(path)).ok())
                        .flatten();
                    let _ = match file {
                        Some(file) => request.respond(tiny_http::Response::from_file(file)),
                        None => request.respond(tiny_http::Response::empty(404)),
                    };
                }
            })
        };
        Mirror {
            server,
            thread: Some(thread),
            requests,
            base_url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn fetch(&self, tasks: &[&str], dir: &Path) -> Result<FetchReport, FetchError> {
        let tasks: Vec<String> = tasks.iter().map(|t| t.to_string()).collect();
        fetch(&tasks, dir, Some(&self.base_url), &mut |line| {
            eprintln!("{line}")
        })
    }

    fn fetch_from(&self, sources: &[Source], dir: &Path) -> Result<FetchReport, FetchError> {
        fetch_from(sources, &[], dir, Some(&self.base_url), &mut |line| {
            eprintln!("{line}")
        })
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    found.sort();
    found
}

#[test]
fn table_is_well_formed() {
    assert_eq!(
        task_names(),
        [
            "arc_challenge",
            "arc_easy",
            "hellaswag",
            "gsm8k",
            "winogrande",
            "piqa",
            "lambada_openai",
            "boolq",
            "mmlu"
        ]
    );
    let is_sha256 = |s: &str| {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    for source in sources() {
        assert!(source.url.starts_with("https://"), "{}", source.url);
        match source.form {
            Form::Plain(file) => assert!(is_sha256(file.sha256), "{}", file.dest),
            Form::Zip(members) => {
                for member in members {
                    assert!(is_sha256(member.file.sha256), "{}", member.name);
                }
            }
            Form::Tar(tar) => assert!(is_sha256(tar.sha256), "{}", source.url),
        }
    }
}

#[test]
fn fetches_byte_identical_files_once() {
    let mirror_dir = build_mirror();
    let mirror = Mirror::serve(mirror_dir.path());
    let target = TempDir::new().unwrap();
    let tasks = [
        "arc_challenge",
        "arc_easy",
        "hellaswag",
        "gsm8k",
        "piqa",
        "lambada_openai",
        "boolq",
    ];
    let expected = [
        "arc/ARC-Challenge-Test.jsonl",
        "arc/ARC-Easy-Test.jsonl",
        "boolq/dev.jsonl",
        "gsm8k/test.jsonl",
        "gsm8k/train.jsonl",
        "hellaswag/hellaswag_val.jsonl",
        "lambada/lambada_test.jsonl",
        "piqa/valid-labels.lst",
        "piqa/valid.jsonl",
    ];

    let report = mirror.fetch(&tasks, target.path()).unwrap();
    // One request per origin: the ARC zip serves both ARC tasks.
    assert_eq!(report.downloaded.len(), 8, "{:?}", report.downloaded);
    assert_eq!(mirror.requests(), 8);
    assert!(
        report
            .downloaded
            .iter()
            .any(|url| url.ends_with("/arc/ARC-V1-Feb2018.zip"))
    );
    assert_eq!(report.written.len(), expected.len());
    assert!(report.present.is_empty());
    assert_eq!(
        files_under(target.path()),
        expected,
        "no temporary files left behind"
    );
    for dest in expected {
        let got = fs::read(target.path().join(dest)).unwrap();
        assert!(
            got == fs::read(shared_data().join(dest)).unwrap(),
            "{dest} differs"
        );
    }

    let again = mirror.fetch(&tasks, target.path()).unwrap();
    assert!(
        again.downloaded.is_empty() && again.written.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.present.len(), expected.len());
    assert_eq!(mirror.requests(), 8, "a second fetch downloads nothing");
}

#[test]
fn a_stale_file_is_replaced() {
    let mirror_dir = build_mirror();
    let mirror = Mirror::serve(mirror_dir.path());
    let target = TempDir::new().unwrap();
    fs::create_dir_all(target.path().join("boolq")).unwrap();
    fs::write(target.path().join("boolq/dev.jsonl"), "stale\n").unwrap();

    let report = mirror.fetch(&["boolq"], target.path()).unwrap();
    assert_eq!(report.written, [target.path().join("boolq/dev.jsonl")]);
    let got = fs::read(target.path().join("boolq/dev.jsonl")).unwrap();
    assert!(got == fs::read(shared_data().join("boolq/dev.jsonl")).unwrap());
}

#[test]
fn a_corrupted_file_is_rejected_and_not_written() {
    let mirror_dir = build_mirror();
    let url = "https://openaipublic.blob.core.windows.net/gpt-2/data/lambada_test.jsonl";
    let mut corrupted = fs::read(shared_data().join("lambada/lambada_test.jsonl")).unwrap();
    corrupted[100] ^= 1;
    fs::write(mirrored(mirror_dir.path(), url), &corrupted).unwrap();
    let mirror = Mirror::serve(mirror_dir.path());
    let target = TempDir::new().unwrap();

    let err = mirror
        .fetch(&["lambada_openai"], target.path())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "sha256 mismatch: {}/openaipublic.blob.core.windows.net/gpt-2/data/lambada_test.jsonl: \
             expected 4aa8d02cd17c719165fc8a7887fddd641f43fcafa4b1c806ca8abc31fabdb226, found {}",
            mirror.base_url,
            sha256_hex(&corrupted)
        )
    );
    assert_eq!(
        files_under(target.path()),
        Vec::<String>::new(),
        "nothing is left behind"
    );
}

#[test]
fn a_rebuilt_mmlu_tar_fails_verification() {
    let mirror_dir = build_mirror();
    let mirror = Mirror::serve(mirror_dir.path());
    let target = TempDir::new().unwrap();

    let err = mirror
        .fetch(&["mmlu"], target.path())
        .unwrap_err()
        .to_string();
    let tar = fs::read(mirrored(
        mirror_dir.path(),
        "https://people.eecs.berkeley.edu/~hendrycks/data.tar",
    ))
    .unwrap();
    assert_eq!(
        err,
        format!(
            "sha256 mismatch: {}/people.eecs.berkeley.edu/~hendrycks/data.tar: \
             expected bec563ba4bac1d6aaf04141cd7d1605d7a5ca833e38f994051e818489592989b, found {}",
            mirror.base_url,
            sha256_hex(&tar)
        )
    );
    assert_eq!(files_under(target.path()), Vec::<String>::new());
}

#[test]
fn winogrande_without_the_canonical_dev_jsonl_fails_whole() {
    let mirror_dir = build_mirror();
    let mirror = Mirror::serve(mirror_dir.path());
    let target = TempDir::new().unwrap();

    let err = mirror
        .fetch(&["winogrande"], target.path())
        .unwrap_err()
        .to_string();
    let stand_in = fs::read(local("winogrande/dev.jsonl")).unwrap();
    assert_eq!(
        err,
        format!(
            "sha256 mismatch: {}/storage.googleapis.com/ai2-mosaic/public/winogrande/winogrande_1.1.zip \
             member winogrande_1.1/dev.jsonl: \
             expected 1aeac79cf46a3dcbe59a71ca7e5372a1490cde2b4ae2387dc56f00378104d2e8, found {}",
            mirror.base_url,
            sha256_hex(&stand_in)
        )
    );
    // dev-labels.lst comes from the same zip and would verify, but an origin lands whole.
    assert_eq!(files_under(target.path()), Vec::<String>::new());
}

#[test]
fn a_missing_file_names_its_url() {
    let empty = TempDir::new().unwrap();
    let mirror = Mirror::serve(empty.path());
    let target = TempDir::new().unwrap();

    let err = mirror
        .fetch(&["piqa"], target.path())
        .unwrap_err()
        .to_string();
    let url = format!("{}/yonatanbisk.com/piqa/data/valid.jsonl", mirror.base_url);
    assert!(
        err.starts_with(&format!("download failed: {url}: ")) && err.contains("404"),
        "{err}"
    );
    assert_eq!(files_under(target.path()), Vec::<String>::new());
}

#[test]
fn an_unknown_task_lists_the_valid_ones() {
    let empty = TempDir::new().unwrap();
    let mirror = Mirror::serve(empty.path());
    let target = TempDir::new().unwrap();

    let err = mirror
        .fetch(&["boolq", "arc_chalenge"], target.path())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "unknown task arc_chalenge; valid tasks: arc_challenge, arc_easy, hellaswag, gsm8k, \
         winogrande, piqa, lambada_openai, boolq, mmlu"
    );
    assert_eq!(mirror.requests(), 0);
}

#[test]
fn a_task_without_an_official_download_says_so() {
    let empty = TempDir::new().unwrap();
    let mirror = Mirror::serve(empty.path());
    let target = TempDir::new().unwrap();

    let err = mirror
        .fetch(&["boolq", "openbookqa"], target.path())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "openbookqa cannot be fetched: no official download serves the files it reads; \
         valid tasks: arc_challenge, arc_easy, hellaswag, gsm8k, winogrande, piqa, \
         lambada_openai, boolq, mmlu"
    );
    assert_eq!(mirror.requests(), 0);
}

/// The official MMLU tar cannot be rebuilt here, so this runs the extraction path with a table
/// that pins the locally built tar's own sha256.
#[test]
fn a_verified_tar_is_extracted_and_recorded() {
    let Some(&Source {
        form: Form::Tar(mmlu),
        ..
    }) = sources()
        .iter()
        .find(|s| matches!(s.form, Form::Tar(Tar { task: "mmlu", .. })))
    else {
        panic!("no MMLU tar in sources()");
    };
    let url = "https://example.invalid/mmlu/data.tar";
    let mirror_dir = TempDir::new().unwrap();
    let tar_path = mirrored(mirror_dir.path(), url);
    fs::create_dir_all(tar_path.parent().unwrap()).unwrap();
    let mut builder = tar::Builder::new(fs::File::create(&tar_path).unwrap());
    builder
        .append_dir_all("data", shared_data().join("mmlu/data"))
        .unwrap();
    // Entries outside the kept pattern: another split, and a macOS resource-fork file.
    for stray in ["data/val/anatomy_val.csv", "data/test/._anatomy_test.csv"] {
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, stray, &b"x\n"[..])
            .unwrap();
    }
    builder.finish().unwrap();
    drop(builder);
    let sha256: &'static str =
        Box::leak(sha256_hex(&fs::read(&tar_path).unwrap()).into_boxed_str());
    let sources = [Source {
        url,
        form: Form::Tar(Tar { sha256, ..mmlu }),
    }];
    let mirror = Mirror::serve(mirror_dir.path());
    let target = TempDir::new().unwrap();

    let report = mirror.fetch_from(&sources, target.path()).unwrap();
    let local = files_under(&shared_data().join("mmlu"));
    let csvs: Vec<&String> = local.iter().filter(|f| f.ends_with(".csv")).collect();
    assert_eq!(csvs.len(), 114);
    let mut expected: Vec<&str> = csvs.iter().map(|f| f.as_str()).chain([MANIFEST]).collect();
    expected.sort();
    assert_eq!(files_under(&target.path().join("mmlu")), expected);
    assert_eq!(report.written.len(), 115);
    for csv in &csvs {
        let got = fs::read(target.path().join("mmlu").join(csv)).unwrap();
        assert!(
            got == fs::read(shared_data().join("mmlu").join(csv)).unwrap(),
            "{csv} differs"
        );
    }

    let again = mirror.fetch_from(&sources, target.path()).unwrap();
    assert!(
        again.downloaded.is_empty() && again.written.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.present.len(), 114);
    assert_eq!(mirror.requests(), 1);

    // A damaged extracted file no longer matches the manifest: the tar is fetched again.
    let damaged = target.path().join("mmlu/data/test/anatomy_test.csv");
    fs::write(&damaged, "damaged\n").unwrap();
    let repaired = mirror.fetch_from(&sources, target.path()).unwrap();
    assert_eq!(repaired.downloaded.len(), 1);
    assert!(
        fs::read(&damaged).unwrap()
            == fs::read(shared_data().join("mmlu/data/test/anatomy_test.csv")).unwrap()
    );
}
