//! Malformed data: each error is one line naming the file, the 1-based line (CSV: the
//! line the record starts on) and what was expected.

use std::fs;
use std::path::Path;

use eval_suite::{DataProblem, EvalError, EvalOptions, evaluate};
use tempfile::TempDir;

use crate::mock::MockLm;

/// Write `files` into a fresh data dir, run `task`, and return the data error.
fn data_error(task: &str, files: &[(&str, &str)]) -> (TempDir, eval_suite::DataError) {
    let tmp = TempDir::new().unwrap();
    for (name, text) in files {
        let path = tmp.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let err = evaluate(
        task,
        tmp.path(),
        &mut MockLm::recorder(),
        &EvalOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    match err {
        EvalError::Data(e) => (tmp, e),
        other => panic!("not a data error: {other}"),
    }
}

fn shown(tmp: &TempDir, e: &eval_suite::DataError) -> String {
    let text = e.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    text.replace(&format!("{}/", tmp.path().display()), "")
}

const ARC_OK: &str = r#"{"id":"a","question":{"stem":"Q","choices":[{"text":"x","label":"A"},{"text":"y","label":"B"}]},"answerKey":"A"}"#;

#[test]
fn bad_json_line() {
    let text = format!("{ARC_OK}\n{{\"id\": \"b\", \"question\": \n");
    let (tmp, e) = data_error("arc_easy", &[("arc/ARC-Easy-Test.jsonl", &text)]);
    assert!(matches!(e.problem, DataProblem::Json(_)));
    assert_eq!(
        shown(&tmp, &e),
        "arc/ARC-Easy-Test.jsonl:2: not valid JSON: EOF while parsing a value (column 24)"
    );
}

#[test]
fn missing_field() {
    let text = r#"{"activity_label": "A", "ctx_a": "b", "ctx_b": "c", "label": 0}"#;
    let (tmp, e) = data_error("hellaswag", &[("hellaswag/hellaswag_val.jsonl", text)]);
    assert!(matches!(e.problem, DataProblem::Field(_)));
    assert_eq!(
        shown(&tmp, &e),
        "hellaswag/hellaswag_val.jsonl:1: missing field `endings`"
    );
}

#[test]
fn wrong_type() {
    let text = ARC_OK.replace(r#""text":"y""#, r#""text":7"#);
    let (tmp, e) = data_error(
        "arc_easy",
        &[(
            "arc/ARC-Easy-Test.jsonl",
            &format!("{ARC_OK}\n{ARC_OK}\n{text}\n"),
        )],
    );
    assert_eq!(
        shown(&tmp, &e),
        "arc/ARC-Easy-Test.jsonl:3: question.choices[1].text: invalid type: integer `7`, expected a string"
    );
    let (tmp, e) = data_error(
        "boolq",
        &[(
            "boolq/dev.jsonl",
            r#"{"question": "q", "title": "t", "answer": "yes", "passage": "p"}"#,
        )],
    );
    assert_eq!(
        shown(&tmp, &e),
        "boolq/dev.jsonl:1: answer: invalid type: string \"yes\", expected a boolean"
    );
}

#[test]
fn label_out_of_range() {
    let bad = ARC_OK.replace(r#""answerKey":"A""#, r#""answerKey":"E""#);
    let text = format!("{}\n{bad}\n", vec![ARC_OK; 16].join("\n"));
    let (tmp, e) = data_error("arc_easy", &[("arc/ARC-Easy-Test.jsonl", &text)]);
    assert!(matches!(e.problem, DataProblem::Value(_)));
    assert_eq!(
        shown(&tmp, &e),
        "arc/ARC-Easy-Test.jsonl:17: answerKey \"E\" is not one of the choice labels A, B"
    );
    let text = r#"{"activity_label": "A", "ctx_a": "b", "ctx_b": "c", "label": 4, "endings": ["w", "x", "y", "z"]}"#;
    let (tmp, e) = data_error("hellaswag", &[("hellaswag/hellaswag_val.jsonl", text)]);
    assert_eq!(
        shown(&tmp, &e),
        "hellaswag/hellaswag_val.jsonl:1: label 4 is out of range for 4 endings"
    );
    let text = r#"{"sentence": "A _ b", "option1": "x", "option2": "y", "answer": "3"}"#;
    let (tmp, e) = data_error(
        "winogrande",
        &[("winogrande/winogrande_xl-validation.jsonl", text)],
    );
    assert_eq!(
        shown(&tmp, &e),
        "winogrande/winogrande_xl-validation.jsonl:1: answer \"3\" is not \"1\" or \"2\""
    );
    let text = r#"{"sentence": "A b", "option1": "x", "option2": "y", "answer": "1"}"#;
    let (tmp, e) = data_error(
        "winogrande",
        &[("winogrande/winogrande_xl-validation.jsonl", text)],
    );
    assert_eq!(
        shown(&tmp, &e),
        "winogrande/winogrande_xl-validation.jsonl:1: sentence has no `_` blank"
    );
    let piqa = r#"{"goal": "g", "sol1": "a", "sol2": "b"}"#;
    let (tmp, e) = data_error(
        "piqa",
        &[
            ("piqa/valid.jsonl", &format!("{piqa}\n{piqa}\n")),
            ("piqa/valid-labels.lst", "0\n2\n"),
        ],
    );
    assert_eq!(
        shown(&tmp, &e),
        "piqa/valid-labels.lst:2: label \"2\" is not 0 or 1"
    );
    let (tmp, e) = data_error(
        "piqa",
        &[
            ("piqa/valid.jsonl", &format!("{piqa}\n{piqa}\n")),
            ("piqa/valid-labels.lst", "0\n"),
        ],
    );
    let expected = format!(
        "piqa/valid-labels.lst:2: 1 labels for the 2 lines of {}/piqa/valid.jsonl",
        tmp.path().display()
    );
    assert_eq!(
        shown(&tmp, &e),
        expected.replace(&format!("{}/", tmp.path().display()), "")
    );
}

#[test]
fn csv_column_count_and_answer() {
    // The quoted first field spans two lines, so record 3 starts on line 4.
    let test = "q1,a,b,c,d,A\n\"q2\nmore\",a,b,c,d,B\nq3,a,b,c,D\n";
    let (tmp, e) = data_error("mmlu_anatomy", &[("mmlu/data/test/anatomy_test.csv", test)]);
    assert!(matches!(
        e.problem,
        DataProblem::Columns {
            expected: 6,
            found: 5,
            ..
        }
    ));
    assert_eq!(
        shown(&tmp, &e),
        "mmlu/data/test/anatomy_test.csv:4: expected 6 columns (question,A,B,C,D,answer), found 5"
    );
    let test = "q1,a,b,c,d,A\nq2,a,b,c,d,E\n";
    let (tmp, e) = data_error("mmlu_anatomy", &[("mmlu/data/test/anatomy_test.csv", test)]);
    assert_eq!(
        shown(&tmp, &e),
        "mmlu/data/test/anatomy_test.csv:2: answer \"E\" is not one of A, B, C, D"
    );
}

#[test]
fn missing_file() {
    let (tmp, e) = data_error("lambada_openai", &[]);
    assert!(matches!(e.problem, DataProblem::Io(_)));
    assert_eq!(e.line, None);
    assert_eq!(
        shown(&tmp, &e),
        "lambada/lambada_test.jsonl: cannot read: No such file or directory (os error 2); \
         `painters data fetch` downloads the official files into the default data directory \
         (or give --data DIR / $PAINTERS_DATA with them)"
    );
    assert!(Path::new(&e.path).ends_with("lambada/lambada_test.jsonl"));
}
