//! The crate's one error type.
//!
//! Every message names the offending value and the valid range, so a user can fix a plan
//! text, a variant argument or an experiment file without reading the source. Text-form
//! errors are wrapped in [`PlanError::AtChar`], which adds the token and its position.

use thiserror::Error;

use crate::spec::variant_names;

/// What can go wrong when building, parsing or compiling a plan.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    /// The model has no layers, so there is nothing to plan.
    #[error("the model has 0 layers: a plan needs at least one")]
    NoLayers,
    /// The plan would execute nothing.
    #[error("empty plan: a plan needs at least one step")]
    EmptyPlan,
    /// The plan would execute more layer passes than [`crate::MAX_LAYER_PASSES`].
    #[error("plan too long: more than {max} layer passes")]
    TooLong { max: usize },
    /// A layer index (`what` says which argument) is not a layer of the model.
    #[error("{what} {layer} is out of range 0..{num_layers}")]
    LayerOutOfRange {
        what: &'static str,
        layer: usize,
        num_layers: usize,
    },
    /// A half-open range `start..end` with `start >= end`.
    #[error("{what} {start}..{end} is empty or reversed: it needs start < end")]
    EmptyRange {
        what: &'static str,
        start: usize,
        end: usize,
    },
    /// A half-open range that ends past the last layer.
    #[error("{what} {start}..{end} is out of range: ends must lie in 0..={num_layers}")]
    RangeOutOfBounds {
        what: &'static str,
        start: usize,
        end: usize,
        num_layers: usize,
    },
    /// A plan step that runs layers side by side, where only one layer after another
    /// will do (a sequential checkpoint has no parallel groups).
    #[error(
        "step {step} runs layers {layers} in parallel: only plans that run one layer after another can be {purpose}"
    )]
    NotSequential {
        step: usize,
        layers: String,
        purpose: &'static str,
    },
    /// A sequential plan with a step that runs half a layer, where whole layers are needed.
    #[error("step {step} runs {atom}, half a layer: only plans of whole layers can be {purpose}")]
    PartialLayer {
        step: usize,
        atom: String,
        purpose: &'static str,
    },
    /// A layer part the text form does not know.
    #[error("unknown layer part {found:?} (valid: attn, mlp)")]
    UnknownPart { found: String },
    /// A parallel group with no members.
    #[error("parallel group is empty: it needs at least one layer")]
    EmptyGroup,
    /// A parallel group that lists a layer twice.
    #[error("parallel group lists layer {layer} more than once")]
    DuplicateInGroup { layer: usize },
    /// A repeat count `K` of 0.
    #[error("repeat count 0 is out of range: it must be at least 1")]
    ZeroRepeat,
    /// The paper's `start_layer` leaves a negative number of middle layers.
    #[error(
        "start layer {start_layer} is too large for {num_layers} layers: valid range 0..={max}"
    )]
    StartLayerTooLarge {
        start_layer: usize,
        num_layers: usize,
        max: usize,
    },
    /// A swap of a layer with itself.
    #[error("swap needs two different layers, got layer {layer} twice")]
    SwapSameLayer { layer: usize },
    /// A variant name that is not one of [`crate::variant_names`].
    #[error("unknown variant '{name}' (valid: {})", variant_names().collect::<Vec<_>>().join(", "))]
    UnknownVariant { name: String },
    /// A shuffle RNG name other than `portable` or `python`.
    #[error("unknown shuffle rng '{name}' (valid: portable, python)")]
    UnknownRng { name: String },
    /// A variant is missing an argument it needs.
    #[error("variant {variant} needs {arg}")]
    MissingArg {
        variant: &'static str,
        arg: &'static str,
    },
    /// A variant was given an argument it does not use; `valid` are the ones it takes.
    #[error("variant {variant} does not take {arg} (valid: {})", list(valid))]
    UnusedArg {
        variant: &'static str,
        arg: &'static str,
        valid: Vec<&'static str>,
    },
    /// Both of two arguments that exclude each other (`args` reads "a or b").
    #[error("variant {variant} takes {args}, not both")]
    ConflictingArgs {
        variant: &'static str,
        args: &'static str,
    },
    /// A plan built for one layer count used with a model of another.
    #[error("plan is for {plan_layers} layers but the model has {model_layers}")]
    LayerCountMismatch {
        plan_layers: usize,
        model_layers: usize,
    },
    /// Plan text that does not follow the grammar.
    #[error("expected {expected}, found {found}")]
    Syntax {
        expected: &'static str,
        found: String,
    },
    /// A number in plan text that does not fit in a `usize`.
    #[error("number {text} is too large")]
    NumberTooLarge { text: String },
    /// An error in plan text, with the token and its 1-based character position. The
    /// inner error is part of this message, not a separate `source` (an error chain
    /// printed whole would say it twice).
    #[error("plan text at character {pos}, '{token}': {error}")]
    AtChar {
        pos: usize,
        token: String,
        error: Box<PlanError>,
    },
}

/// `a, b, c`, or `none` for no arguments.
fn list(args: &[&str]) -> String {
    match args {
        [] => "none".into(),
        _ => args.join(", "),
    }
}
