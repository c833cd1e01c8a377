#!/usr/bin/env bash
# GPU check, run on a GPU box from a copy of the repository that carries the binary built
# on a CPU machine (target/release/painters): nothing is built here. Links the binary
# against the box's own torch 2.11 libraries, makes a random-weight 1.1B Llama checkpoint
# with the box's transformers, checks painters' log-likelihoods against transformers on
# the GPU in f32 and times bf16 scoring against transformers (scripts/gpu_check.py).
# Results: $OUT/gpu-check.json (default results/bench). Takes 2-4 minutes on an H100.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/painters}
OUT=${OUT:-results/bench}
WORK=${WORK:-$(mktemp -d)}
PY=${PY:-python3}
[ -x "$BIN" ] || { echo "gpu-check: $BIN missing; build it on the CPU machine (make build) and carry it" >&2; exit 2; }
TORCH_LIB=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
TORCH_VERSION=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')
[ "$TORCH_VERSION" = 2.11.0 ] || echo "gpu-check: warning: the box has torch $TORCH_VERSION, painters is built for 2.11.0" >&2
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" scripts/gpu_check.py --bin "$BIN" --work "$WORK" --out "$OUT" "$@"
