# painters — the two commands that matter: `make demo` (main job) and `make test`.
# Both do all set-up first (scripts/setup.sh: virtualenv with torch 2.11.0, real
# checkpoints), cached outside the clone under $PAINTERS_CACHE (default ~/.cache/painters).

PY := .venv/bin/python
# Benchmark data (layout of ../shared/data; `painters data fetch` makes one).
DATA ?= $(or $(PAINTERS_DATA),$(abspath ../shared/data))
FIXTURES := tests/fixtures/.complete
BIN := target/release/painters
SMOL := models/smollm2-135m

.PHONY: setup build test lint fixtures demo notebook parity export-parity reference fuzz bench kill-test pruning

setup:
	@bash scripts/setup.sh

build: setup
	cargo build --release

# Golden outputs of Hugging Face transformers for the parity tests.
$(FIXTURES): scripts/make_fixtures.py scripts/requirements.txt scripts/fetch_models.py
	$(MAKE) setup
	$(PY) scripts/make_fixtures.py tests/fixtures models
	touch $@

fixtures: setup $(FIXTURES)

# Formatting and lints first (fast to fail), then every test.
test: fixtures lint
	cargo test --workspace

lint: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

# The main job: the paper's main variants on SmolLM2-135M, scored on real benchmarks
# (experiments/smollm2-demo.toml, ~5 min on 2 cores; resumable) into target/demo, its
# figures, and a check against the committed results/smollm2-demo (scripts/demo.sh).
# Without a data directory it fetches the demo's benchmarks first.
demo: build
	BIN=$(BIN) DATA=$(DATA) OUT=$(or $(DEMO_OUT),target/demo/smollm2-demo) bash scripts/demo.sh

# The results notebook, executed headless against the demo's results (make demo first).
notebook: setup
	.venv/bin/jupyter nbconvert --to notebook --execute notebooks/painters-results.ipynb --output-dir target --output painters-results.executed

# Per-item parity with lm-evaluation-harness 0.4.13 itself on SmolLM2 (~30 min on 2 cores);
# writes results/parity/report.md, quoted in the README.
parity: build
	$(PY) scripts/lm_eval_parity.py $(SMOL) $(DATA) $(BIN) results/parity

# An exported checkpoint computes what painters measured (~5 min on 2 cores): the greedy-NLL
# plan with 6 layers removed (results/smollm2-pruning) exported by `painters export`, loaded
# by lm-evaluation-harness 0.4.13's HF backend, against `painters eval --plan` on the source,
# 100 ARC-Easy items; writes results/export-parity/report.md, quoted in the README.
export-parity: build
	$(PY) scripts/export_parity.py $(SMOL) $(DATA) $(BIN) results/export-parity --from-prune results/smollm2-pruning/prune-nll --step 6

# Every request and metric of every task (and of the task YAML test files), on the full data, against lm-eval's own task
# code over a deterministic fake model (~10 min, ~240 MB of dumps in target/).
reference: setup
	$(PY) crates/eval-suite/tests/eval/reference_prompts.py $(DATA) target/lm-eval-reference
	$(PY) crates/eval-suite/tests/eval/reference_scores.py $(DATA) target/lm-eval-reference
	$(PY) crates/eval-suite/tests/eval/yaml_reference.py $(DATA) target/lm-eval-reference
	LM_EVAL_REFERENCE_DIR=$(abspath target/lm-eval-reference) cargo test -p eval-suite --test eval -- --ignored

# Fuzz the plan text and experiment file parsers (proptest; fuzz/harness.rs): every
# target runs for FUZZ_SECONDS (default 60), those of one crate at once, so about
# 2 x FUZZ_SECONDS in all. A failing input is shrunk and saved under fuzz/corpus/.
fuzz: setup
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) cargo test -p layer-plan --test plan fuzz:: -- --test-threads 4 --nocapture
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) cargo test -p painters --lib experiment::fuzz:: -- --test-threads 3 --nocapture

# Speed and memory, side by side in one run (~35 min on 2 cores): painters vs
# lm-evaluation-harness's HF backend per variant, grids with reuse vs without, peak RSS.
# Writes results/bench/cpu.{json,md}. The GPU check is scripts/gpu-check.sh, run on the
# GPU box with the binary built here.
bench: build
	$(PY) scripts/bench.py $(SMOL) $(DATA) $(BIN) results/bench

# Which layers of SmolLM2-135M can go, by five criteria (scripts/pruning.sh): four
# searches of 15 layers (greedy NLL, greedy ARC-Easy, Block Influence, angular distance),
# then every criterion's plans at k = 3..15 and the paper's symmetric skip scored on 300
# items of four benchmarks into results/smollm2-pruning. Hours on 2 cores (the greedy
# ARC-Easy search most of them); resumable at every step.
pruning: build
	BIN=$(BIN) DATA=$(DATA) bash scripts/pruning.sh

# painters run killed with SIGKILL at 10 random moments in a row, resumed after each; the
# final summary.csv must equal an uninterrupted run's (~3 min).
kill-test: build
	BIN=$(BIN) DATA=$(DATA) bash scripts/kill_test.sh
