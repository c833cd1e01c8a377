"""Score every task with lm-evaluation-harness 0.4.13 itself over a deterministic fake model.

The fake model (`fake_loglikelihood`, `fake_rolling`, `fake_generation`) is pure arithmetic on the request
strings, mirrored by `MockLm::fake` in mock.rs, so lm-eval's metrics, stderrs and per-doc
scores can be compared number for number with eval-suite's: `LM_EVAL_REFERENCE_DIR=OUT_DIR`
makes the `reference` test do that. Tasks are built by reference_prompts.make_task (same
local files); `simple_evaluate` runs them with `bootstrap_iters=2000`. The MMLU group score
uses lm-eval's group arithmetic (`aggregate_subtask_metrics`, `pooled_sample_stderr`) over
the subjects in alphabetical order.

Usage: python reference_scores.py DATA_DIR OUT_DIR   (writes OUT_DIR/scores.json)
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_prompts import TASKS, make_task, mmlu_subjects  # noqa: E402

from lm_eval import simple_evaluate  # noqa: E402
from lm_eval.api.metrics import aggregate_subtask_metrics, pooled_sample_stderr  # noqa: E402
from lm_eval.api.model import LM  # noqa: E402

BOOTSTRAP_ITERS = 2000


def fake_loglikelihood(context, continuation):
    lx, lc = len(context), len(continuation)
    s = sum(map(ord, continuation))
    ll = -0.37 * lc - 0.5 * (lx % 7) - 0.25 * ((s + lx) % 5)
    return ll, (lx + lc) % 3 == 0


def fake_rolling(text):
    return -0.5 * len(text) - 0.25 * (sum(map(ord, text)) % 7)


def fake_generation(context, answers):
    """Knows the reference answer; answers in full, loosely, or wrongly by question length."""
    q = context[context.rfind("Question: ") + len("Question: "):]
    q = q[: -len("\nAnswer:")] if q.endswith("\nAnswer:") else q
    answer = answers[q]
    number = answer.split("#### ")[-1]
    return [answer, f"The answer is {number}.", f"#### {number}7"][len(q) % 3]


class FakeLM(LM):
    def __init__(self, answers):
        super().__init__()
        self.answers = answers

    def loglikelihood(self, requests, disable_tqdm=False):
        return [fake_loglikelihood(*r.args) for r in requests]

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        return [fake_rolling(r.args[0]) for r in requests]

    def generate_until(self, requests, disable_tqdm=False):
        return [fake_generation(r.args[0], self.answers) for r in requests]


def run(lm, tasks, num_fewshot=None, limit=None):
    out = simple_evaluate(
        model=lm, tasks=tasks, num_fewshot=num_fewshot, bootstrap_iters=BOOTSTRAP_ITERS, log_samples=True, limit=limit
    )
    scores = {}
    for name, metrics in out["results"].items():
        items = {}
        for sample in out["samples"][name]:
            row = items.setdefault(sample["doc_id"], {"doc_id": sample["doc_id"]})
            for key in ("acc", "acc_norm", "acc_mutual_info", "perplexity", "exact_match"):
                if key in sample:
                    row[f"{key},{sample['filter']}"] = sample[key]
            # f1 and mcc: each item's (gold, pred).
            for key in ("f1", "mcc"):
                if key in sample:
                    row["gold,none"], row["pred,none"] = (int(x) for x in sample[key])
            # loglikelihood_rolling: each metric's (loglikelihood, words or bytes).
            for key, count in (("word_perplexity", "words"), ("byte_perplexity", "bytes"), ("bits_per_byte", "bytes")):
                if key in sample:
                    row["loglikelihood,none"], row[f"{count},none"] = sample[key]
        scores[name] = {
            "metrics": {k: v for k, v in metrics.items() if "," in k},
            "n": len(items),
            "items": [items[k] for k in sorted(items)],
        }
    return scores


def main(data, out):
    with open(f"{data}/gsm8k/test.jsonl", encoding="utf-8") as f:
        answers = {d["question"]: d["answer"] for d in map(json.loads, f)}
    lm = FakeLM(answers)
    scores = {}
    for task in TASKS:
        scores.update(run(lm, [make_task(data, task)]))
    for label, shots in (("mmlu", None), ("mmlu_5shot", 5)):
        subjects = run(lm, [make_task(data, f"mmlu_{s}", shots) for s in mmlu_subjects(data)], shots)
        names = [f"mmlu_{s}" for s in mmlu_subjects(data)]
        accs = [subjects[n]["metrics"]["acc,none"] for n in names]
        stderrs = [subjects[n]["metrics"]["acc_stderr,none"] for n in names]
        sizes = [subjects[n]["n"] for n in names]
        scores[label] = {
            "metrics": {
                "acc,none": aggregate_subtask_metrics(accs, sizes),
                "acc_stderr,none": float(pooled_sample_stderr(stderrs, sizes)),
            },
            "n": sum(sizes),
            "subtasks": {n: subjects[n] for n in names},
        }
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "scores.json"), "w", encoding="utf-8") as f:
        json.dump(scores, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
