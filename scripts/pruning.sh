#!/usr/bin/env bash
# `make pruning`: which layers of SmolLM2-135M can go, by five criteria side by side
# (issue #13). Every step is resumable: rerun after an interruption and it continues.
#
#  1. Texts for the proxies and the NLL search: the first 32 BoolQ dev passages, each cut to
#     its first 60 words (TEXTS; not LAMBADA or a scored benchmark, so the search never sees
#     an evaluation item).
#  2. Four searches, 15 layers each, into OUT/prune-<criterion>/ (prune.csv, prune.json):
#     greedy NLL on the texts (SLEB), greedy ARC-Easy acc_norm on items 300..449 (Moslem
#     et al.; disjoint from the 300 items every plan is scored on), the 15 lowest Block
#     Influence layers (ShortGPT) and the least angular-distance blocks (Gromov et al.).
#     A search whose prune.json already has 15 steps is not rerun.
#  3. experiments/smollm2-pruning.toml: for k = 3, 6, 9, 12, 15 removed layers, each
#     criterion's plan as an explicit plan labelled by the criterion, and the paper's
#     symmetric middle skip (the window [(T+1-k) div 2, +k): the paper's start_layer window
#     for odd k).
#  4. painters run on ARC-Easy, HellaSwag, PIQA and LAMBADA (300 items each), painters stats
#     (paired.csv: every pair of criteria at each k on the same items) and painters plot
#     (plots/labelled-plans: the median against layers removed, one line per criterion).
#
#   BIN painters binary   DATA benchmark data directory   OUT results directory
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/painters}
DATA=${DATA:?set DATA to the benchmark data directory}
OUT=${OUT:-results/smollm2-pruning}
MODEL=models/smollm2-135m
EXP=experiments/smollm2-pruning.toml
TEXTS=$OUT/texts.jsonl
STEPS=15
mkdir -p "$OUT"

python3 - "$DATA/boolq/dev.jsonl" "$TEXTS" <<'PY'
import json, sys
source, out = sys.argv[1:]
with open(source) as f:
    docs = [json.loads(line) for _, line in zip(range(32), f)]
with open(out, "w") as f:
    for doc in docs:
        f.write(json.dumps({"text": " ".join(doc["passage"].split()[:60])}) + "\n")
PY

search() {
  local name=$1; shift
  local dir=$OUT/prune-$name
  # prune.json is rewritten after every step; a finished search has step STEPS.
  if python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["steps"][-1]["step"] < int(sys.argv[2]))' \
      "$dir/prune.json" "$STEPS" 2>/dev/null; then
    echo "pruning: $dir/prune.json has $STEPS steps already"
    return
  fi
  "$BIN" prune --model "$MODEL" --steps "$STEPS" --out "$dir" "$@"
}
search nll --objective nll --texts "$TEXTS"
search arc_easy --objective task:arc_easy:acc_norm --data "$DATA" --offset 300 --limit 150
search bi --objective bi --texts "$TEXTS"
search angular --objective angular --texts "$TEXTS"

python3 scripts/pruning_experiment.py "$OUT" "$EXP" "$MODEL/config.json"

"$BIN" run "$EXP" --out "$OUT" --data "$DATA"
"$BIN" stats "$OUT"
"$BIN" plot "$OUT"
