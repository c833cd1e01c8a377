//! The flat, name-plus-arguments form of a variant that the CLI and experiment files fill.
//!
//! `painters plan --variant NAME [--start-layer s | --range a b] [--layer N] [--with M]
//! [--seed n] [--times K] [--rng portable|python]` and a TOML table with the same
//! kebab-case keys both become a [`VariantSpec`]; `Variant::try_from(spec)` checks that
//! the name is known, that every argument the variant needs is there and that no
//! argument it ignores is given. Layer indices are checked later, by `compile`, against
//! the model's layer count.

use serde::{Deserialize, Serialize};

use crate::error::PlanError;
use crate::shuffle::ShuffleRng;
use crate::variant::{VARIANT_NAMES, Variant, Window};

/// A variant as a name and optional arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VariantSpec {
    /// One of [`VARIANT_NAMES`].
    pub name: String,
    /// The paper's `start_layer = s` window (windowed variants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_layer: Option<usize>,
    /// A half-open `[start, end)` window (windowed variants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[usize; 2]>,
    /// skip-one: the layer to drop; swap: the first layer; repeat-middle: the layer to
    /// repeat (default: the window's centre, the lower middle layer for an even width).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// swap: the second layer (default `layer + 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<usize>,
    /// shuffle: the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// looped-parallel: the number of iterations K.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<usize>,
    /// shuffle: the generator (default python).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rng: Option<ShuffleRng>,
    /// explicit: the plan in text form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// explicit: mergekit-style half-open slices `[a, b)`, run one after another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<Vec<[usize; 2]>>,
}

impl TryFrom<VariantSpec> for Variant {
    type Error = PlanError;

    fn try_from(spec: VariantSpec) -> Result<Variant, PlanError> {
        let name = VARIANT_NAMES
            .iter()
            .find(|known| **known == spec.name)
            .ok_or_else(|| PlanError::UnknownVariant {
                name: spec.name.clone(),
            })?;
        let mut args = Args { name, spec };
        let variant = match *name {
            "baseline" => Variant::Baseline,
            "skip" => Variant::Skip {
                window: args.window()?,
            },
            "skip-one" => Variant::SkipOne {
                layer: args.layer()?,
            },
            "swap" => {
                let a = args.layer()?;
                let b = match args.spec.with.take() {
                    Some(b) => b,
                    // a + 1 overflowing means a is out of range anyway.
                    None => a.checked_add(1).unwrap_or(a),
                };
                Variant::Swap { a, b }
            }
            "reverse" => Variant::Reverse {
                window: args.window()?,
            },
            "shuffle" => Variant::Shuffle {
                window: args.window()?,
                seed: args.spec.seed.take().ok_or(args.missing("seed"))?,
                rng: args.spec.rng.take().unwrap_or_default(),
            },
            "repeat-middle" => Variant::RepeatMiddle {
                window: args.window()?,
                layer: args.spec.layer.take(),
            },
            "double-repeat" => Variant::DoubleRepeat {
                window: args.window()?,
            },
            "triple-repeat" => Variant::TripleRepeat {
                window: args.window()?,
            },
            "parallel" => Variant::Parallel {
                window: args.window()?,
            },
            "looped-parallel" => Variant::LoopedParallel {
                window: args.window()?,
                times: args.spec.times.take().ok_or(args.missing("times"))?,
            },
            _ => match (args.spec.plan.take(), args.spec.slices.take()) {
                (Some(text), None) => Variant::Explicit { text },
                (None, Some(slices)) => Variant::Slices { slices },
                (Some(_), Some(_)) => return Err(args.unused("slices together with plan")),
                (None, None) => return Err(args.missing("plan or slices")),
            },
        };
        args.finish()?;
        Ok(variant)
    }
}

impl From<Variant> for VariantSpec {
    fn from(variant: Variant) -> VariantSpec {
        let mut spec = VariantSpec {
            name: variant.name().to_string(),
            ..VariantSpec::default()
        };
        let window = match variant {
            Variant::Baseline => None,
            Variant::SkipOne { layer } => {
                spec.layer = Some(layer);
                None
            }
            Variant::Swap { a, b } => {
                spec.layer = Some(a);
                spec.with = Some(b);
                None
            }
            Variant::Shuffle { window, seed, rng } => {
                spec.seed = Some(seed);
                spec.rng = Some(rng);
                Some(window)
            }
            Variant::RepeatMiddle { window, layer } => {
                spec.layer = layer;
                Some(window)
            }
            Variant::LoopedParallel { window, times } => {
                spec.times = Some(times);
                Some(window)
            }
            Variant::Skip { window }
            | Variant::Reverse { window }
            | Variant::DoubleRepeat { window }
            | Variant::TripleRepeat { window }
            | Variant::Parallel { window } => Some(window),
            Variant::Explicit { text } => {
                spec.plan = Some(text);
                None
            }
            Variant::Slices { slices } => {
                spec.slices = Some(slices);
                None
            }
        };
        match window {
            Some(Window::StartLayer(s)) => spec.start_layer = Some(s),
            Some(Window::Range { start, end }) => spec.range = Some([start, end]),
            None => {}
        }
        spec
    }
}

/// The arguments of a spec still to be consumed by one variant.
struct Args {
    name: &'static str,
    spec: VariantSpec,
}

impl Args {
    fn window(&mut self) -> Result<Window, PlanError> {
        match (self.spec.start_layer.take(), self.spec.range.take()) {
            (Some(s), None) => Ok(Window::StartLayer(s)),
            (None, Some([start, end])) => Ok(Window::Range { start, end }),
            (Some(_), Some(_)) => Err(PlanError::ConflictingWindow),
            (None, None) => Err(self.missing("start-layer or range")),
        }
    }

    fn layer(&mut self) -> Result<usize, PlanError> {
        self.spec.layer.take().ok_or(self.missing("layer"))
    }

    fn missing(&self, arg: &'static str) -> PlanError {
        PlanError::MissingArg {
            variant: self.name,
            arg,
        }
    }

    fn unused(&self, arg: &'static str) -> PlanError {
        PlanError::UnusedArg {
            variant: self.name,
            arg,
        }
    }

    /// Errors on the first argument the variant did not consume.
    fn finish(self) -> Result<(), PlanError> {
        let spec = &self.spec;
        let given = [
            ("start-layer", spec.start_layer.is_some()),
            ("range", spec.range.is_some()),
            ("layer", spec.layer.is_some()),
            ("with", spec.with.is_some()),
            ("seed", spec.seed.is_some()),
            ("times", spec.times.is_some()),
            ("rng", spec.rng.is_some()),
            ("plan", spec.plan.is_some()),
            ("slices", spec.slices.is_some()),
        ];
        match given.iter().find(|(_, is_given)| *is_given) {
            Some((arg, _)) => Err(self.unused(arg)),
            None => Ok(()),
        }
    }
}
