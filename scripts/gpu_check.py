"""GPU check for painters (scripts/gpu-check.sh runs it on the GPU box).

Builds nothing: makes a random-weight Llama checkpoint of a 1.1B shape with the box's own
transformers, then, on the same GPU and the same token-id requests (multiple-choice
shaped: a context and four continuations per item),
  1. checks painters' per-request log-likelihoods against transformers in f32,
  2. times scoring in bf16: painters (shared contexts, and one row per request) and
     transformers scored as lm-evaluation-harness's HF backend does (one row per request,
     sorted by length, full logits, log_softmax, gather),
and prints/writes throughput, the ratio and MFU (model FLOPs 2 * params per processed
token over the GPU's dense bf16 peak); 3. gives painters a batch far too large for the
GPU and records that it backs off and finishes.

    python3 scripts/gpu_check.py --bin target/release/painters --work /tmp/gpu-check --out OUT
    python3 scripts/gpu_check.py ... --device cpu --shape tiny    # the same path, small
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {
    # TinyLlama-1.1B's shape.
    "1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
               num_key_value_heads=4, vocab_size=32000),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=512),
}
# Dense bf16 tensor-core peaks (NVIDIA datasheets, SXM parts).
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def make_checkpoint(shape, path, device):
    config = LlamaConfig(max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False, **SHAPES[shape])
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    model.to(torch.bfloat16).save_pretrained(path, safe_serialization=True)
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({f"t{i}": i for i in range(config.vocab_size)}, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(os.path.join(path, "tokenizer.json"))
    params = sum(p.numel() for p in model.parameters())
    del model
    return config, params


def make_requests(vocab, items, ctx_range, cont_range, seed=0):
    rng = random.Random(seed)
    reqs = []
    for _ in range(items):
        ctx = [rng.randrange(vocab) for _ in range(rng.randint(*ctx_range))]
        for _ in range(4):
            reqs.append((ctx, [rng.randrange(vocab) for _ in range(rng.randint(*cont_range))]))
    return reqs


def write_requests(reqs, path):
    with open(path, "w") as f:
        for ctx, cont in reqs:
            f.write(json.dumps({"context": ctx, "continuation": cont}) + "\n")


def load_hf(path, dtype, device):
    kwargs = dict(attn_implementation="sdpa")
    try:
        model = LlamaForCausalLM.from_pretrained(path, dtype=dtype, **kwargs)
    except TypeError:  # transformers < 4.56 names it torch_dtype
        model = LlamaForCausalLM.from_pretrained(path, torch_dtype=dtype, **kwargs)
    return model.to(device).eval()


@torch.no_grad()
def hf_score(model, reqs, batch_size, device):
    """lm-eval's HF backend: (ctx + cont)[:-1] per row, right-padded, longest first."""
    order = sorted(range(len(reqs)), key=lambda i: -(len(reqs[i][0]) + len(reqs[i][1])))
    out = [None] * len(reqs)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        seqs = [(reqs[i][0] + reqs[i][1])[:-1] for i in chunk]
        width = max(map(len, seqs))
        ids = torch.zeros(len(seqs), width, dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = torch.tensor(s)
        logp = torch.log_softmax(model(ids.to(device)).logits.float(), dim=-1)
        for r, i in enumerate(chunk):
            cont = reqs[i][1]
            n = len(seqs[r])
            rows = logp[r, n - len(cont):n]
            target = torch.tensor(cont, device=device)
            out[i] = rows.gather(-1, target[:, None]).sum().item()
    return out


def timed(fn, repeat):
    best, result = float("inf"), None
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, result


def painters(args, dtype, requests_path, batch_size, reuse, out=None, stderr=None):
    cmd = [args.bin, "score", "--model", args.model_dir, "--device", args.painters_device, "--dtype", dtype,
           "--requests", requests_path, "--batch-size", str(batch_size), "--repeat", str(args.repeat)]
    if not reuse:
        cmd.append("--no-reuse")
    if out:
        cmd += ["--out", out]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"painters failed ({' '.join(cmd)}):\n{done.stderr}")
    if stderr is not None:
        stderr.append(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--shape", default="1b", choices=SHAPES)
    ap.add_argument("--items", type=int, default=256)
    ap.add_argument("--batch-sizes", type=lambda t: [int(x) for x in t.split(",")], default=[32],
                    help="comma-separated; rows per batch for both painters and transformers")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--oom-rows", type=int, default=1024, help="rows in one batch for the out-of-memory check")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    args.model_dir = os.path.join(args.work, f"llama-{args.shape}")
    args.painters_device = "cuda" if args.device == "cuda" else "cpu"
    report = {"device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
              "torch": torch.__version__, "shape": args.shape}
    import transformers

    report["transformers"] = transformers.__version__
    t0 = time.time()
    config, params = make_checkpoint(args.shape, args.model_dir, args.device)
    report["params"] = params
    print(f"checkpoint: {params / 1e9:.3f}B params, {time.time() - t0:.0f}s", flush=True)

    # 1. Parity in f32 (TF32 off on both sides).
    torch.backends.cuda.matmul.allow_tf32 = False
    check = make_requests(config.vocab_size, 16, (100, 300), (5, 30), seed=1)
    check_path = os.path.join(args.work, "check.jsonl")
    write_requests(check, check_path)
    ref = hf_score(load_hf(args.model_dir, torch.float32, args.device), check, 16, args.device)
    torch.cuda.empty_cache() if args.device == "cuda" else None
    ours_path = os.path.join(args.work, "check-ours.jsonl")
    painters(args, "f32", check_path, 16, True, ours_path)
    ours = [json.loads(l)["logprob"] for l in open(ours_path)]
    diff = max(abs(a - b) for a, b in zip(ours, ref))
    report["f32_max_abs_logprob_diff"] = diff
    report["f32_requests"] = len(check)
    print(f"f32 parity: max |logprob diff| {diff:.2e} over {len(check)} requests (bound 1e-3)", flush=True)

    # 2. Throughput in bf16 on HellaSwag-like items.
    reqs = make_requests(config.vocab_size, args.items, (200, 400), (10, 40), seed=2)
    bench_path = os.path.join(args.work, "bench.jsonl")
    write_requests(reqs, bench_path)
    # Tokens each way processes: a row per request, or a context once plus its branches.
    row_tokens = sum(len(c) + len(x) - 1 for c, x in reqs)
    shared_tokens = sum(len(reqs[i][0]) + sum(len(reqs[j][1]) - 1 for j in range(i, i + 4)) for i in range(0, len(reqs), 4))
    peak = next((v for k, v in PEAK_BF16.items() if k in report["device"]), None)

    def entry(seconds, tokens):
        e = {"seconds": seconds, "requests_per_s": len(reqs) / seconds, "tokens_per_s": tokens / seconds}
        if peak:
            e["mfu"] = 2 * params * tokens / seconds / peak
        return e

    report["requests"] = len(reqs)
    report["peak_bf16_flops"] = peak
    report["throughput"] = []
    model = load_hf(args.model_dir, torch.bfloat16, args.device)
    hf = {b: timed(lambda: hf_score(model, reqs, b, args.device), args.repeat) for b in args.batch_sizes}
    del model
    torch.cuda.empty_cache() if args.device == "cuda" else None
    for b in args.batch_sizes:
        hf_s, hf_lp = hf[b]
        bf16_out = os.path.join(args.work, "bench-ours.jsonl")
        shared = painters(args, "bf16", bench_path, b, True, bf16_out)
        alone = painters(args, "bf16", bench_path, b, False)
        ours_bf16 = [json.loads(l)["logprob"] for l in open(bf16_out)]
        row = {"batch_size": b, "hf_bf16": entry(hf_s, row_tokens),
               "painters_bf16_shared": entry(shared["seconds"], shared_tokens),
               "painters_bf16_rows": entry(alone["seconds"], row_tokens),
               "speedup_shared_vs_hf": hf_s / shared["seconds"], "speedup_rows_vs_hf": hf_s / alone["seconds"],
               "bf16_max_abs_logprob_diff_vs_hf_bf16": max(abs(x - y) for x, y in zip(ours_bf16, hf_lp))}
        report["throughput"].append(row)
        print(json.dumps(row), flush=True)

    # 3. Out of memory: a batch far too large for the GPU backs off and still finishes.
    if args.device == "cuda" and args.oom_rows:
        big = make_requests(config.vocab_size, args.oom_rows, (1900, 1900), (40, 40), seed=3)
        big_path = os.path.join(args.work, "oom.jsonl")
        write_requests(big, big_path)
        args.repeat, log = 1, []
        result = painters(args, "bf16", big_path, args.oom_rows, True, stderr=log)
        report["oom_backoff"] = {"rows": args.oom_rows, "stderr": log[0].strip().splitlines()[-5:], "seconds": result["seconds"]}
    with open(os.path.join(args.out, "gpu-check.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))
    ok = diff < 1e-3
    print("PASS" if ok else "FAIL: f32 parity above 1e-3")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
