//! The plan IR: which layer weights run, in what order, and which run side by side.
//!
//! A [`Plan`] is a flat list of [`Step`]s over a model of `num_layers` layers; repetitions
//! are already expanded. Constructing a plan validates and normalises it (layer indices in
//! range, parallel groups sorted, one-member groups turned into plain layers), so two plans
//! that execute the same computation compare equal and print the same canonical text.
//! This module knows nothing about tensors: executing a plan is `layer-graph`'s job.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::PlanError;

/// The most layer passes one plan may execute; guards against typos like `3x1000000000`.
pub const MAX_LAYER_PASSES: usize = 1 << 20;

/// Which layer's weights to run (0-based), as opposed to a position in the plan, and
/// which part of the layer: all of it, or only its attention or its MLP half.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LayerId(pub usize, pub Part);

impl LayerId {
    /// The whole layer `index`.
    pub fn whole(index: usize) -> Self {
        LayerId(index, Part::Whole)
    }
}

/// The part of a layer a plan step runs, each with its own residual add. For a pre-norm
/// block, `Attn` is `h + attn(norm1(h))` and `Mlp` is `h + mlp(norm2(h))`, so `i.attn
/// i.mlp` is `i`; families where the halves do not compose so say how they are defined.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    #[default]
    Whole,
    Attn,
    Mlp,
}

impl Part {
    /// The text suffix after the layer index (`3.attn`), none for a whole layer.
    pub fn suffix(self) -> &'static str {
        match self {
            Part::Whole => "",
            Part::Attn => ".attn",
            Part::Mlp => ".mlp",
        }
    }

    /// Whether this part runs attention (and so needs a KV slot in generation).
    pub fn attends(self) -> bool {
        self != Part::Mlp
    }
}

impl std::str::FromStr for Part {
    type Err = PlanError;

    /// `whole`, `attn` or `mlp`, as `--part` and experiment files spell them.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "whole" => Ok(Part::Whole),
            "attn" => Ok(Part::Attn),
            "mlp" => Ok(Part::Mlp),
            _ => Err(PlanError::UnknownPart {
                found: name.to_string(),
            }),
        }
    }
}

/// `whole`, `attn` or `mlp`.
impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Whole => "whole",
            Part::Attn => "attn",
            Part::Mlp => "mlp",
        })
    }
}

impl fmt::Display for LayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.0, self.1.suffix())
    }
}

/// How the outputs of a parallel group become one hidden state.
///
/// Further rules (e.g. `SumDeltas`: `h + sum_i delta_i`) go here, with a text syntax in
/// `text.rs`, once an experiment needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Merge {
    /// The mean of the members' full outputs: `mean_i(h + delta_i(h))`.
    #[default]
    Mean,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// Run one layer on the current hidden state.
    Layer(LayerId),
    /// Run every member on the same input and merge their outputs.
    /// In a validated plan the members are distinct, sorted and at least two.
    Parallel { layers: Vec<LayerId>, merge: Merge },
}

impl Step {
    /// The layers this step runs.
    pub fn layers(&self) -> &[LayerId] {
        match self {
            Step::Layer(id) => std::slice::from_ref(id),
            Step::Parallel { layers, .. } => layers,
        }
    }

    /// Validates one step and brings it to normal form.
    pub(crate) fn normalise(self, num_layers: usize) -> Result<Step, PlanError> {
        for id in self.layers() {
            check_layer("layer", id.0, num_layers)?;
        }
        match self {
            Step::Layer(_) => Ok(self),
            Step::Parallel { mut layers, merge } => {
                layers.sort_unstable();
                if let Some(pair) = layers.windows(2).find(|pair| pair[0] == pair[1]) {
                    return Err(PlanError::DuplicateInGroup { layer: pair[0].0 });
                }
                match layers.as_slice() {
                    [] => Err(PlanError::EmptyGroup),
                    [only] => Ok(Step::Layer(*only)),
                    _ => Ok(Step::Parallel { layers, merge }),
                }
            }
        }
    }
}

/// A validated, normalised execution plan over a model of `num_layers` layers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Plan {
    steps: Vec<Step>,
    num_layers: usize,
}

impl Plan {
    /// Builds a plan, checking every layer index against `num_layers` and normalising
    /// parallel groups. Errors on an empty plan, an empty group or a duplicate member.
    pub fn new(steps: Vec<Step>, num_layers: usize) -> Result<Plan, PlanError> {
        if num_layers == 0 {
            return Err(PlanError::NoLayers);
        }
        if steps.is_empty() {
            return Err(PlanError::EmptyPlan);
        }
        let steps = steps
            .into_iter()
            .map(|step| step.normalise(num_layers))
            .collect::<Result<Vec<_>, _>>()?;
        let passes: usize = steps.iter().map(|step| step.layers().len()).sum();
        check_passes(Some(passes))?;
        Ok(Plan { steps, num_layers })
    }

    /// The full model, layers `0..num_layers` in order.
    pub fn baseline(num_layers: usize) -> Result<Plan, PlanError> {
        Plan::new(layer_steps(0..num_layers), num_layers)
    }

    /// The steps in execution order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The number of layers of the model this plan is for.
    pub fn num_layers(&self) -> usize {
        self.num_layers
    }

    /// The number of layer applications; a parallel group of `n` members counts `n`.
    pub fn layer_passes(&self) -> usize {
        self.steps.iter().map(|step| step.layers().len()).sum()
    }

    /// How many layers the plan leaves out when it is the full model with some layers
    /// removed (single whole layers in increasing order, none twice): the M a pruned plan
    /// puts on the paper's x axis. `None` for any plan that reorders, repeats, merges or
    /// runs half a layer.
    pub fn removed_layers(&self) -> Option<usize> {
        let mut last = None;
        for step in &self.steps {
            let Step::Layer(id @ LayerId(_, Part::Whole)) = step else {
                return None;
            };
            if last.is_some_and(|last| id.0 <= last) {
                return None;
            }
            last = Some(id.0);
        }
        Some(self.num_layers - self.steps.len())
    }

    /// The layer each step runs, in execution order, when every step runs one whole layer
    /// (a layer may appear more than once). A plan with a parallel group (and so any looped
    /// group) or half a layer errors naming the step, 0-based, and `purpose`, what the
    /// layer list is for ("exported", say).
    pub fn sequential_layers(&self, purpose: &'static str) -> Result<Vec<usize>, PlanError> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, step)| match step {
                Step::Layer(LayerId(index, Part::Whole)) => Ok(*index),
                Step::Layer(id) => Err(PlanError::PartialLayer {
                    step: i,
                    atom: id.to_string(),
                    purpose,
                }),
                Step::Parallel { layers, .. } => Err(PlanError::NotSequential {
                    step: i,
                    layers: layers
                        .iter()
                        .map(|id| id.to_string())
                        .collect::<Vec<_>>()
                        .join("|"),
                    purpose,
                }),
            })
            .collect()
    }

    /// This plan without its executed steps `steps` (a block of consecutive steps, as
    /// pruning removes them). Errors if nothing would be left.
    pub fn without_steps(&self, steps: std::ops::Range<usize>) -> Result<Plan, PlanError> {
        let kept = self
            .steps
            .iter()
            .enumerate()
            .filter(|(i, _)| !steps.contains(i))
            .map(|(_, step)| step.clone())
            .collect();
        Plan::new(kept, self.num_layers)
    }

    /// Checks that this plan fits a model with `model_layers` layers.
    pub fn validate(&self, model_layers: usize) -> Result<(), PlanError> {
        if self.num_layers == model_layers {
            Ok(())
        } else {
            Err(PlanError::LayerCountMismatch {
                plan_layers: self.num_layers,
                model_layers,
            })
        }
    }

    /// A stable id: the first 16 hex digits of `sha256("{num_layers}:{canonical text}")`.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(format!("{}:{}", self.num_layers, self));
        hex::encode(&digest[..8])
    }
}

/// One whole-layer [`Step::Layer`] per index, in order.
pub(crate) fn layer_steps(layers: impl IntoIterator<Item = usize>) -> Vec<Step> {
    layers
        .into_iter()
        .map(|i| Step::Layer(LayerId::whole(i)))
        .collect()
}

/// Errors unless `layer < num_layers`; `what` names the argument in the message.
pub(crate) fn check_layer(
    what: &'static str,
    layer: usize,
    num_layers: usize,
) -> Result<(), PlanError> {
    if layer < num_layers {
        Ok(())
    } else {
        Err(PlanError::LayerOutOfRange {
            what,
            layer,
            num_layers,
        })
    }
}

/// Errors unless `start < end <= num_layers`; `what` names the argument in the message.
pub(crate) fn check_range(
    what: &'static str,
    start: usize,
    end: usize,
    num_layers: usize,
) -> Result<(), PlanError> {
    if start >= end {
        Err(PlanError::EmptyRange { what, start, end })
    } else if end > num_layers {
        Err(PlanError::RangeOutOfBounds {
            what,
            start,
            end,
            num_layers,
        })
    } else {
        Ok(())
    }
}

/// Errors unless a pass count (None: it overflowed) is within [`MAX_LAYER_PASSES`].
pub(crate) fn check_passes(passes: Option<usize>) -> Result<(), PlanError> {
    match passes {
        Some(n) if n <= MAX_LAYER_PASSES => Ok(()),
        _ => Err(PlanError::TooLong {
            max: MAX_LAYER_PASSES,
        }),
    }
}
