//! Layer-execution plans for frozen transformers, after "Transformer Layers as Painters".
//!
//! Pure data, no tensors: the plan IR ([`Plan`], [`Step`], [`LayerId`]), its text form
//! (`Plan::parse` and `Display`), the paper's variants compiled to plans ([`Variant`],
//! [`Window`], built from a [`VariantSpec`]), and a CPython-faithful RNG ([`PyRandom`]) so
//! seeded Python choices replay exactly; [`PlanTrie`] merges a grid's plans by common
//! prefix so an executor runs each shared prefix once. Executing a plan belongs to `layer-graph`.

mod error;
mod plan;
mod pyrandom;
mod shuffle;
mod spec;
mod text;
mod trie;
mod variant;

pub use error::PlanError;
pub use plan::{LayerId, MAX_LAYER_PASSES, Merge, Part, Plan, Step};
pub use pyrandom::{PyRandom, SampleTooLarge};
pub use shuffle::ShuffleRng;
pub use spec::{VariantSpec, variant_names};
pub use trie::{PlanTrie, TrieNode};
pub use variant::{Variant, Window};
