"""Golden fixtures for layer-graph's parity tests, computed with Hugging Face transformers.

    python scripts/make_fixtures.py OUT_DIR MODELS_DIR

OUT_DIR/tiny/<name>/          a small random checkpoint per family variant (config.json,
                              model.safetensors, tokenizer.json) and golden.safetensors:
                              ids_<i> (T,) int64 and out_<i> (T, V or C) float32 for each
                              test sequence, run one at a time (no padding) in float32
OUT_DIR/tiny/llama-sharded/   llama saved in several shards with model.safetensors.index.json
OUT_DIR/tiny/llama-bf16/      llama saved in bfloat16; golden computed in float32 from the
                              bfloat16-rounded weights
OUT_DIR/tiny/llama-perturbed/ llama's checkpoint with one weight nudged by 1e-2 and llama's
                              golden file: the parity test must see a large diff here
OUT_DIR/smollm2.json          per-token log-probs of fixed texts under the real SmolLM2
OUT_DIR/minilm.safetensors    last hidden states of fixed texts under the real MiniLM
OUT_DIR/smollm2_plans.json    per-token log-probs under the paper's variants, computed by a
                              manual layer loop over transformers' own SmolLM2 layers, with
                              each variant's layer order derived here from the paper's
                              definitions (independently of layer-plan)
"""

import json
import random
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    AutoModel, AutoModelForCausalLM, AutoTokenizer, BertConfig, BertModel, GPT2Config,
    GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM,
    MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM,
)

VOCAB = 512
SEQ_LENGTHS = [9, 6, 1]
TEXTS = [
    "The capital of France is",
    "Transformer layers behave like painters: each one adds its strokes to a shared canvas.",
    "def add(a, b):\n    return a + b",
    "In 1969, Neil Armstrong became the first person to walk on the Moon.",
    "Question: What is 12 times 7?\nAnswer: 84",
]

DECODER = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
               num_attention_heads=4, max_position_embeddings=64)
TINY = {
    "llama": lambda: LlamaForCausalLM(LlamaConfig(
        **DECODER, num_key_value_heads=2, tie_word_embeddings=True, rms_norm_eps=1e-5)),
    "llama3-rope": lambda: LlamaForCausalLM(LlamaConfig(
        **DECODER, num_key_value_heads=1, head_dim=24, tie_word_embeddings=False,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 16})),
    "qwen2": lambda: Qwen2ForCausalLM(Qwen2Config(
        **DECODER, num_key_value_heads=2, tie_word_embeddings=False)),
    "mistral": lambda: MistralForCausalLM(MistralConfig(
        **DECODER, num_key_value_heads=2, sliding_window=None)),
    "gpt_neox": lambda: GPTNeoXForCausalLM(GPTNeoXConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
        num_attention_heads=4, rotary_pct=0.25, use_parallel_residual=True,
        max_position_embeddings=64)),
    "gpt_neox-sequential": lambda: GPTNeoXForCausalLM(GPTNeoXConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
        num_attention_heads=4, rotary_pct=0.5, use_parallel_residual=False,
        max_position_embeddings=64)),
    "gpt2": lambda: GPT2LMHeadModel(GPT2Config(
        vocab_size=VOCAB, n_embd=64, n_layer=3, n_head=4, n_positions=64)),
    "bert": lambda: BertModel(BertConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
        num_attention_heads=4, max_position_embeddings=64), add_pooling_layer=False),
}


def randomise(model: torch.nn.Module) -> None:
    """Weights large enough that a wrong op shows up far above float32 noise."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name.lower() or ".ln_" in name or "ln_f" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
            else:
                p.normal_(0.0, 0.1)


def word_tokenizer(path: Path) -> None:
    vocab = {"[UNK]": 0, **{f"w{i}": i for i in range(1, VOCAB)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(path))


def reference_outputs(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(input_ids=ids.unsqueeze(0))
    return (out.logits if hasattr(out, "logits") else out.last_hidden_state)[0].float()


def save_golden(model, d: Path) -> None:
    golden = {}
    torch.manual_seed(7)
    for j, t in enumerate(SEQ_LENGTHS):
        ids = torch.randint(0, VOCAB, (t,), dtype=torch.int64)
        golden[f"ids_{j}"] = ids
        golden[f"out_{j}"] = reference_outputs(model, ids)
    save_file(golden, d / "golden.safetensors")


def make_tiny(out: Path) -> None:
    for i, (name, build) in enumerate(TINY.items()):
        torch.manual_seed(1000 + i)
        model = build().eval()
        randomise(model)
        d = out / name
        model.save_pretrained(d, safe_serialization=True)
        word_tokenizer(d / "tokenizer.json")
        save_golden(model, d)
        if name == "llama":
            model.save_pretrained(out / "llama-sharded", max_shard_size="40KB")
            word_tokenizer(out / "llama-sharded" / "tokenizer.json")
            shutil.copy(d / "golden.safetensors", out / "llama-sharded")
            model.to(torch.bfloat16).save_pretrained(out / "llama-bf16")
            word_tokenizer(out / "llama-bf16" / "tokenizer.json")
            # Reloaded in float32, so buffers such as rotary frequencies are not rounded too.
            upcast = LlamaForCausalLM.from_pretrained(out / "llama-bf16", dtype=torch.float32).eval()
            save_golden(upcast, out / "llama-bf16")

    perturbed = out / "llama-perturbed"
    shutil.copytree(out / "llama", perturbed)
    weights = load_file(perturbed / "model.safetensors")
    weights["model.layers.1.mlp.down_proj.weight"][0, 0] += 1e-2
    save_file(weights, perturbed / "model.safetensors", metadata={"format": "pt"})


def make_real(out: Path, models_dir: Path) -> None:
    smol = models_dir / "smollm2-135m"
    tok = AutoTokenizer.from_pretrained(smol)
    model = AutoModelForCausalLM.from_pretrained(smol, dtype=torch.float32).eval()
    records = []
    for text in TEXTS:
        ids = tok(text)["input_ids"]
        logp = torch.log_softmax(reference_outputs(model, torch.tensor(ids)).double(), -1)
        records.append({"text": text, "ids": ids,
                        "logprobs": logp[:-1].gather(-1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()})
    (out / "smollm2.json").write_text(json.dumps(records, indent=1))

    mini = models_dir / "minilm-l6"
    tok = AutoTokenizer.from_pretrained(mini)
    model = AutoModel.from_pretrained(mini, dtype=torch.float32).eval()
    golden = {}
    for j, text in enumerate(TEXTS):
        ids = torch.tensor(tok(text)["input_ids"])
        golden[f"ids_{j}"] = ids
        golden[f"out_{j}"] = reference_outputs(model, ids)
    save_file(golden, out / "minilm.safetensors")


# (variant name, arguments as `painters plan` takes them)
PLAN_VARIANTS = [
    ("skip", {"start_layer": 10}),
    ("reverse", {"start_layer": 10}),
    ("shuffle", {"start_layer": 10, "seed": 0}),
    ("shuffle", {"start_layer": 6, "seed": 3}),
    ("repeat-middle", {"start_layer": 10}),
    ("double-repeat", {"start_layer": 12}),
    ("parallel", {"start_layer": 10}),
    ("looped-parallel", {"start_layer": 10, "times": 3}),
    ("looped-parallel", {"start_layer": 4, "times": 2}),
    ("swap", {"layer": 14}),
    ("skip-one", {"layer": 7}),
]


def paper_steps(name: str, num_layers: int, args: dict) -> list:
    """The paper's layer order: an int runs a layer, a list is a mean-merged parallel group."""
    if "layer" in args:
        n = args["layer"]
        order = list(range(num_layers))
        if name == "swap":
            order[n], order[n + 1] = order[n + 1], order[n]
            return order
        return [i for i in order if i != n]  # skip-one
    s = args["start_layer"]
    head, middle, tail = list(range(s + 1)), list(range(s + 1, num_layers - s)), list(range(num_layers - s, num_layers))
    if name == "skip":
        middle = []
    elif name == "reverse":
        middle = middle[::-1]
    elif name == "shuffle":  # the official code: random.seed(seed); random.shuffle(layers)
        random.seed(args["seed"])
        random.shuffle(middle)
    elif name == "repeat-middle":
        middle = [num_layers // 2] * len(middle)
    elif name == "double-repeat":
        middle = [i for i in middle for _ in range(2)]
    elif name == "parallel":
        middle = [middle]
    elif name == "looped-parallel":
        middle = [middle] * args["times"]
    return head + middle + tail


def plan_logprobs(model, steps: list, ids: list[int]) -> list[float]:
    """Per-token log-probs with transformers' own layers run in `steps` order."""
    m = model.model
    x = torch.tensor([ids])
    t = len(ids)
    position_ids = torch.arange(t)[None]
    mask = torch.full((t, t), float("-inf")).triu(1)[None, None]
    with torch.no_grad():
        h = m.embed_tokens(x)
        rope = m.rotary_emb(h, position_ids)
        run = lambda i, h: m.layers[i](h, attention_mask=mask, position_ids=position_ids, position_embeddings=rope)
        for step in steps:
            h = torch.stack([run(i, h) for i in step]).mean(0) if isinstance(step, list) else run(step, h)
        logits = model.lm_head(m.norm(h))[0].double()
    logp = torch.log_softmax(logits, -1)
    return logp[:-1].gather(-1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()


def make_plans(out: Path, models_dir: Path) -> None:
    smol = models_dir / "smollm2-135m"
    tok = AutoTokenizer.from_pretrained(smol)
    model = AutoModelForCausalLM.from_pretrained(smol, dtype=torch.float32).eval()
    num_layers = model.config.num_hidden_layers
    records = []
    for name, args in PLAN_VARIANTS:
        steps = paper_steps(name, num_layers, args)
        results = []
        for text in TEXTS[:3]:
            ids = tok(text)["input_ids"]
            results.append({"text": text, "ids": ids, "logprobs": plan_logprobs(model, steps, ids)})
        spec = {"name": name, **{k.replace("_", "-"): v for k, v in args.items()}}  # VariantSpec keys
        records.append({"variant": spec, "steps": steps, "results": results})
    (out / "smollm2_plans.json").write_text(json.dumps(records, indent=1))


def main() -> None:
    out, models_dir = Path(sys.argv[1]), Path(sys.argv[2])
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "tiny").mkdir(parents=True)
    make_tiny(tmp / "tiny")
    make_real(tmp, models_dir)
    make_plans(tmp, models_dir)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


if __name__ == "__main__":
    main()
