"""An exported checkpoint in lm-evaluation-harness 0.4.13 gives what painters measured.

Exports a plan of MODEL_DIR with `painters export` (any of its plan flags, e.g. --plan P or
--from-prune DIR --step K), runs lm-eval's own Hugging Face backend (HFLM, float32, CPU) on
the exported directory, and `painters eval` on the source model under the plan, on the same
first N ARC-Easy items, then compares item by item as `make parity` does: every choice's
log-likelihood within 1e-3, the same prediction, the same acc and acc_norm.

    python scripts/export_parity.py MODEL_DIR DATA_DIR PAINTERS_BIN OUT_DIR [--items N] EXPORT_FLAGS...

writes the checkpoint to OUT_DIR/checkpoint (not committed: it is a model) and
OUT_DIR/report.{md,json}; exits 1 if any check fails.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

from lm_eval_parity import BATCH, compare, lm_eval_samples, painters_items

from lm_eval.models.huggingface import HFLM

TASK = "arc_easy"


def main():
    model, data, binary, out = sys.argv[1:5]
    flags = sys.argv[5:]
    items = 100
    if "--items" in flags:
        at = flags.index("--items")
        items = int(flags[at + 1])
        del flags[at:at + 2]
    out = Path(out)
    checkpoint = out / "checkpoint"
    if checkpoint.exists():
        subprocess.run(["rm", "-rf", str(checkpoint)], check=True)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    subprocess.run([binary, "export", "--model", model, "--out", str(checkpoint), *flags], check=True)
    manifest = json.loads((checkpoint / "painters-export.json").read_text())
    plan = manifest["plan"]
    t1 = time.time()
    lm = HFLM(pretrained=str(checkpoint), dtype="float32", batch_size=BATCH, device="cpu")
    theirs = lm_eval_samples(lm, data, TASK, items, None)
    t2 = time.time()
    ours = painters_items(binary, model, data, TASK, items, None, out / "painters", plan=plan)
    t3 = time.time()
    row = compare(TASK, ours, theirs)
    row.update(plan=plan, layers=len(manifest["layers"]), source_layers=manifest["source_layers"],
               export_check=manifest["check"]["max_abs_diff"], export_s=round(t1 - t0, 1),
               lm_eval_s=round(t2 - t1, 1), painters_s=round(t3 - t2, 1))
    print(json.dumps(row), flush=True)
    (out / "report.json").write_text(json.dumps(row, indent=1) + "\n")
    lines = [
        f"`painters export` of {Path(model).name} under `{plan}` ({row['layers']} of {row['source_layers']} "
        f"layers; its own check: max |diff| {row['export_check']:.1e}), loaded by lm-evaluation-harness's "
        f"HF backend, against `painters eval --plan` on the source:",
        "",
        "| task | items | max \\|ll diff\\| | same prediction | other | lm-eval s | painters s | ok |",
        "|---|---|---|---|---|---|---|---|",
        f"| {TASK} | {row['items']} | {row['max_ll_diff']:.1e} | {row['same_pred']}/{row['items']} | {row['other']} "
        f"| {row['lm_eval_s']} | {row['painters_s']} | {'yes' if row['ok'] else 'NO'} |",
    ]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    sys.exit(0 if row["ok"] else 1)


if __name__ == "__main__":
    main()
