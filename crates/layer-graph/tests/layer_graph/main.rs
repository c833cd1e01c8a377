//! layer-graph's integration tests, one binary: golden parity against Hugging Face
//! transformers (fixtures from scripts/make_fixtures.py, made by `make test`) and the
//! loader's error messages.

mod common;
mod families;
mod halves;
mod lengths;
mod load_errors;
mod parity;
mod plans;
mod scoring;
