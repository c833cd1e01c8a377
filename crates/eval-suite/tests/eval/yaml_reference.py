"""Build the requests lm-evaluation-harness 0.4.13 makes for the task YAML files in
tasks/, with lm-eval's own code: `load_yaml` (includes merged as lm-eval merges them),
`ConfigurableTask`, its Jinja, its few-shot sampler seeded 1234 as `simple_evaluate`
seeds it. No network: a hub `dataset_path` is read from DATA/<name>/<split>.jsonl, the
mapping painters applies, and relative `data_files` are resolved in DATA (the script
runs there), as painters resolves them.

Usage (lm_eval 0.4.13 importable):
    python yaml_reference.py DATA_DIR OUT_DIR [LIMIT]
writes OUT_DIR/yaml_<case>.jsonl in reference_prompts.py's format, and
OUT_DIR/yaml_scores.json: every case scored by lm-eval itself over reference_scores.py's
fake model, in its scores.json format keyed by case. The golden files next to this script
were made with `python yaml_reference.py "$PAINTERS_DATA" golden 5`.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ["HF_DATASETS_OFFLINE"] = "1"
from lm_eval.api.task import ConfigurableTask  # noqa: E402
from lm_eval.tasks._yaml_loader import load_yaml  # noqa: E402

from reference_prompts import as_simple_evaluate_runs, requests_of  # noqa: E402
from reference_scores import FakeLM, run  # noqa: E402

# (output name, task file, num_fewshot or None for the file's own)
CASES = [
    ("sciq_validation", "sciq_validation.yaml", None),
    ("sciq_validation_3shot", "sciq_validation.yaml", 3),
    ("openbookqa_local", "openbookqa_local.yaml", None),
    ("lambada_local", "lambada_local.yaml", None),
    ("gsm8k_local", "gsm8k_local.yaml", None),
    ("gsm8k_vote", "gsm8k_vote.yaml", None),
    ("lambada_rolling", "lambada_rolling.yaml", None),
    ("boolq_metrics", "boolq_metrics.yaml", None),
    ("openbookqa_mutual_info", "openbookqa_mutual_info.yaml", None),
]


def make_task(data, path, num_fewshot):
    cfg = load_yaml(os.path.join(HERE, "tasks", path))
    if cfg["dataset_path"] not in ("json", "csv"):
        base = os.path.join(data, cfg["dataset_path"].rsplit("/", 1)[-1])
        splits = [cfg.get(k) for k in ("training_split", "validation_split", "test_split")]
        cfg["dataset_kwargs"] = {
            "data_files": {s: f"{base}/{s}.jsonl" for s in splits if s and os.path.exists(f"{base}/{s}.jsonl")}
        }
        cfg["dataset_path"], cfg["dataset_name"] = "json", None
    return as_simple_evaluate_runs(ConfigurableTask(config=cfg), num_fewshot)


def main(data, out, limit=None):
    data, out = os.path.abspath(data), os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    os.chdir(data)
    with open(f"{data}/gsm8k/test.jsonl", encoding="utf-8") as f:
        lm = FakeLM({d["question"]: d["answer"] for d in map(json.loads, f)})
    scores = {}
    for name, path, shots in CASES:
        lines = requests_of(make_task(data, path, shots), limit)
        with open(os.path.join(out, f"yaml_{name}.jsonl"), "w", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        task = make_task(data, path, shots)
        (scored,) = run(lm, [task], shots, limit).values()
        scores[name] = scored
    with open(os.path.join(out, "yaml_scores.json"), "w", encoding="utf-8") as f:
        json.dump(scores, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
