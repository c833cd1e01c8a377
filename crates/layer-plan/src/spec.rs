//! The flat, name-plus-arguments form of a variant that the CLI and experiment files fill,
//! and the registry that turns it into a [`Variant`].
//!
//! `painters plan --variant NAME [--start-layer s | --range a b] [--layer N] [--with M]
//! [--seed n] [--times K] [--rng portable|python]` and a TOML table with the same keys
//! both become a [`VariantSpec`]; `Variant::try_from(spec)` looks the name up in
//! [`REGISTRY`], whose entry reads the arguments the variant takes. Any argument given
//! that the entry did not read is an error naming it and the ones the variant takes, so
//! what a variant accepts is exactly what its entry reads. Layer indices are checked
//! later, by `compile`, against the model's layer count.

use serde::{Deserialize, Serialize};

use crate::error::PlanError;
use crate::plan::Part;
use crate::shuffle::ShuffleRng;
use crate::variant::{Variant, Window};

/// A variant as a name and optional arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VariantSpec {
    /// One of [`variant_names`].
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
    /// skip, skip-one: drop only this half of each skipped layer (`attn` keeps the MLP,
    /// `mlp` keeps the attention; default `whole`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
    /// shuffle: the generator (default python).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rng: Option<ShuffleRng>,
    /// explicit: the plan in text form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// explicit: mergekit-style half-open slices `[a, b)`, run one after another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<Vec<[usize; 2]>>,
    /// explicit: a name for a family of plans (e.g. the criterion that chose them). Not
    /// part of the plan: labelled plans that remove layers are drawn as one line per label
    /// against the number of layers removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl VariantSpec {
    /// The series this variant belongs to in summaries and figures: its name, with
    /// `-attn` or `-mlp` when it skips only that half (`skip-attn`: attention dropped).
    pub fn kind(&self) -> String {
        match self.part {
            Some(part @ (Part::Attn | Part::Mlp)) => format!("{}-{part}", self.name),
            _ => self.name.clone(),
        }
    }

    /// Each argument's key (as serde and the CLI spell it) with whether it is given. The
    /// destructuring is exhaustive, so a field added to the spec must be added here, and is
    /// then refused by every variant whose entry does not read it.
    fn given(&self) -> [(&'static str, bool); 11] {
        let VariantSpec {
            name: _,
            start_layer,
            range,
            layer,
            with,
            seed,
            times,
            part,
            rng,
            plan,
            slices,
            label,
        } = self;
        [
            ("start-layer", start_layer.is_some()),
            ("range", range.is_some()),
            ("layer", layer.is_some()),
            ("with", with.is_some()),
            ("seed", seed.is_some()),
            ("times", times.is_some()),
            ("part", part.is_some()),
            ("rng", rng.is_some()),
            ("plan", plan.is_some()),
            ("slices", slices.is_some()),
            ("label", label.is_some()),
        ]
    }
}

/// How a variant is built from its arguments.
type Build = fn(&mut Args) -> Result<Variant, PlanError>;

/// Every variant by name, as the CLI and experiment files spell it, with how it reads its
/// arguments: the one list of variants. Names, unknown-name errors and what each variant
/// accepts all come from here.
const REGISTRY: &[(&str, Build)] = &[
    ("baseline", |_| Ok(Variant::Baseline)),
    ("skip", |a| {
        Ok(Variant::Skip {
            window: a.window()?,
            part: a.part(),
        })
    }),
    ("skip-one", |a| {
        let layer = a.layer().ok_or(a.missing("layer"))?;
        Ok(Variant::SkipOne {
            layer,
            part: a.part(),
        })
    }),
    ("swap", |a| {
        let first = a.layer().ok_or(a.missing("layer"))?;
        // first + 1 overflowing means first is out of range anyway.
        let second = a.with().unwrap_or(first.checked_add(1).unwrap_or(first));
        Ok(Variant::Swap {
            a: first,
            b: second,
        })
    }),
    ("reverse", |a| {
        Ok(Variant::Reverse {
            window: a.window()?,
        })
    }),
    ("shuffle", |a| {
        Ok(Variant::Shuffle {
            window: a.window()?,
            seed: a.seed().ok_or(a.missing("seed"))?,
            rng: a.rng().unwrap_or_default(),
        })
    }),
    ("repeat-middle", |a| {
        Ok(Variant::RepeatMiddle {
            window: a.window()?,
            layer: a.layer(),
        })
    }),
    ("double-repeat", |a| {
        Ok(Variant::DoubleRepeat {
            window: a.window()?,
        })
    }),
    ("triple-repeat", |a| {
        Ok(Variant::TripleRepeat {
            window: a.window()?,
        })
    }),
    ("parallel", |a| {
        Ok(Variant::Parallel {
            window: a.window()?,
        })
    }),
    ("looped-parallel", |a| {
        Ok(Variant::LoopedParallel {
            window: a.window()?,
            times: a.times().ok_or(a.missing("times"))?,
        })
    }),
    ("explicit", |a| {
        match (a.plan(), a.slices(), a.accept_label()) {
            (Some(text), None, ()) => Ok(Variant::Explicit { text }),
            (None, Some(slices), ()) => Ok(Variant::Slices { slices }),
            (Some(_), Some(_), ()) => Err(PlanError::ConflictingArgs {
                variant: "explicit",
                args: "plan or slices",
            }),
            (None, None, ()) => Err(a.missing("plan or slices")),
        }
    }),
];

/// Every variant name, in the order of the registry.
pub fn variant_names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|(name, _)| *name)
}

impl TryFrom<VariantSpec> for Variant {
    type Error = PlanError;

    fn try_from(spec: VariantSpec) -> Result<Variant, PlanError> {
        let (name, build) = REGISTRY
            .iter()
            .find(|(name, _)| *name == spec.name)
            .ok_or_else(|| PlanError::UnknownVariant {
                name: spec.name.clone(),
            })?;
        let mut args = Args {
            name,
            spec,
            read: Vec::new(),
        };
        let variant = build(&mut args)?;
        args.finish()?;
        Ok(variant)
    }
}

/// The arguments of a spec still to be read by one variant's entry, and the keys it has
/// asked for so far (what the variant accepts).
struct Args {
    name: &'static str,
    spec: VariantSpec,
    read: Vec<&'static str>,
}

impl Args {
    /// `field` of the spec, noting that the variant takes `key`.
    fn take<T>(
        &mut self,
        key: &'static str,
        field: fn(&mut VariantSpec) -> Option<T>,
    ) -> Option<T> {
        self.read.push(key);
        field(&mut self.spec)
    }

    /// The layer window: start-layer or range, exactly one of them.
    fn window(&mut self) -> Result<Window, PlanError> {
        let start_layer = self.take("start-layer", |s| s.start_layer.take());
        let range = self.take("range", |s| s.range.take());
        match (start_layer, range) {
            (Some(s), None) => Ok(Window::StartLayer(s)),
            (None, Some([start, end])) => Ok(Window::Range { start, end }),
            (Some(_), Some(_)) => Err(PlanError::ConflictingArgs {
                variant: self.name,
                args: "start-layer or range",
            }),
            (None, None) => Err(self.missing("start-layer or range")),
        }
    }

    fn layer(&mut self) -> Option<usize> {
        self.take("layer", |s| s.layer.take())
    }

    fn with(&mut self) -> Option<usize> {
        self.take("with", |s| s.with.take())
    }

    fn seed(&mut self) -> Option<u64> {
        self.take("seed", |s| s.seed.take())
    }

    fn times(&mut self) -> Option<usize> {
        self.take("times", |s| s.times.take())
    }

    fn part(&mut self) -> Part {
        self.take("part", |s| s.part.take()).unwrap_or_default()
    }

    fn rng(&mut self) -> Option<ShuffleRng> {
        self.take("rng", |s| s.rng.take())
    }

    fn plan(&mut self) -> Option<String> {
        self.take("plan", |s| s.plan.take())
    }

    fn slices(&mut self) -> Option<Vec<[usize; 2]>> {
        self.take("slices", |s| s.slices.take())
    }

    /// Accepts `label`, which names cells and figure lines and does not change the plan.
    fn accept_label(&mut self) {
        self.take("label", |s| s.label.take());
    }

    fn missing(&self, arg: &'static str) -> PlanError {
        PlanError::MissingArg {
            variant: self.name,
            arg,
        }
    }

    /// Errors on the first argument given that the variant did not read.
    fn finish(self) -> Result<(), PlanError> {
        match self.spec.given().into_iter().find(|(_, given)| *given) {
            Some((arg, _)) => Err(PlanError::UnusedArg {
                variant: self.name,
                arg,
                valid: self.read,
            }),
            None => Ok(()),
        }
    }
}
