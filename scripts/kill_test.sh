#!/usr/bin/env bash
# `make kill-test`: `painters run` killed with SIGKILL at KILLS (default 10) random moments
# in a row, restarted with the same command after each, must finish with a summary.csv
# byte-identical to an uninterrupted run's. Each kill is checked to hit the painters process
# itself and to leave none running. SmolLM2-135M on a small grid, ~3 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/painters}
DATA=${DATA:-../shared/data}
KILLS=${KILLS:-10}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/exp.toml" <<TOML
[model]
dir = "$PWD/models/smollm2-135m"
batch_size = 4
[[tasks]]
name = "hellaswag"
limit = 12
[[tasks]]
name = "lambada_openai"
limit = 16
[[variants]]
kind = "skip"
start_layer = [10, 13]
[[variants]]
kind = "looped-parallel"
start_layer = 13
times = [2, 3]
TOML
RUN=("$BIN" run "$WORK/exp.toml" --data "$DATA" --chunk-size 2 --out)
run() { "${RUN[@]}" "$1" > /dev/null 2>&1; }
painters_exe=$(readlink -f "$BIN")

start=$(date +%s.%N)
run "$WORK/whole"
whole=$(echo "$(date +%s.%N) - $start" | bc)
echo "uninterrupted run: ${whole%.*} s"

for i in $(seq 1 "$KILLS"); do
  # A moment between 0.5 s and a tenth of the whole run (at least 3 s), so that all the
  # kills land before the grid is done.
  span=$(echo "w = $whole / 10; if (w < 3) w = 3; w" | bc)
  delay=$(awk -v s="$RANDOM" -v span="$span" 'BEGIN { srand(s); printf "%.2f", 0.5 + rand() * (span - 0.5) }')
  # `exec` in the background job makes that process painters itself, so $! is the pid
  # of painters, not of a subshell waiting for it.
  (exec "${RUN[@]}" "$WORK/killed" > /dev/null 2>&1) & pid=$!
  sleep "$delay"
  if [ "$(readlink -f "/proc/$pid/exe" 2> /dev/null)" != "$painters_exe" ]; then
    echo "FAIL: process $pid is not a running painters ($painters_exe) at kill $i" >&2
    exit 1
  fi
  kill -9 "$pid"
  wait "$pid" 2> /dev/null || true
  if kill -0 "$pid" 2> /dev/null || pgrep -f -- "--out $WORK/killed" > /dev/null; then
    echo "FAIL: painters is still running after kill $i" >&2
    exit 1
  fi
  if [ -e "$WORK/killed/summary.csv" ]; then
    echo "FAIL: the run finished before kill $i landed (make the grid larger)" >&2
    exit 1
  fi
  done_cells=$(find "$WORK/killed/store" -name '*.json' 2> /dev/null | wc -l)
  logged=$(cat "$WORK"/killed/store/*.partial 2> /dev/null | wc -l)
  echo "kill $i after ${delay} s: $done_cells cells done, $logged chunks logged in unfinished cells"
done

run "$WORK/killed"
if cmp -s "$WORK/whole/summary.csv" "$WORK/killed/summary.csv"; then
  echo "PASS: summary.csv after $KILLS kills is byte-identical to the uninterrupted run's"
else
  echo "FAIL: summary.csv differs after the kills" >&2
  diff "$WORK/whole/summary.csv" "$WORK/killed/summary.csv" >&2 || true
  exit 1
fi
