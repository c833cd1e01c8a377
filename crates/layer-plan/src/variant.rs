//! The paper's layer-execution variants and how each compiles to a [`Plan`].
//!
//! Most variants rewrite a window of middle layers, given the paper's way
//! ([`Window::StartLayer`]) or as a half-open range ([`Window::Range`]); layers outside the
//! window run unchanged. An empty window (M = 0) compiles every windowed variant to the
//! baseline. Variants are built from user input through [`crate::VariantSpec`], which is
//! also their serde form (the registry of names and arguments is in `spec.rs`); this module
//! does not execute anything.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::PlanError;
use crate::plan::{
    LayerId, Merge, Part, Plan, Step, check_layer, check_passes, check_range, layer_steps,
};
use crate::shuffle::ShuffleRng;
use crate::spec::VariantSpec;

/// The layers a windowed variant rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Window {
    /// The paper's `start_layer = s`: keep `0..=s` and `T-s..T`, rewrite the
    /// M = T - 2s - 1 layers `[s+1, T-s)`. Valid for `s <= (T-1)/2`.
    StartLayer(usize),
    /// The half-open range `[start, end)`, non-empty, within the model.
    Range { start: usize, end: usize },
}

impl Window {
    /// The window as a half-open layer range for a model of `num_layers` layers.
    pub fn resolve(self, num_layers: usize) -> Result<Range<usize>, PlanError> {
        match self {
            Window::StartLayer(start_layer) => {
                let max = num_layers.checked_sub(1).ok_or(PlanError::NoLayers)? / 2;
                if start_layer > max {
                    return Err(PlanError::StartLayerTooLarge {
                        start_layer,
                        num_layers,
                        max,
                    });
                }
                Ok(start_layer + 1..num_layers - start_layer)
            }
            Window::Range { start, end } => {
                check_range("layer window", start, end, num_layers)?;
                Ok(start..end)
            }
        }
    }
}

/// A layer-execution variant; [`Variant::compile`] turns it into a [`Plan`]. Adding one:
/// a case here, its arms in `compile` and `affected_layers`, and its line in the registry
/// of `spec.rs` (its name and the arguments it reads).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "VariantSpec")]
pub enum Variant {
    /// Every layer once, in order.
    Baseline,
    /// Drop the window, or only one half of each of its layers (`part`: `Attn` runs their
    /// MLP halves only, `Mlp` their attention halves only).
    Skip { window: Window, part: Part },
    /// Drop one layer, or one half of it.
    SkipOne { layer: usize, part: Part },
    /// Exchange layers `a` and `b` (the paper's "switch" uses `b = a + 1`).
    Swap { a: usize, b: usize },
    /// Run the window in reverse order.
    Reverse { window: Window },
    /// Run the window in a seeded random order.
    Shuffle {
        window: Window,
        seed: u64,
        rng: ShuffleRng,
    },
    /// Run `layer` once per window layer; by default the window's centre, layer
    /// `start + (M - 1) / 2` of a window `[start, start + M)` (the lower of the two middle
    /// layers when M is even), which for the paper's `start_layer` window is `T / 2`.
    RepeatMiddle {
        window: Window,
        layer: Option<usize>,
    },
    /// Run each window layer twice in place: `a a b b ...`.
    DoubleRepeat { window: Window },
    /// Run each window layer three times in place.
    TripleRepeat { window: Window },
    /// Run the window as one mean-merged parallel group.
    Parallel { window: Window },
    /// Run that parallel group `times` times in sequence.
    LoopedParallel { window: Window, times: usize },
    /// A plan given in the text form.
    Explicit { text: String },
    /// mergekit-style slices: half-open ranges `[start, end)` run one after another.
    Slices { slices: Vec<[usize; 2]> },
}

impl Variant {
    /// The variant's plan for a model of `num_layers` layers.
    pub fn compile(&self, num_layers: usize) -> Result<Plan, PlanError> {
        if num_layers == 0 {
            return Err(PlanError::NoLayers);
        }
        // Every variant lists O(num_layers) steps before `Plan::new` checks the length.
        check_passes(Some(num_layers))?;
        let steps = match self {
            Variant::Baseline => layer_steps(0..num_layers),
            Variant::Skip { window, part } => {
                windowed(*window, num_layers, |w| Ok(kept_halves(w, *part)))?
            }
            Variant::SkipOne { layer, part } => {
                check_layer("skipped layer", *layer, num_layers)?;
                let mut steps = layer_steps(0..*layer);
                steps.extend(kept_halves(*layer..layer + 1, *part));
                steps.extend(layer_steps(layer + 1..num_layers));
                steps
            }
            Variant::Swap { a, b } => {
                check_layer("swapped layer", *a, num_layers)?;
                check_layer("swapped layer", *b, num_layers)?;
                if a == b {
                    return Err(PlanError::SwapSameLayer { layer: *a });
                }
                let mut order: Vec<usize> = (0..num_layers).collect();
                order.swap(*a, *b);
                layer_steps(order)
            }
            Variant::Reverse { window } => {
                windowed(*window, num_layers, |w| Ok(layer_steps(w.rev())))?
            }
            Variant::Shuffle { window, seed, rng } => windowed(*window, num_layers, |w| {
                let mut order: Vec<usize> = w.collect();
                rng.shuffle(&mut order, *seed);
                Ok(layer_steps(order))
            })?,
            Variant::RepeatMiddle { window, layer } => {
                if let Some(layer) = layer {
                    check_layer("repeated layer", *layer, num_layers)?;
                }
                windowed(*window, num_layers, |w| {
                    let repeated = layer.unwrap_or(w.start + (w.len() - 1) / 2);
                    Ok(layer_steps(w.map(|_| repeated)))
                })?
            }
            Variant::DoubleRepeat { window } => windowed(*window, num_layers, |w| {
                Ok(layer_steps(w.flat_map(|i| [i, i])))
            })?,
            Variant::TripleRepeat { window } => windowed(*window, num_layers, |w| {
                Ok(layer_steps(w.flat_map(|i| [i, i, i])))
            })?,
            Variant::Parallel { window } => {
                windowed(*window, num_layers, |w| Ok(vec![parallel(w)]))?
            }
            Variant::LoopedParallel { window, times } => {
                if *times == 0 {
                    return Err(PlanError::ZeroRepeat);
                }
                windowed(*window, num_layers, |w| {
                    check_passes(w.len().checked_mul(*times))?;
                    Ok(vec![parallel(w); *times])
                })?
            }
            Variant::Explicit { text } => return Plan::parse(text, num_layers),
            Variant::Slices { slices } => {
                for &[start, end] in slices {
                    check_range("slice", start, end, num_layers)?;
                }
                let passes = slices
                    .iter()
                    .try_fold(0usize, |n, [a, b]| n.checked_add(b - a));
                check_passes(passes)?;
                layer_steps(slices.iter().flat_map(|&[start, end]| start..end))
            }
        };
        Plan::new(steps, num_layers)
    }

    /// The number of layers the variant rewrites (the paper's M, the x-axis of its
    /// plots): the window length, 1 for skip-one, 2 for swap, 0 for baseline; for an
    /// explicit plan the number of layers it removes when it only removes layers
    /// ([`Plan::removed_layers`]), else `None`.
    pub fn affected_layers(&self, num_layers: usize) -> Result<Option<usize>, PlanError> {
        let window = match self {
            Variant::Baseline => return Ok(Some(0)),
            Variant::SkipOne { .. } => return Ok(Some(1)),
            Variant::Swap { .. } => return Ok(Some(2)),
            Variant::Explicit { .. } | Variant::Slices { .. } => {
                return Ok(self.compile(num_layers)?.removed_layers());
            }
            Variant::Skip { window, .. }
            | Variant::Reverse { window }
            | Variant::Shuffle { window, .. }
            | Variant::RepeatMiddle { window, .. }
            | Variant::DoubleRepeat { window }
            | Variant::TripleRepeat { window }
            | Variant::Parallel { window }
            | Variant::LoopedParallel { window, .. } => window,
        };
        Ok(Some(window.resolve(num_layers)?.len()))
    }
}

/// Layers before the window, `middle(window)` (skipped when the window is empty), then
/// the layers after it.
fn windowed(
    window: Window,
    num_layers: usize,
    middle: impl FnOnce(Range<usize>) -> Result<Vec<Step>, PlanError>,
) -> Result<Vec<Step>, PlanError> {
    let w = window.resolve(num_layers)?;
    let mut steps = layer_steps(0..w.start);
    if !w.is_empty() {
        steps.extend(middle(w.clone())?);
    }
    steps.extend(layer_steps(w.end..num_layers));
    Ok(steps)
}

/// What skipping `part` of each layer of `window` leaves: nothing for whole layers, else
/// the other half of each.
fn kept_halves(window: Range<usize>, part: Part) -> Vec<Step> {
    let kept = match part {
        Part::Whole => return Vec::new(),
        Part::Attn => Part::Mlp,
        Part::Mlp => Part::Attn,
    };
    window.map(|i| Step::Layer(LayerId(i, kept))).collect()
}

/// The window as one mean-merged group.
fn parallel(window: Range<usize>) -> Step {
    Step::Parallel {
        layers: window.map(LayerId::whole).collect(),
        merge: Merge::Mean,
    }
}
