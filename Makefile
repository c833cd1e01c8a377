# painters — the two commands that matter: `make demo` (main job) and `make test`.
# Both do all set-up first (scripts/setup.sh: virtualenv with torch 2.11.0, real
# checkpoints), cached outside the clone under $PAINTERS_CACHE (default ~/.cache/painters).

PY := .venv/bin/python
FIXTURES := tests/fixtures/.complete
BIN := target/release/painters
SMOL := models/smollm2-135m

.PHONY: setup build test fixtures demo

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

test: fixtures
	cargo test --workspace

# The main job (grows into the full experiment grid): variants of SmolLM2-135M, printed
# as plans and scored on one sentence.
demo: build
	@for v in "baseline" "skip --start-layer 10" "reverse --start-layer 10" \
	          "shuffle --start-layer 10 --seed 0" "repeat-middle --start-layer 10" \
	          "parallel --start-layer 10" "looped-parallel --start-layer 10 --times 3"; do \
	    plan=$$($(BIN) plan --layers 30 --variant $$v); \
	    sum=$$($(BIN) logprobs --model $(SMOL) --variant $$v --json --text "The capital of France is Paris, and the capital of Italy is Rome." | sed 's/.*"sum":\([-0-9.e]*\).*/\1/'); \
	    printf '%-45s %-50s log p = %8.3f\n' "$$v" "$$plan" "$$sum"; \
	done
