"""Hugging Face transformers' own outputs for checkpoint directories: the reference the
export tests hold `painters export`'s checkpoints to.

    python hf_outputs.py REQUEST.json OUT.safetensors

REQUEST.json is {"runs": [{"dir": DIR, "ids": [[id, ...], ...]}, ...]}. Each DIR is
loaded by transformers' Auto classes in float32 on CPU (AutoModelForCausalLM, or AutoModel
for an encoder) and each id list runs alone (no padding, no attention mask). OUT gets
"{run}.{seq}": the logits (T, V), or an encoder's last hidden state (T, C), in float32.
"""

import json
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

ENCODERS = {"bert"}


def main():
    request, out = sys.argv[1:3]
    with open(request, encoding="utf-8") as f:
        runs = json.load(f)["runs"]
    tensors = {}
    for r, run in enumerate(runs):
        encoder = AutoConfig.from_pretrained(run["dir"]).model_type in ENCODERS
        auto = AutoModel if encoder else AutoModelForCausalLM
        model = auto.from_pretrained(run["dir"], dtype=torch.float32).eval()
        for s, ids in enumerate(run["ids"]):
            with torch.no_grad():
                output = model(torch.tensor([ids]))
            values = output.last_hidden_state if encoder else output.logits
            tensors[f"{r}.{s}"] = values[0].float().contiguous()
    save_file(tensors, out)


if __name__ == "__main__":
    main()
