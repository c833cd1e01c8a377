#!/usr/bin/env bash
# `make demo`: the paper's main variants on SmolLM2-135M, computed here into a fresh
# results directory (OUT; resumable: rerun after an interruption and it continues), its
# similarity map, paired statistics (paired.csv) and figures, then a check that its summary.csv equals the committed
# reference results/smollm2-demo/summary.csv byte for byte.
#
#   BIN   the painters binary          OUT   results directory (default target/demo/smollm2-demo)
#   DATA  benchmark data directory; when it is unset or missing, the demo's tasks are
#         fetched with `painters data fetch` into the default data directory.
# To refresh the committed reference after a change that moves numbers on purpose:
# `make demo`, then copy OUT's summary.csv, medians.csv, similarity.csv, variance.csv, resolved.toml,
# store/ and plots/ over results/smollm2-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/painters}
OUT=${OUT:-target/demo/smollm2-demo}
EXP=experiments/smollm2-demo.toml
REFERENCE=results/smollm2-demo/summary.csv

if [ -z "${DATA:-}" ] || [ ! -d "$DATA" ]; then
  [ -n "${DATA:-}" ] && echo "demo: no data directory $DATA; fetching the demo's benchmarks instead"
  tasks=$(sed -n 's/^name = "\(.*\)"/\1/p' "$EXP" | paste -sd, -)
  "$BIN" data fetch --tasks "$tasks"
  data_args=()
else
  data_args=(--data "$DATA")
fi

"$BIN" run "$EXP" --out "$OUT" "${data_args[@]}"
# The similarity map and hidden-state variances of the full model, and under skip and
# middle repeat of the window from layer 10 (paper Figs 3 and 15).
for plan in "" "--variant skip --start-layer 10" "--variant repeat-middle --start-layer 10"; do
  # shellcheck disable=SC2086 # the plan flags are words
  "$BIN" similarity --model models/smollm2-135m "${data_args[@]}" --limit 20 --out "$OUT" $plan
done
"$BIN" stats "$OUT"
"$BIN" plot "$OUT"

if cmp -s "$OUT/summary.csv" "$REFERENCE"; then
  echo "demo: $OUT/summary.csv equals the committed $REFERENCE byte for byte"
else
  echo "demo: $OUT/summary.csv differs from the committed $REFERENCE:" >&2
  diff "$REFERENCE" "$OUT/summary.csv" >&2 || true
  exit 1
fi
