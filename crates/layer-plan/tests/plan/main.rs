//! The crate's one integration test binary.

mod fuzz;
mod pyrandom;
mod text;
mod trie;
mod variants;

use layer_plan::{Plan, PlanError};

/// Parses `text` for `num_layers` layers, panicking with the error (tests only).
pub fn parse(text: &str, num_layers: usize) -> Plan {
    Plan::parse(text, num_layers).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// Asserts that `err`'s message contains every one of `parts`.
pub fn assert_message(err: &PlanError, parts: &[&str]) {
    let message = err.to_string();
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}
