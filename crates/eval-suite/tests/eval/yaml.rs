//! lm-eval task YAML files: the requests of lm-eval's own sciq, openbookqa and
//! lambada_openai files (`tasks/`, pointed at the local data) against lm-eval's own code
//! (`golden/yaml_*.jsonl`, from `yaml_reference.py`), the YAML path giving byte-identical
//! records to the built-in one, and task files that must be refused, each with its line.

use std::path::{Path, PathBuf};

use eval_suite::{
    EvalOptions, ItemRecord, Sampling, TaskResult, evaluate, read_task_file, sampling_seed,
};
use serde_json::Value;

use crate::data_dir;
use crate::golden::assert_requests;
use crate::mock::MockLm;
use crate::reference::{assert_scores, gsm8k_answers};

/// (case, task file, num_fewshot): yaml_reference.py's cases.
const CASES: [(&str, &str, Option<usize>); 9] = [
    ("sciq_validation", "sciq_validation.yaml", None),
    ("sciq_validation_3shot", "sciq_validation.yaml", Some(3)),
    ("openbookqa_local", "openbookqa_local.yaml", None),
    ("lambada_local", "lambada_local.yaml", None),
    ("gsm8k_local", "gsm8k_local.yaml", None),
    ("gsm8k_vote", "gsm8k_vote.yaml", None),
    ("lambada_rolling", "lambada_rolling.yaml", None),
    ("boolq_metrics", "boolq_metrics.yaml", None),
    (
        "openbookqa_mutual_info",
        "openbookqa_mutual_info.yaml",
        None,
    ),
];

fn task_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/eval/tasks")
        .join(name)
}

/// Reads `file` and evaluates its first `limit` docs with `lm` (bootstrap stderrs from
/// 2000 resamples, as reference_scores.py runs lm-eval).
fn run(file: &str, shots: Option<usize>, limit: usize, lm: &mut MockLm) -> TaskResult {
    let task = read_task_file(&task_file(file)).unwrap().name;
    let options = EvalOptions {
        num_fewshot: shots,
        limit: Some(limit),
        bootstrap_iters: 2000,
        ..EvalOptions::default()
    };
    evaluate(&task, &data_dir(), lm, &options, &mut |_, _| {}).unwrap()
}

#[test]
fn requests_are_those_lm_eval_builds_from_the_same_files() {
    let golden = [
        include_str!("golden/yaml_sciq_validation.jsonl"),
        include_str!("golden/yaml_sciq_validation_3shot.jsonl"),
        include_str!("golden/yaml_openbookqa_local.jsonl"),
        include_str!("golden/yaml_lambada_local.jsonl"),
        include_str!("golden/yaml_gsm8k_local.jsonl"),
        include_str!("golden/yaml_gsm8k_vote.jsonl"),
        include_str!("golden/yaml_lambada_rolling.jsonl"),
    ];
    for ((name, file, shots), expected) in CASES.into_iter().zip(golden) {
        let mut lm = MockLm::recorder();
        assert_eq!(run(file, shots, 5, &mut lm).n, 5, "{name}");
        assert_requests(name, expected, &lm);
    }
}

/// Metrics, stderrs and per-doc scores (filters, exact_match options, repeats and votes)
/// equal lm-eval's own over reference_scores.py's fake model.
#[test]
fn scores_are_those_lm_eval_computes() {
    let reference: Value = serde_json::from_str(include_str!("golden/yaml_scores.json")).unwrap();
    for (name, file, shots) in CASES {
        let result = run(file, shots, 5, &mut MockLm::fake(gsm8k_answers()));
        let items: Vec<&ItemRecord> = result.items.iter().collect();
        assert_scores(name, &reference[name], &result, &items);
    }
}

/// The YAML path and the built-in path give the same records, byte for byte.
#[test]
fn task_files_of_built_in_tasks_give_identical_records() {
    for (file, builtin) in [
        ("openbookqa_local.yaml", "openbookqa"),
        ("lambada_local.yaml", "lambada_openai"),
    ] {
        let from_file = run(file, None, 40, &mut MockLm::recorder());
        let options = EvalOptions {
            limit: Some(40),
            bootstrap_iters: 2000,
            ..EvalOptions::default()
        };
        let mut lm = MockLm::recorder();
        let built_in = evaluate(builtin, &data_dir(), &mut lm, &options, &mut |_, _| {}).unwrap();
        let json = |r: &TaskResult| {
            (
                serde_json::to_string(&r.items).unwrap(),
                serde_json::to_string(&r.metrics).unwrap(),
            )
        };
        assert_eq!(json(&from_file), json(&built_in), "{file} vs {builtin}");
    }
}

/// Every doc of every case (requests and scores), when `LM_EVAL_REFERENCE_DIR` holds the output of
/// `yaml_reference.py DATA OUT` without a limit (`make reference`).
#[test]
#[ignore = "slow: needs lm-eval's dumps of the full data set; run by `make reference`"]
fn every_yaml_request_matches_lm_eval() {
    let dir = std::env::var_os("LM_EVAL_REFERENCE_DIR")
        .map(PathBuf::from)
        .expect("set LM_EVAL_REFERENCE_DIR to yaml_reference.py's output (`make reference`)");
    let scores: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("yaml_scores.json")).unwrap())
            .unwrap();
    for (name, file, shots) in CASES {
        let expected = std::fs::read_to_string(dir.join(format!("yaml_{name}.jsonl"))).unwrap();
        let mut lm = MockLm::recorder();
        run(file, shots, usize::MAX, &mut lm);
        assert_requests(name, &expected, &lm);
        let result = run(file, shots, usize::MAX, &mut MockLm::fake(gsm8k_answers()));
        let items: Vec<&ItemRecord> = result.items.iter().collect();
        assert_scores(name, &scores[name], &result, &items);
        eprintln!("{name}: all {} docs' requests and scores match", result.n);
    }
}

/// Writes `text` as `dir/name` and returns the path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const GOOD: &str = "task: mine\noutput_type: multiple_choice\ndataset_path: allenai/sciq\nvalidation_split: validation\ndoc_to_target: 3\ndoc_to_choice: \"{{[distractor1, distractor2, distractor3, correct_answer]}}\"\n";

/// A generate_until task (lm-eval's default output type), 7 lines.
const GEN: &str = "task: gen\ndataset_path: allenai/sciq\nvalidation_split: validation\ndoc_to_text: question\ndoc_to_target: correct_answer\nrepeats: 1\nnum_fewshot: 0\n";

#[test]
fn unsupported_task_files_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let with = |extra: &str| format!("{GOOD}{extra}");
    let cases = [
        // (file text, expected message after "FILE:")
        (
            with("process_docs: !function utils.process_docs\n"),
            "7: process_docs: Python code is not supported (painters runs no Python)",
        ),
        (
            with("doc_to_text: !function utils.doc_to_text\n"),
            "7: doc_to_text: !function utils.doc_to_text is Python code, which painters does not run; write it as a Jinja template",
        ),
        (
            with("colour: blue\n"),
            "7: colour: unknown or unsupported task setting",
        ),
        (
            with("metric_list:\n  - metric: brier_score\n"),
            "8: metric_list: brier_score is not supported for multiple_choice (supported: acc, acc_norm, acc_mutual_info, f1, mcc)",
        ),
        (
            with("metric_list:\n  - metric: acc\n  - metric: acc\n"),
            "9: metric_list: acc is listed twice",
        ),
        (
            with("metric_list:\n  - metric: mcc\n    aggregation: mean\n"),
            "9: metric_list[].aggregation: not supported for mcc (supported: metric, aggregation: matthews_corrcoef, higher_is_better)",
        ),
        (
            with("metric_list:\n  - metric: acc\n    aggregation: median\n"),
            "9: metric_list[].aggregation: not supported for acc (supported: metric, aggregation: mean, higher_is_better)",
        ),
        (
            with("fewshot_config:\n  sampler: balanced\n"),
            "8: fewshot_config.sampler: unknown \"balanced\" (valid: default, first_n)",
        ),
        (
            with("description: \"{{ unclosed\"\n"),
            "7: description: syntax error: unexpected end of input, expected end of variable block",
        ),
        (with("doc_to_text: [1, 2\n"), "not valid YAML"),
        (
            with("doc_to_target: 1\n"),
            "7: not valid YAML: duplicated key in mapping",
        ),
        (
            format!(
                "{GEN}output_type: loglikelihood_rolling\nmetric_list:\n  - metric: perplexity\n"
            ),
            "10: metric_list: perplexity is not supported for loglikelihood_rolling (supported: word_perplexity, byte_perplexity, bits_per_byte)",
        ),
        (
            format!("{GEN}generation_kwargs:\n  temperature: 0.7\n"),
            "9: generation_kwargs.temperature: only with do_sample: true (without it lm-eval leaves greedy or sampled decoding to the checkpoint's generation config)",
        ),
        (
            format!("{GEN}generation_kwargs:\n  do_sample: true\n  temperature: 0.0\n"),
            "10: generation_kwargs.temperature: must be > 0 with do_sample: true (for greedy decoding set do_sample: false)",
        ),
        (
            format!("{GEN}generation_kwargs:\n  do_sample: true\n  top_p: 1.5\n"),
            "10: generation_kwargs.top_p: must be in (0, 1]",
        ),
        (
            format!("{GEN}generation_kwargs:\n  num_beams: 4\n"),
            "9: generation_kwargs.num_beams: not supported (supported: until, max_gen_toks, do_sample, temperature, top_k, top_p)",
        ),
        (
            format!(
                "{GEN}filter_list:\n  - name: x\n    filter:\n      - function: regex\n        regex_pattern: \"(?<=a)b\"\n      - function: take_first\n"
            ),
            "11: regex_pattern: \"(?<=a)b\" is not supported: regex parse error:",
        ),
        (
            format!(
                "{GEN}filter_list:\n  - name: x\n    filter:\n      - function: majority_vote\n"
            ),
            "11: filter_list[x]: a pipeline must end with take_first, which gives the one answer that is scored",
        ),
        (
            format!(
                "{GEN}filter_list:\n  - name: x\n    filter:\n      - function: map\n      - function: take_first\n"
            ),
            "11: filter function \"map\" is not supported",
        ),
        (
            format!("{GEN}metric_list:\n  - metric: bleu\n"),
            "9: metric_list[].metric: painters reports exact_match for generate_until",
        ),
        (
            GOOD.replace("multiple_choice", "multiple_choise"),
            "2: output_type: unknown \"multiple_choise\" (valid: multiple_choice, loglikelihood, loglikelihood_rolling, generate_until)",
        ),
        (
            GOOD.replace("validation_split: validation\n", ""),
            "1: test_split / validation_split: one is needed, the split that is evaluated",
        ),
        (
            with("num_fewshot: -1\n"),
            "7: num_fewshot: expected a count >= 0",
        ),
        (
            with("x: !custom 3\n"),
            "7: the YAML tag !custom is not supported",
        ),
        (
            with("dataset_kwargs:\n  data_files: x.jsonl\n"),
            "8: dataset_kwargs.data_files: only with dataset_path: json or csv",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("t{i}.yaml"), text);
        let err = read_task_file(&path).unwrap_err().to_string();
        let prefix = format!("{}:", path.display());
        assert!(err.starts_with(&prefix), "{err}");
        assert!(
            err.contains(expected),
            "{text:?}: got {err}, want {expected}"
        );
    }
}

#[test]
fn includes_merge_and_cycles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base.yaml", GOOD);
    let child = write(
        dir.path(),
        "child.yaml",
        "include: base.yaml\ntask: child_of_base\nsurprise: 1\n",
    );
    let err = read_task_file(&child).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:3: surprise: unknown or unsupported task setting",
            child.display()
        )
    );
    let a = write(dir.path(), "a.yaml", "include: b.yaml\ntask: a\n");
    write(dir.path(), "b.yaml", "include: a.yaml\n");
    let err = read_task_file(&a).unwrap_err().to_string();
    assert!(
        err.ends_with("include cycle: this file includes itself"),
        "{err}"
    );
    let clash = write(
        dir.path(),
        "clash.yaml",
        &GOOD.replace("task: mine", "task: piqa"),
    );
    let err = read_task_file(&clash).unwrap_err().to_string();
    assert!(
        err.ends_with("task: piqa is a built-in task; give the file's task another name"),
        "{err}"
    );
}

#[test]
fn a_hub_dataset_without_local_files_says_where_to_put_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "hub.yaml",
        &GOOD
            .replace("task: mine", "task: hub_missing")
            .replace("allenai/sciq", "someone/unknown"),
    );
    let name = read_task_file(&path).unwrap().name;
    let err = evaluate(
        &name,
        dir.path(),
        &mut MockLm::recorder(),
        &EvalOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err()
    .to_string();
    let expected = format!(
        "{}:3: dataset_path: someone/unknown is a Hugging Face hub dataset and painters reads local files: put its validation split at {}, or set dataset_path: json with dataset_kwargs.data_files: {{validation: FILE}}",
        path.display(),
        dir.path().join("unknown/validation.jsonl").display()
    );
    assert_eq!(err, expected);
}

/// `do_sample: true`: every repeat of every doc is its own request with lm-eval's
/// settings (transformers' defaults where the file sets none) and a seed fixed by doc and
/// repeat, so `--limit` never changes a doc's samples; each doc is scored on its own draws.
#[test]
fn sampled_repeats_are_requests_with_their_own_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "sampled.yaml",
        "include: gsm8k_vote.yaml\ntask: gsm8k_sampled\ngeneration_kwargs:\n  until: [\"Question:\"]\n  do_sample: true\n  temperature: 0.7\n  top_p: 0.95\n",
    );
    std::fs::copy(
        task_file("gsm8k_vote.yaml"),
        dir.path().join("gsm8k_vote.yaml"),
    )
    .unwrap();
    std::fs::copy(task_file("gsm8k.yaml"), dir.path().join("gsm8k.yaml")).unwrap();
    let name = read_task_file(&path).unwrap().name;
    let run = |limit: usize| {
        let options = EvalOptions {
            limit: Some(limit),
            ..EvalOptions::default()
        };
        let mut lm = MockLm::new(
            |_| (0.0, false),
            |r| format!("#### {}", r.sampling.unwrap().seed % 3),
        );
        let result = evaluate(&name, &data_dir(), &mut lm, &options, &mut |_, _| {}).unwrap();
        (result, lm.generate_requests)
    };
    let (result, requests) = run(4);
    assert_eq!(requests.len(), 4 * 3);
    for (i, request) in requests.iter().enumerate() {
        let (doc_id, repeat) = (result.items[i / 3].doc_id(), i % 3);
        assert_eq!(
            request.sampling,
            Some(Sampling {
                temperature: 0.7,
                top_k: 50,
                top_p: 0.95,
                seed: sampling_seed(doc_id, repeat),
            })
        );
        assert_eq!(request.until, ["Question:"]);
        assert_eq!(request.max_tokens, 256);
    }
    for item in &result.items {
        let ItemRecord::Filtered(record) = item else {
            panic!("a generation record")
        };
        let draws: Vec<String> = (0..3)
            .map(|r| format!("#### {}", sampling_seed(record.doc_id, r) % 3))
            .collect();
        assert_eq!(record.generations, draws);
    }
    let (_, fewer) = run(2);
    assert_eq!(fewer[..], requests[..6]);
    assert_ne!(sampling_seed(0, 1), sampling_seed(1, 0));
}

/// lm-eval's f1 is binary: a doc with more choices is refused, naming its line, before
/// any request; a list of corpus-level metrics alone gains acc, the per-item headline.
#[test]
fn f1_needs_two_choices_and_corpus_metrics_gain_acc() {
    let dir = tempfile::tempdir().unwrap();
    let f1 = write(
        dir.path(),
        "f1.yaml",
        &(GOOD.replace("task: mine", "task: sciq_f1")
            + "doc_to_text: question\nmetric_list:\n  - metric: f1\n"),
    );
    let name = read_task_file(&f1).unwrap().name;
    let mut lm = MockLm::recorder();
    let err = evaluate(
        &name,
        &data_dir(),
        &mut lm,
        &EvalOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.ends_with("sciq/validation.jsonl:1: metric f1: lm-eval's f1 is binary (scikit-learn's average='binary'), but this doc has 4 choices"),
        "{err}"
    );
    assert!(lm.loglikelihood_requests.is_empty());

    let mcc = write(
        dir.path(),
        "mcc.yaml",
        &(GOOD.replace("task: mine", "task: sciq_mcc")
            + "doc_to_text: question\nmetric_list:\n  - metric: mcc\n"),
    );
    let file = read_task_file(&mcc).unwrap();
    assert!(
        file.notes.iter().any(|n| n.contains("acc is reported too")),
        "{:?}",
        file.notes
    );
    let options = EvalOptions {
        limit: Some(20),
        ..EvalOptions::default()
    };
    let result = evaluate(
        &file.name,
        &data_dir(),
        &mut MockLm::recorder(),
        &options,
        &mut |_, _| {},
    )
    .unwrap();
    let names: Vec<&str> = result.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["mcc", "acc"]);
    assert_eq!(
        eval_suite::task(&file.name).unwrap().headline,
        ("acc", "none")
    );
}

/// A CSV file with a header: columns typed as `datasets` types them (checked with
/// `datasets.load_dataset("csv", ...)`: an integer column is an index; `note` is text in
/// the train file, so in every split), a YAML list
/// of choices, a description, custom delimiters, `first_n` few-shot examples drawn from a
/// training split given as a list of files.
#[test]
fn csv_data_files_and_prompt_settings() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "train.csv",
        "question,label,note\nIs ice cold?,0,7\nIs fire cold?,1,x\n",
    );
    write(
        dir.path(),
        "test.csv",
        "question,label,note\n\"Is snow white, \"\"really\"\"?\",0,\nIs coal white?,1,2\n",
    );
    let file = write(
        dir.path(),
        "yesno.yaml",
        "task: yesno_csv\noutput_type: multiple_choice\ndataset_path: csv\ndataset_kwargs:\n  data_files:\n    train: [train.csv]\n    test: test.csv\n\
         training_split: train\ntest_split: test\ndescription: \"Answer yes or no.\\n\"\ndoc_to_text: \"Q: {{question}} ({{note}})\"\n\
         doc_to_target: label\ndoc_to_choice: [\"yes\", \"no\"]\ntarget_delimiter: \"\\nA: \"\nfewshot_delimiter: \"\\n---\\n\"\n\
         num_fewshot: 1\nfewshot_config:\n  sampler: first_n\n",
    );
    let name = read_task_file(&file).unwrap().name;
    let mut lm = MockLm::recorder();
    let options = EvalOptions::default();
    let result = evaluate(&name, dir.path(), &mut lm, &options, &mut |_, _| {}).unwrap();
    assert_eq!((result.n, result.num_fewshot), (2, 1));
    let contexts: Vec<(&str, &str)> = lm
        .loglikelihood_requests
        .iter()
        .map(|r| (r.context.as_str(), r.continuation.as_str()))
        .collect();
    let first = "Answer yes or no.\nQ: Is ice cold? (7)\nA: yes\n---\n";
    assert_eq!(
        contexts,
        [
            (
                format!("{first}Q: Is snow white, \"really\"? (None)").as_str(),
                "\nA: yes"
            ),
            (
                format!("{first}Q: Is snow white, \"really\"? (None)").as_str(),
                "\nA: no"
            ),
            (format!("{first}Q: Is coal white? (2)").as_str(), "\nA: yes"),
            (format!("{first}Q: Is coal white? (2)").as_str(), "\nA: no"),
        ]
    );
    let golds: Vec<usize> = result
        .items
        .iter()
        .map(|i| match i {
            ItemRecord::Choice(c) => c.gold,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(golds, [0, 1]);
}
