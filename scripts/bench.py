"""`make bench`: painters side by side with lm-evaluation-harness 0.4.13's HF backend, and
painters with its reuse against without, in one run on this machine.

1. Scoring throughput per variant (baseline, skip and reverse of the 9 middle layers) on
   HellaSwag and ARC-Easy: the same model (SmolLM2-135M, f32), the same items, the same
   thread count, batch 8, wall time end to end (model load included on both sides).
   lm-eval runs the variant by reordering the HF model's layer list.
2. Grids: layer passes (from the plan trie) and wall time of `painters run` with reuse
   (plan trie + shared contexts) against `--no-reuse` (every cell alone, a row per
   request), for the demo grid and the paper's main grid on SmolLM2 (all six variants,
   s = 0..14); layer passes alone for the looped-parallel heat map (s = 0..14, K = 1..28).
3. Peak RSS of `painters eval` against the checkpoint's size on disk.
4. Pruning: one greedy step of `painters prune --objective nll` on SmolLM2 (32 LAMBADA
   passages), its candidates scored as one plan trie against `--one-by-one`: layer passes
   (from `--dry-run`) and wall time, and whether both give the same prune.csv.
5. The cost of bitwise reproducibility: `painters eval` in MKL's conditional numerical
   reproducibility mode (the default, MKL_CBWR=AUTO,STRICT) against without it
   (MKL_CBWR= : CNR off), alternated, fastest of 3 each.

    python scripts/bench.py MODEL_DIR DATA_DIR PAINTERS_BIN OUT_DIR [--items N] [--sections S,...]

writes OUT_DIR/cpu.json and OUT_DIR/cpu.md (quoted in the README). `--sections` runs only
some of throughput, grids, memory (needs throughput), reproducibility, and keeps the other
sections of an existing cpu.json.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "crates/eval-suite/tests/eval"))
from reference_prompts import make_task  # noqa: E402

from lm_eval import simple_evaluate  # noqa: E402
from lm_eval.models.huggingface import HFLM  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BATCH = 8
THREADS = os.cpu_count()
# Variant -> layer order on 30 layers (start layer s = 10: the 9 layers 11..19 affected).
VARIANTS = {
    "baseline": ([], list(range(30))),
    "skip s=10": (["--variant", "skip", "--start-layer", "10"], list(range(11)) + list(range(20, 30))),
    "reverse s=10": (["--variant", "reverse", "--start-layer", "10"], list(range(11)) + list(range(19, 10, -1)) + list(range(20, 30))),
}
METRIC = {"hellaswag": "acc_norm,none", "arc_easy": "acc,none"}


def run_child(cmd, env=None):
    """Runs cmd; returns (seconds, peak RSS in bytes, stdout). The peak comes from GNU
    time: a child's own rusage would start from this (large) Python process's."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name, *map(str, cmd)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"failed ({done.returncode}): {' '.join(map(str, cmd))}")
        return seconds, int(peak.read().split()[-1]) * 1024, done.stdout


def lm_eval_run(model_dir, data, task, items, order):
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    layers = model.model.layers
    model.model.layers = torch.nn.ModuleList([layers[i] for i in order])
    lm = HFLM(pretrained=model, tokenizer=AutoTokenizer.from_pretrained(model_dir), batch_size=BATCH, device="cpu")
    out = simple_evaluate(model=lm, tasks=[make_task(data, task, None)], limit=items, bootstrap_iters=0)
    return time.perf_counter() - start, out["results"][task][METRIC[task]]


def painters_eval(binary, model_dir, data, task, items, flags, out):
    cmd = [binary, "eval", "--model", model_dir, "--data", data, "--tasks", task, "--limit", str(items),
           "--batch-size", str(BATCH), "--out", out, *flags]
    seconds, rss, _ = run_child(cmd, env={**os.environ, "OMP_NUM_THREADS": str(THREADS)})
    metrics = json.load(open(Path(out) / "results.json"))["results"][0]["metrics"]
    name, filt = METRIC[task].split(",")
    value = next(m["value"] for m in metrics if m["name"] == name and m.get("filter", "none") == filt)
    return seconds, rss, value


def plan_passes(binary, experiment):
    """(layer passes alone, with shared prefixes) per scored item, from `painters plan`."""
    _, _, out = run_child([binary, "plan", str(experiment)])
    m = re.search(r"(\d+) layer-passes per scored item .*?; (\d+) \(", out.strip().splitlines()[-1])
    return int(m.group(1)), int(m.group(2))


def grid(binary, data, experiment, work):
    row = {"experiment": str(experiment.relative_to(ROOT))}
    row["passes_alone"], row["passes_shared"] = plan_passes(binary, experiment)
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
    for name, flags in [("reuse", []), ("no_reuse", ["--no-reuse"])]:
        out = Path(work) / f"{experiment.stem}-{name}"
        row[f"seconds_{name}"], _, _ = run_child([binary, "run", str(experiment), "--data", data, "--out", str(out), *flags], env=env)
        row[f"summary_{name}"] = (out / "summary.csv").read_text()
    row["same_summary"] = row.pop("summary_reuse") == row.pop("summary_no_reuse")
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("binary")
    ap.add_argument("out")
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--sections", default="throughput,grids,memory,pruning,reproducibility")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    torch.set_num_threads(THREADS)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = tempfile.mkdtemp(prefix="painters-bench-")
    old = out_dir / "cpu.json"
    report = json.loads(old.read_text()) if sections != {"throughput", "grids", "memory", "pruning", "reproducibility"} and old.exists() else {}
    report.update({"threads": THREADS, "batch_size": BATCH, "items": args.items})

    if "reproducibility" in sections:
        report["reproducibility"] = [reproducibility_cost(args, task, f"{work}/cnr") for task in ["hellaswag", "arc_easy"]]
        print(json.dumps(report["reproducibility"]), flush=True)
    if "throughput" in sections:
        report["throughput"] = throughput(args, work)
    if "grids" in sections:
        report["grids"], report["heatmap"] = grids(args, work)
    if "pruning" in sections:
        report["pruning"] = pruning(args, work)
        print(json.dumps(report["pruning"]), flush=True)
    if "memory" in sections:
        size = sum(p.stat().st_size for p in Path(args.model).glob("*.safetensors"))
        peak = max(r["painters_peak_rss"] for r in report["throughput"])
        report["memory"] = {"checkpoint_bytes": size, "peak_rss_bytes": peak, "ratio": peak / size}
    shutil.rmtree(work)
    (out_dir / "cpu.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "cpu.md").write_text(markdown(report))
    print(markdown(report))


def reproducibility_cost(args, task, out):
    """Fastest of 3 alternated `painters eval` runs with CNR on (default) and off."""
    best = {"on": float("inf"), "off": float("inf")}
    values = {}
    for _ in range(3):
        for mode, env in [("on", {}), ("off", {"MKL_CBWR": ""})]:
            cmd = [args.binary, "eval", "--model", args.model, "--data", args.data, "--tasks", task, "--limit", str(args.items),
                   "--batch-size", str(BATCH), "--out", out]
            seconds, _, _ = run_child(cmd, env={**os.environ, "OMP_NUM_THREADS": str(THREADS), **env})
            best[mode] = min(best[mode], seconds)
            values[mode] = (Path(out) / f"{task}.jsonl").read_text()
    return {"task": task, "seconds_cnr": best["on"], "seconds_no_cnr": best["off"], "ratio": best["on"] / best["off"],
            "same_records": values["on"] == values["off"]}


def throughput(args, work):
    rows = []
    for task in ["hellaswag", "arc_easy"]:
        for variant, (flags, order) in VARIANTS.items():
            lm_s, lm_value = lm_eval_run(args.model, args.data, task, args.items, order)
            ours_s, rss, ours_value = painters_eval(args.binary, args.model, args.data, task, args.items, flags, f"{work}/eval")
            row = {"task": task, "variant": variant, "lm_eval_items_per_s": args.items / lm_s,
                   "painters_items_per_s": args.items / ours_s, "speedup": lm_s / ours_s,
                   "lm_eval_metric": lm_value, "painters_metric": ours_value, "painters_peak_rss": rss}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def grids(args, work):
    rows = []
    bench_dir = ROOT / "experiments/bench"
    for experiment in [ROOT / "experiments/smollm2-demo.toml", bench_dir / "smollm2-main-grid.toml"]:
        row = grid(args.binary, args.data, experiment, work)
        rows.append(row)
        print(json.dumps(row), flush=True)
    alone, shared = plan_passes(args.binary, bench_dir / "smollm2-heatmap.toml")
    return rows, {"experiment": "experiments/bench/smollm2-heatmap.toml", "passes_alone": alone, "passes_shared": shared}


def pruning(args, work):
    """One greedy NLL step, shared plan trie against every candidate alone."""
    common = [args.binary, "prune", "--model", args.model, "--objective", "nll", "--texts",
              f"{args.data}/lambada/lambada_test.jsonl", "--limit", "32", "--steps", "1", "--protect", "0,29"]
    _, _, out = run_child([*common, "--dry-run"])
    m = re.search(r"total: (\d+) layer passes per text shared, (\d+) one by one", out)
    row = {"passes_shared": int(m.group(1)), "passes_alone": int(m.group(2))}
    env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
    csvs = {}
    for name, flags in [("shared", []), ("alone", ["--one-by-one"])]:
        out_dir = Path(work) / f"prune-{name}"
        row[f"seconds_{name}"], _, _ = run_child([*common, "--out", out_dir, *flags], env=env)
        csvs[name] = (out_dir / "prune.csv").read_text()
    row["same_prune_csv"] = csvs["shared"] == csvs["alone"]
    return row


def markdown(r):
    lines = [f"Measured by `make bench` ({r['threads']} threads, batch {r['batch_size']}, {r['items']} items per task, "
             "SmolLM2-135M f32, wall time end to end including model load).", "",
             "| task | variant | lm-eval items/s | painters items/s | speedup | lm-eval metric | painters metric |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for t in r["throughput"]:
        lines.append(f"| {t['task']} | {t['variant']} | {t['lm_eval_items_per_s']:.2f} | {t['painters_items_per_s']:.2f} | "
                     f"{t['speedup']:.2f}x | {t['lm_eval_metric']:.3f} | {t['painters_metric']:.3f} |")
    lines += ["", "| grid | layer passes alone | with shared prefixes | ratio | wall alone (s) | wall with reuse (s) | ratio | same summary.csv |",
              "|---|---:|---:|---:|---:|---:|---:|---|"]
    for g in r["grids"]:
        lines.append(f"| {g['experiment']} | {g['passes_alone']} | {g['passes_shared']} | {g['passes_shared'] / g['passes_alone']:.2f}x | "
                     f"{g['seconds_no_reuse']:.0f} | {g['seconds_reuse']:.0f} | {g['seconds_reuse'] / g['seconds_no_reuse']:.2f}x | {g['same_summary']} |")
    h = r["heatmap"]
    lines.append(f"| {h['experiment']} | {h['passes_alone']} | {h['passes_shared']} | {h['passes_shared'] / h['passes_alone']:.3f}x "
                 f"({h['passes_alone'] / h['passes_shared']:.1f}x fewer) | - | - | - | - |")
    if "pruning" in r:
        p = r["pruning"]
        lines += ["", "One greedy step of `painters prune --objective nll` (32 LAMBADA passages, 28 candidates), plan trie against "
                  "every candidate alone:", "",
                  "| layer passes alone | shared | ratio | wall alone (s) | wall shared (s) | ratio | same prune.csv |",
                  "|---:|---:|---:|---:|---:|---:|---|",
                  f"| {p['passes_alone']} | {p['passes_shared']} | {p['passes_shared'] / p['passes_alone']:.2f}x | "
                  f"{p['seconds_alone']:.0f} | {p['seconds_shared']:.0f} | {p['seconds_shared'] / p['seconds_alone']:.2f}x | {p['same_prune_csv']} |"]
    m = r["memory"]
    lines += ["", f"Peak RSS of `painters eval`: {m['peak_rss_bytes'] / 2**20:.0f} MiB for a {m['checkpoint_bytes'] / 2**20:.0f} MiB "
              f"checkpoint ({m['ratio']:.2f}x).", "", "Layer passes are per scored item (one plan walk); "
              "shared contexts cut the tokens each pass processes on top of that."]
    if "reproducibility" in r:
        lines += ["", "Bitwise reproducibility (MKL CNR AUTO,STRICT, the default) against CNR off, `painters eval`, fastest of 3:", "",
                  "| task | CNR on (s) | CNR off (s) | ratio | same records |", "|---|---:|---:|---:|---|"]
        for c in r["reproducibility"]:
            lines.append(f"| {c['task']} | {c['seconds_cnr']:.1f} | {c['seconds_no_cnr']:.1f} | {c['ratio']:.3f}x | {c['same_records']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
