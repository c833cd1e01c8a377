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
OUT_DIR/tiny/llama-bos/       llama's checkpoint with a tokenizer that adds a BOS, as Llama-2's
                              and Mistral's do, and lm_eval.json: the token ids and answers of
                              lm-evaluation-harness 0.4.13's own HF backend (HFLM) for a few
                              requests, with the tokenizer's special tokens ("tokenizer") and
                              with add_bos_token=False ("never")
OUT_DIR/tiny/gpt2-eos/        gpt2's checkpoint with a tokenizer whose BOS and EOS are one token
                              (as GPT-2's), and lm_eval.json for the same requests: prompts and
                              pairs longer than its 64 positions, truncated as lm-eval truncates
OUT_DIR/smollm2.json          per-token log-probs of fixed texts under the real SmolLM2
OUT_DIR/minilm.safetensors    last hidden states of fixed texts under the real MiniLM
OUT_DIR/smollm2_plans.json    per-token log-probs under the paper's variants, computed by a
                              manual layer loop over transformers' own SmolLM2 layers, with
                              each variant's layer order derived here from the paper's
                              definitions (independently of layer-plan)
OUT_DIR/tiny/<name>/golden_halves.safetensors, halves.json
                              outputs under plans of layer halves (`1.attn`, `2.mlp`), from
                              a loop over the model's own attention and MLP modules
OUT_DIR/smollm2_halves.json   SmolLM2's per-token log-probs under plans of halves, the same way
OUT_DIR/lens.json             SmolLM2's logit lens over the importance texts, per layer
OUT_DIR/importance.json       `painters importance`'s proxies (Block Influence, relative
                              magnitude, angular distance) from transformers' hidden states,
                              the last one taken before the final norm, for SmolLM2 and
                              MiniLM, and SmolLM2's NLL with each layer removed; the texts are
                              OUT_DIR/importance_texts.jsonl
"""

import json
import math
import os
import random
import shutil
import sys
from pathlib import Path

# lm-eval and transformers read the tiny checkpoints from disk; nothing is downloaded.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import torch
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    AutoModel, AutoModelForCausalLM, AutoTokenizer, BertConfig, BertModel, GPT2Config,
    GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM,
    MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
    Qwen3ForCausalLM, Gemma2Config, Gemma2ForCausalLM, Gemma3TextConfig, Gemma3ForCausalLM,
    Phi3Config, Phi3ForCausalLM, Olmo2Config, Olmo2ForCausalLM, MixtralConfig,
    MixtralForCausalLM, Qwen2MoeConfig, Qwen2MoeForCausalLM,
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
    # Last, so the seeds of the checkpoints above stay as they were.
    "qwen3": lambda: Qwen3ForCausalLM(Qwen3Config(
        **DECODER, num_key_value_heads=2, head_dim=24, tie_word_embeddings=False)),
    # The 2026 families (#19). Windows of 4 and 5 tokens and small soft-caps, so sliding
    # attention and capping change the 9-token golden sequence; layers 0 and 2 slide.
    "mistral-window": lambda: MistralForCausalLM(MistralConfig(
        **DECODER, num_key_value_heads=2, sliding_window=4)),
    "gemma2": lambda: Gemma2ForCausalLM(Gemma2Config(
        **DECODER, num_key_value_heads=2, head_dim=16, sliding_window=4, query_pre_attn_scalar=24,
        attn_logit_softcapping=1.5, final_logit_softcapping=2.0)),
    "gemma3": lambda: Gemma3ForCausalLM(Gemma3TextConfig(
        **DECODER, num_key_value_heads=2, head_dim=16, sliding_window=4, query_pre_attn_scalar=16,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                         "full_attention": {"rope_type": "linear", "factor": 4.0, "rope_theta": 1e6}})),
    # longrope from 8 tokens on: the 9-token sequence takes the long factors, the 6-token
    # one the short ones.
    "phi3": lambda: Phi3ForCausalLM(Phi3Config(
        **DECODER, num_key_value_heads=2, sliding_window=5, original_max_position_embeddings=8,
        rope_scaling={"type": "longrope", "short_factor": [1.0 + 0.1 * i for i in range(8)],
                      "long_factor": [2.0 + 0.5 * i for i in range(8)]},
        pad_token_id=0, eos_token_id=2)),
    "olmo2": lambda: Olmo2ForCausalLM(Olmo2Config(**DECODER, num_key_value_heads=2, pad_token_id=0)),
    "mixtral": lambda: MixtralForCausalLM(MixtralConfig(
        **DECODER, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2,
        sliding_window=None)),
    # Layer 1 dense (mlp_only_layers), 0 and 2 sparse with a shared expert.
    "qwen2_moe": lambda: Qwen2MoeForCausalLM(Qwen2MoeConfig(
        **DECODER, num_key_value_heads=2, num_experts=4, num_experts_per_tok=2,
        moe_intermediate_size=32, shared_expert_intermediate_size=48, mlp_only_layers=[1])),
}

# Families whose golden also covers plans (make_plan_goldens): a reordered plan with a
# repeat, and a parallel group whose members differ in attention type (gemma: layer 1 is
# global, layer 2 slides).
PLAN_FAMILIES = ["llama", "qwen3", "mistral-window", "gemma2", "gemma3", "phi3", "olmo2", "mixtral", "qwen2_moe"]
FAMILY_PLANS = [("2 0 1 1", [2, 0, 1, 1]), ("0 [1|2] 2", [0, [1, 2], 2])]


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


def layer_window(config, i: int):
    """Layer i's sliding window as the modelling code reads the config."""
    window = getattr(config, "sliding_window", None)
    types = getattr(config, "layer_types", None)
    if types is not None:
        return window if types[i] == "sliding_attention" else None
    return window


def plan_logits(model, steps: list, ids: torch.Tensor) -> torch.Tensor:
    """Logits (T, V) of a manual loop over the model's own decoder layers: an int runs a
    layer, a list averages its members' outputs. Eager attention with explicit masks."""
    inner, config = model.model, model.config
    t = ids.shape[0]
    position_ids = torch.arange(t)[None]
    q, k = torch.arange(t)[:, None], torch.arange(t)[None, :]

    def mask(window):
        allowed = (k <= q) & ((q - k < window) if window else True)
        return torch.where(allowed, 0.0, torch.finfo(torch.float32).min)[None, None]

    def run(i: int, h: torch.Tensor) -> torch.Tensor:
        layer = inner.layers[i]
        rotary = inner.rotary_emb
        if isinstance(getattr(config, "rope_parameters", None), dict) and "full_attention" in config.rope_parameters:
            pe = rotary(h, position_ids, config.layer_types[i])  # Gemma-3: a base per type
        else:
            pe = rotary(h, position_ids)
        out = layer(h, attention_mask=mask(layer_window(config, i)), position_ids=position_ids,
                    position_embeddings=pe)
        return out[0] if isinstance(out, tuple) else out

    with torch.no_grad():
        h = inner.embed_tokens(ids[None])
        for step in steps:
            h = run(step, h) if isinstance(step, int) else torch.stack([run(i, h) for i in step]).mean(0)
        logits = model.lm_head(inner.norm(h))
        cap = getattr(config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
    return logits[0].float()


def make_plan_goldens(model, d: Path) -> None:
    """golden_plans.safetensors: out_<k>_<j>, the logits of golden sequence j under
    FAMILY_PLANS[k]; plans.json the plan texts. The loop is first checked against the
    model's own forward pass on the baseline order."""
    model.set_attn_implementation("eager")
    golden = load_file(d / "golden.safetensors")
    out = {}
    for j in range(len(SEQ_LENGTHS)):
        ids = golden[f"ids_{j}"]
        loop = plan_logits(model, list(range(model.config.num_hidden_layers)), ids)
        diff = (loop - golden[f"out_{j}"]).abs().max().item()
        assert diff < 1e-4, f"{d.name}: the manual layer loop differs from transformers by {diff}"
        for k, (_, steps) in enumerate(FAMILY_PLANS):
            out[f"out_{k}_{j}"] = plan_logits(model, steps, ids)
    save_file(out, d / "golden_plans.safetensors")
    (d / "plans.json").write_text(json.dumps([text for text, _ in FAMILY_PLANS]))


# Plans of layer halves (#15): a step is (layer, part) with part "whole", "attn" or "mlp",
# or a list of such (a mean-merged parallel group). plan_text writes painters' text form.
TINY_HALF_PLANS = [
    [(0, "attn"), (0, "mlp"), (1, "attn"), (1, "mlp"), (2, "attn"), (2, "mlp")],
    [(0, "whole"), (1, "mlp"), (2, "attn")],
    [(0, "mlp"), (0, "attn"), (1, "whole"), (1, "attn"), (2, "mlp"), (2, "mlp")],
    [[(0, "attn"), (0, "mlp")], (1, "whole"), [(2, "attn"), (1, "mlp")]],
]
HALF_FAMILIES = ["llama", "gpt_neox", "gpt_neox-sequential", "gpt2", "bert"]


def smollm2_half_plans(n: int) -> list:
    whole = lambda layers: [(i, "whole") for i in layers]
    return [
        whole(range(20)) + [(i, "mlp") for i in range(20, n)],  # attention dropped in 20-29
        whole(range(10)) + [(i, "attn") for i in range(10, 15)] + whole(range(15, n)),  # MLP dropped in 10-14
        [(i, part) for i in range(n) for part in ("attn", "mlp")],  # every layer as halves
        whole(range(12)) + [(12, "mlp"), (12, "attn"), (13, "attn"), (13, "attn"), (13, "mlp")] + whole(range(14, n)),
    ]


def plan_text(steps: list) -> str:
    atom = lambda a: f"{a[0]}" if a[1] == "whole" else f"{a[0]}.{a[1]}"
    return " ".join(f"[{'|'.join(atom(a) for a in s)}]" if isinstance(s, list) else atom(s) for s in steps)


class Halves:
    """One model's embedding, layer halves and head, called as its modelling code calls
    its own modules (eager attention, an explicit causal mask, rotary from the model)."""

    def __init__(self, model):
        self.model, self.kind = model, model.config.model_type
        model.set_attn_implementation("eager")

    def run(self, steps: list, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[0]
        pos = torch.arange(t)[None]
        causal = torch.full((t, t), torch.finfo(torch.float32).min).triu(1)[None, None]
        with torch.no_grad():
            h = self.embed(ids[None], pos)
            self.pe = self.rotary(h, pos)
            self.mask = None if self.kind == "bert" else causal
            for step in steps:
                h = self.atom(step, h) if isinstance(step, tuple) else torch.stack([self.atom(a, h) for a in step]).mean(0)
            return self.head(h)[0].float()

    def atom(self, atom: tuple, h: torch.Tensor) -> torch.Tensor:
        i, part = atom
        if part == "whole":
            return self.whole(i, h)
        return self.attn_half(i, h) if part == "attn" else self.mlp_half(i, h)

    def embed(self, ids, pos):
        m = self.model
        if self.kind == "gpt2":
            return m.transformer.wte(ids) + m.transformer.wpe(pos)
        if self.kind == "gpt_neox":
            return m.gpt_neox.embed_in(ids)
        if self.kind == "bert":
            return m.embeddings(input_ids=ids)
        return m.model.embed_tokens(ids)

    def rotary(self, h, pos):
        m = self.model
        if self.kind == "gpt_neox":
            return m.gpt_neox.rotary_emb(h, pos)
        if self.kind in ("gpt2", "bert"):
            return None
        return m.model.rotary_emb(h, pos)

    def layer(self, i):
        m = self.model
        return {"gpt2": lambda: m.transformer.h, "gpt_neox": lambda: m.gpt_neox.layers,
                "bert": lambda: m.encoder.layer}.get(self.kind, lambda: m.model.layers)()[i]

    def whole(self, i, h):
        layer = self.layer(i)
        if self.kind == "bert":
            out = layer(h, attention_mask=None)
        elif self.kind == "gpt2":
            out = layer(h, attention_mask=self.mask)
        else:
            out = layer(h, attention_mask=self.mask, position_embeddings=self.pe)
        return out[0] if isinstance(out, tuple) else out

    def attn_half(self, i, h):
        layer = self.layer(i)
        if self.kind == "bert":
            return layer.attention(h, attention_mask=None)[0]
        if self.kind == "gpt2":
            return h + layer.attn(layer.ln_1(h), attention_mask=self.mask)[0]
        if self.kind == "gpt_neox":
            return h + layer.attention(layer.input_layernorm(h), attention_mask=self.mask, position_embeddings=self.pe)[0]
        return h + layer.self_attn(layer.input_layernorm(h), position_embeddings=self.pe, attention_mask=self.mask)[0]

    def mlp_half(self, i, h):
        layer = self.layer(i)
        if self.kind == "bert":
            return layer.output(layer.intermediate(h), h)
        if self.kind == "gpt2":
            return h + layer.mlp(layer.ln_2(h))
        return h + layer.mlp(layer.post_attention_layernorm(h))

    def head(self, h):
        m = self.model
        if self.kind == "bert":
            return h
        if self.kind == "gpt2":
            return m.lm_head(m.transformer.ln_f(h))
        if self.kind == "gpt_neox":
            return m.get_output_embeddings()(m.gpt_neox.final_layer_norm(h))
        return m.lm_head(m.model.norm(h))


def make_half_goldens(model, d: Path) -> None:
    """golden_halves.safetensors: out_<k>_<j>, the outputs of golden sequence j under
    TINY_HALF_PLANS[k] (texts in halves.json), from the model's own attention and MLP
    modules; the whole-layer loop is first checked against the model's forward pass."""
    halves = Halves(model)
    golden = load_file(d / "golden.safetensors")
    n = len(TINY_HALF_PLANS[0]) // 2
    out = {}
    for j in range(len(SEQ_LENGTHS)):
        ids = golden[f"ids_{j}"]
        diff = (halves.run([(i, "whole") for i in range(n)], ids) - golden[f"out_{j}"]).abs().max().item()
        assert diff < 1e-4, f"{d.name}: the layer loop differs from transformers by {diff}"
        for k, steps in enumerate(TINY_HALF_PLANS):
            out[f"out_{k}_{j}"] = halves.run(steps, ids)
    save_file(out, d / "golden_halves.safetensors")
    (d / "halves.json").write_text(json.dumps([plan_text(p) for p in TINY_HALF_PLANS]))


def make_smollm2_halves(out: Path, models_dir: Path) -> None:
    """smollm2_halves.json: per-token log-probs of TEXTS[:3] under smollm2_half_plans, from
    transformers' own self_attn, mlp and norms of SmolLM2."""
    smol = models_dir / "smollm2-135m"
    tok = AutoTokenizer.from_pretrained(smol)
    model = AutoModelForCausalLM.from_pretrained(smol, dtype=torch.float32).eval()
    halves = Halves(model)
    records = []
    for steps in smollm2_half_plans(model.config.num_hidden_layers):
        results = []
        for text in TEXTS[:3]:
            ids = tok(text)["input_ids"]
            logp = torch.log_softmax(halves.run(steps, torch.tensor(ids)).double(), -1)
            results.append({"text": text, "ids": ids,
                            "logprobs": logp[:-1].gather(-1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()})
        records.append({"plan": plan_text(steps), "results": results})
    (out / "smollm2_halves.json").write_text(json.dumps(records, indent=1))

def make_tiny(out: Path) -> None:
    for i, (name, build) in enumerate(TINY.items()):
        torch.manual_seed(1000 + i)
        model = build().eval()
        randomise(model)
        d = out / name
        model.save_pretrained(d, safe_serialization=True)
        word_tokenizer(d / "tokenizer.json")
        save_golden(model, d)
        if name in PLAN_FAMILIES:
            make_plan_goldens(model, d)
        if name in HALF_FAMILIES:
            make_half_goldens(model, d)
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


def words(start: int, n: int) -> str:
    """n distinct-looking words of the word tokenizers, from w3 up (w1, w2 are <s>, </s>)."""
    return " ".join(f"w{3 + (start + i) % (VOCAB - 3)}" for i in range(n))


# Requests for lm-eval's HF backend on the tiny checkpoints, whose models take 64 tokens.
LOGLIKELIHOOD = [
    ("w10 w11 w12", " w13"),
    ("w10 w11 w12 ", "w13 w14"),  # the context's trailing space moves to the continuation
    ("", "w20 w21"),  # an empty context is the prefix token
    ("", "<s> w20"),  # ... unless the continuation starts with it
    ("<s> w30 w31", " w32"),  # a text that starts with BOS gets no other
    (words(40, 80), " w40 w41"),  # longer than the model: the last 65 tokens, as lm-eval cuts
]
ROLLING = ["w5 w6 w7", words(100, 150)]
GENERATE = [("w50 w51 w52", "w9"), ("<s> w50 w51", "w9"), (words(200, 70), "w9")]  # the last is cut
MAX_GEN_TOKS = 5


def special_word_tokenizer(d: Path, adds_bos: bool) -> None:
    """The word tokenizer with <s> and </s> as special tokens. With `adds_bos` its
    post-processor puts <s> first, as Llama-2's and Mistral's tokenizer.json do, and <s> is
    the BOS; without, </s> is both BOS and EOS, as <|endoftext|> is GPT-2's."""
    vocab = {"[UNK]": 0, "<s>": 1, "</s>": 2, **{f"w{i}": i for i in range(3, VOCAB)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(["<s>", "</s>"])
    if adds_bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    tok.save(str(d / "tokenizer.json"))
    # transformers 5 ignores add_bos_token when tokenizer.json exists; 4.x's Llama tokenizer
    # reads it. Both agree with the post-processor here.
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>" if adds_bos else "</s>",
              "eos_token": "</s>", "unk_token": "[UNK]", "add_bos_token": adds_bos}
    (d / "tokenizer_config.json").write_text(json.dumps(config, indent=1))


def lm_eval_answers(d: Path, add_bos_token) -> dict:
    """lm-eval 0.4.13's HFLM on checkpoint `d`, one request at a time: the token ids it
    scores or generates from, and its answers."""
    lm = HFLM(pretrained=str(d), device="cpu", dtype="float32", batch_size=1, add_bos_token=add_bos_token)
    scored, prompts = [], []
    score_tokens, model_generate = lm._loglikelihood_tokens, lm._model_generate

    def spy_score(requests, **kwargs):
        scored.extend([list(context), list(continuation)] for _, context, continuation in requests)
        return score_tokens(requests, **kwargs)

    def spy_generate(context, **kwargs):
        prompts.append(context[0].tolist())
        return model_generate(context, **kwargs)

    lm._loglikelihood_tokens, lm._model_generate = spy_score, spy_generate
    record = {"max_length": lm.max_length, "loglikelihood": [], "rolling": [], "generate": []}
    for context, continuation in LOGLIKELIHOOD:
        scored.clear()
        [(logprob, is_greedy)] = lm.loglikelihood([Instance("loglikelihood", {}, (context, continuation), 0)])
        [(context_ids, continuation_ids)] = scored
        record["loglikelihood"].append({"context": context, "continuation": continuation, "context_ids": context_ids,
                                        "continuation_ids": continuation_ids, "logprob": logprob, "is_greedy": bool(is_greedy)})
    for text in ROLLING:
        scored.clear()
        [logprob] = lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (text,), 0)])
        record["rolling"].append({"text": text, "windows": list(scored), "logprob": logprob})
    for context, until in GENERATE:
        prompts.clear()
        kwargs = {"until": [until], "max_gen_toks": MAX_GEN_TOKS, "do_sample": False}
        [text] = lm.generate_until([Instance("generate_until", {}, (context, kwargs), 0)])
        [prompt_ids] = prompts
        record["generate"].append({"context": context, "until": [until], "max_gen_toks": MAX_GEN_TOKS,
                                   "prompt_ids": prompt_ids, "text": text})
    return record


def make_lm_eval(tiny: Path) -> None:
    for name, source, adds_bos in [("llama-bos", "llama", True), ("gpt2-eos", "gpt2", False)]:
        d = tiny / name
        d.mkdir()
        for f in ["config.json", "model.safetensors"]:
            shutil.copy(tiny / source / f, d)
        special_word_tokenizer(d, adds_bos)
        answers = {"tokenizer": lm_eval_answers(d, None), "never": lm_eval_answers(d, False)}
        (d / "lm_eval.json").write_text(json.dumps(answers, indent=1))


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


IMPORTANCE_MAX_BLOCK = 4


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1) / (a.norm(dim=-1).clamp_min(1e-12) * b.norm(dim=-1).clamp_min(1e-12))


def proxies(streams: list) -> dict:
    """The issue's definitions over texts; streams[t] is text t's (T+1, S, C) float64 h_0..h_T."""
    tokens = sum(h.shape[1] for h in streams)
    steps = streams[0].shape[0] - 1
    per_token = lambda f: [sum(f(h, i).sum().item() for h in streams) / tokens for i in range(steps)]
    last = lambda h, l, n: torch.arccos(cosine(h[l, -1], h[l + n, -1]).clamp(-1, 1)).item()
    return {
        "block_influence": [1 - c for c in per_token(lambda h, i: cosine(h[i], h[i + 1]))],
        "relative_magnitude": per_token(lambda h, i: (h[i + 1] - h[i]).norm(dim=-1) / h[i + 1].norm(dim=-1)),
        "angular_distance": {
            str(n): [sum(last(h, l, n) for h in streams) / len(streams) / math.pi for l in range(steps - n + 1)]
            for n in range(1, IMPORTANCE_MAX_BLOCK + 1)
        },
    }


def streams_of(model, layers, ids: list[int]) -> torch.Tensor:
    """h_0..h_T of one text: transformers' hidden_states, the last replaced by the last layer's
    own output (transformers' last entry is after the final norm)."""
    captured = []
    hook = layers[-1].register_forward_hook(lambda _m, _i, out: captured.append(out[0] if isinstance(out, tuple) else out))
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
    hook.remove()
    return torch.stack([*hidden[:-1], captured[0]]).double()[:, 0]


def make_importance(out: Path, models_dir: Path) -> None:
    with open(out / "importance_texts.jsonl", "w", encoding="utf-8") as f:
        for text in TEXTS:
            f.write(json.dumps({"text": text}) + "\n")
    smol = models_dir / "smollm2-135m"
    tok = AutoTokenizer.from_pretrained(smol)
    model = AutoModelForCausalLM.from_pretrained(smol, dtype=torch.float32).eval()
    ids = [tok(text)["input_ids"] for text in TEXTS]
    golden = {"max_block": IMPORTANCE_MAX_BLOCK}
    golden["smollm2"] = proxies([streams_of(model, model.model.layers, i) for i in ids])
    layers = list(range(model.config.num_hidden_layers))
    nll = lambda steps: -sum(sum(plan_logprobs(model, steps, i)) for i in ids)
    golden["smollm2"]["nll_full"] = nll(layers)
    golden["smollm2"]["nll_without_step"] = [nll([j for j in layers if j != k]) for k in layers]
    mini = models_dir / "minilm-l6"
    tok = AutoTokenizer.from_pretrained(mini)
    model = AutoModel.from_pretrained(mini, dtype=torch.float32).eval()
    golden["minilm"] = proxies([streams_of(model, model.encoder.layer, tok(text)["input_ids"]) for text in TEXTS])
    (out / "importance.json").write_text(json.dumps(golden, indent=1))


def make_lens(out: Path, models_dir: Path) -> None:
    """lens.json: SmolLM2's logit lens over the importance texts, from transformers' hidden
    states (the last one before the final norm): per layer k = 1..T, the means over every
    predicted token of the NLL, KL(p_T || p_k), top-1 agreement with p_T and entropy of p_k."""
    smol = models_dir / "smollm2-135m"
    tok = AutoTokenizer.from_pretrained(smol)
    model = AutoModelForCausalLM.from_pretrained(smol, dtype=torch.float32).eval()
    sums, tokens = None, 0
    for text in TEXTS:
        ids = tok(text)["input_ids"]
        h = streams_of(model, model.model.layers, ids)[1:].float()  # (T, S, C): h_1..h_T
        with torch.no_grad():
            logp = torch.log_softmax(model.lm_head(model.model.norm(h)).double(), -1)[:, :-1]  # (T, S-1, V)
        final = logp[-1]
        target = torch.tensor(ids[1:])
        per_layer = torch.stack([
            -logp[:, torch.arange(len(ids) - 1), target].sum(-1),
            (final.exp() * (final - logp)).sum((-1, -2)),
            (logp.argmax(-1) == final.argmax(-1)).double().sum(-1),
            -(logp.exp() * logp).sum((-1, -2)),
        ])
        sums = per_layer if sums is None else sums + per_layer
        tokens += len(ids) - 1
    means = (sums / tokens).tolist()
    golden = dict(zip(["nll", "kl", "top1", "entropy"], means))
    (out / "lens.json").write_text(json.dumps({"tokens": tokens, **golden}, indent=1))


def main() -> None:
    out, models_dir = Path(sys.argv[1]), Path(sys.argv[2])
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "tiny").mkdir(parents=True)
    make_tiny(tmp / "tiny")
    make_lm_eval(tmp / "tiny")
    make_real(tmp, models_dir)
    make_plans(tmp, models_dir)
    make_importance(tmp, models_dir)
    make_smollm2_halves(tmp, models_dir)
    make_lens(tmp, models_dir)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


if __name__ == "__main__":
    main()
