"""Build every request lm-evaluation-harness 0.4.13 makes for our tasks, from the local files.

Runs lm-eval's own ConfigurableTask code (task YAMLs, utils.py, fewshot sampler seeded
1234 as `simple_evaluate` seeds it) with the HF dataset pointed at local JSON files.
No network. Files whose layout differs from the HF dataset lm-eval loads (ARC, PIQA,
BoolQ, MMLU) are first rewritten into that HF layout by the small, obvious mappings in
`hf_view` below; HellaSwag, WinoGrande, LAMBADA, GSM8K and OpenBookQA are read as they are
(OpenBookQA: the validation split, the only one the data holds, in place of lm-eval's test).

Usage (lm_eval 0.4.13 importable, e.g. from the project venv or PYTHONPATH=<unzipped wheel>):
    python reference_prompts.py DATA_DIR OUT_DIR [LIMIT [MMLU_SUBJECTS]]
writes OUT_DIR/<task>.jsonl, one line per doc: {"doc_id", "requests": [[context, continuation], ...]}
for log-likelihood tasks, {"doc_id", "context", "until"} for gsm8k. mmlu is written once
0-shot (lm-eval's default) as mmlu.jsonl and once 5-shot as mmlu_5shot.jsonl, docs in
alphabetical subject order (only the first MMLU_SUBJECTS subjects if given), with "subject".

The golden files next to this script were made with
    python reference_prompts.py "$PAINTERS_DATA" golden 2 1
(the first 2 docs of every task; MMLU: of abstract_algebra); `LM_EVAL_REFERENCE_DIR=<OUT_DIR>`
of a full run (no LIMIT) makes the `reference` test compare every request of every task.
"""

import csv
import json
import os
import sys
import tempfile

os.environ["HF_DATASETS_OFFLINE"] = "1"
from lm_eval.tasks import TaskManager  # noqa: E402

TMP = tempfile.mkdtemp()
tm = TaskManager()


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_jsonl(rows, name):
    path = os.path.join(TMP, name)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def hf_view(data, task):
    """data_files for the json loader, in the HF layout lm-eval's YAML expects."""
    if task in ("arc_easy", "arc_challenge"):
        name = "ARC-Easy" if task == "arc_easy" else "ARC-Challenge"
        rows = [
            {
                "id": d["id"],
                "question": d["question"]["stem"],
                "choices": {
                    "text": [c["text"] for c in d["question"]["choices"]],
                    "label": [c["label"] for c in d["question"]["choices"]],
                },
                "answerKey": d["answerKey"],
            }
            for d in read_jsonl(f"{data}/arc/{name}-Test.jsonl")
        ]
        return {"test": write_jsonl(rows, f"{task}.jsonl")}
    if task == "hellaswag":
        return {"validation": f"{data}/hellaswag/hellaswag_val.jsonl"}
    if task == "winogrande":
        return {"validation": f"{data}/winogrande/winogrande_xl-validation.jsonl"}
    if task == "piqa":
        with open(f"{data}/piqa/valid-labels.lst") as f:
            labels = [int(x) for x in f.read().split()]
        rows = [dict(d, label=l) for d, l in zip(read_jsonl(f"{data}/piqa/valid.jsonl"), labels)]
        return {"validation": write_jsonl(rows, "piqa.jsonl")}
    if task == "lambada_openai":
        return {"test": f"{data}/lambada/lambada_test.jsonl"}
    if task == "gsm8k":
        return {"train": f"{data}/gsm8k/train.jsonl", "test": f"{data}/gsm8k/test.jsonl"}
    if task == "openbookqa":
        return {"validation": f"{data}/openbookqa/validation.jsonl"}
    if task == "boolq":
        # SuperGLUE's BoolQ: passage = title + " -- " + passage, label 0/1, same order.
        rows = [
            {
                "question": d["question"],
                "passage": d["title"] + " -- " + d["passage"],
                "idx": i,
                "label": int(d["answer"]),
            }
            for i, d in enumerate(read_jsonl(f"{data}/boolq/dev.jsonl"))
        ]
        return {"validation": write_jsonl(rows, "boolq.jsonl")}
    if task.startswith("mmlu_"):
        subject = task[len("mmlu_"):]
        files = {}
        for split in ("test", "dev"):
            with open(f"{data}/mmlu/data/{split}/{subject}_{split}.csv", newline="", encoding="utf-8") as f:
                rows = [
                    {"question": r[0], "subject": subject, "choices": r[1:5], "answer": "ABCD".index(r[5])}
                    for r in csv.reader(f)
                ]
            files[split] = write_jsonl(rows, f"{task}_{split}.jsonl")
        return files
    raise KeyError(task)


def make_task(data, task, num_fewshot=None):
    """lm-eval's Task `task` over the files in `data`, configured as simple_evaluate would."""
    entry = tm._entry(task)
    files = hf_view(data, task)
    overrides = {"dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": files}}
    # Splits we do not have (ARC/HellaSwag/... train, ARC validation) are switched off; they
    # only feed few-shot pools, which 0-shot prompts never touch. Without a test split
    # (OpenBookQA here) lm-eval evaluates the validation split.
    for key, split in (("training_split", "train"), ("validation_split", "validation"), ("test_split", "test")):
        if split not in files:
            overrides[key] = None
    return as_simple_evaluate_runs(tm._factory.build(entry, overrides=overrides, registry=tm._index), num_fewshot)


def as_simple_evaluate_runs(t, num_fewshot):
    """The Task `t` set up as simple_evaluate sets it: `num_fewshot` (default the task's,
    else 0) and the few-shot seed 1234."""
    if num_fewshot is not None:
        t.set_config(key="num_fewshot", value=num_fewshot)
    elif t.get_config("num_fewshot") is None:
        t.set_config(key="num_fewshot", value=0)
    t.set_fewshot_seed(seed=1234)
    return t


def build(data, task, num_fewshot, limit):
    return requests_of(make_task(data, task, num_fewshot), limit)


def requests_of(t, limit):
    """The first `limit` docs' requests of the lm-eval Task `t`, one line per doc."""
    t.build_all_requests(limit=limit)
    by_doc = {}
    for inst in t.instances:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    lines = []
    for doc_id, insts in sorted(by_doc.items()):
        insts.sort(key=lambda i: i.idx)
        if t.OUTPUT_TYPE == "generate_until":
            ctx, kwargs = insts[0].arguments
            line = {"doc_id": doc_id, "context": ctx, "until": kwargs["until"]}
            if "max_gen_toks" in kwargs:
                line["max_gen_toks"] = kwargs["max_gen_toks"]
            lines.append(line)
        else:
            lines.append({"doc_id": doc_id, "requests": [list(i.arguments) for i in insts]})
    return lines


TASKS = ["arc_challenge", "arc_easy", "hellaswag", "winogrande", "piqa", "lambada_openai", "gsm8k", "boolq", "openbookqa"]


def mmlu_subjects(data):
    return sorted(f[: -len("_test.csv")] for f in os.listdir(f"{data}/mmlu/data/test"))


def main(data, out, limit=None, n_subjects=None):
    def dump(name, lines):
        with open(os.path.join(out, f"{name}.jsonl"), "w", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")

    os.makedirs(out, exist_ok=True)
    for task in TASKS:
        dump(task, build(data, task, None, limit))
    for name, shots in (("mmlu", None), ("mmlu_5shot", 5)):
        lines = []
        for s in mmlu_subjects(data)[:n_subjects]:
            lines += [dict(line, subject=s) for line in build(data, f"mmlu_{s}", shots, limit)]
        dump(name, lines)


if __name__ == "__main__":
    main(
        sys.argv[1],
        sys.argv[2],
        int(sys.argv[3]) if len(sys.argv) > 3 else None,
        int(sys.argv[4]) if len(sys.argv) > 4 else None,
    )
