//! lm-eval 0.4.13's plain-text prompt assembly (`ConfigurableTask.fewshot_context`,
//! `build_qa_turn`) and its two few-shot samplers (`lm_eval/api/samplers.py`).
//!
//! A context is `description + Σ (text + " " + target + "\n\n") + text` (task files may
//! set other delimiters). An exemplar
//! whose target is empty contributes its text alone (lm-eval then adds neither delimiter).
//! The default sampler is one `random.Random(1234)` per task (`simple_evaluate` calls
//! `task.set_fewshot_seed(1234)`), drawing `rnd.sample(pool, n)` for each evaluated doc in
//! order; `first_n` takes the pool's first `n`. lm-eval removes the evaluated doc from a
//! draw only when the few-shot split *is* the test split; no task here is configured that
//! way, so that branch is not ported. Chat templates and system prompts are not ported.

use layer_plan::PyRandom;

/// lm-eval's default `target_delimiter`.
pub(crate) const TARGET_DELIMITER: &str = " ";
/// lm-eval's default `fewshot_delimiter`.
pub(crate) const FEWSHOT_DELIMITER: &str = "\n\n";

/// What joins a text to its answer, and one example to the next.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Delimiters<'a> {
    pub target: &'a str,
    pub fewshot: &'a str,
}

/// lm-eval's defaults, which every built-in task uses.
pub(crate) const DEFAULT_DELIMITERS: Delimiters<'static> = Delimiters {
    target: TARGET_DELIMITER,
    fewshot: FEWSHOT_DELIMITER,
};
/// `simple_evaluate`'s default `fewshot_random_seed`.
pub(crate) const FEWSHOT_SEED: u64 = 1234;

/// A few-shot example: the doc's `doc_to_text` and `doc_to_target` strings.
#[derive(Debug, Clone)]
pub(crate) struct Exemplar {
    pub text: String,
    pub target: String,
}

/// The full context for one evaluated doc.
pub(crate) fn context(
    description: &str,
    exemplars: &[&Exemplar],
    text: &str,
    delimiters: &Delimiters,
) -> String {
    let mut out = description.to_string();
    for ex in exemplars {
        out.push_str(&ex.text);
        if !ex.target.is_empty() {
            out.push_str(delimiters.target);
            out.push_str(&ex.target);
            out.push_str(delimiters.fewshot);
        }
    }
    out.push_str(text);
    out
}

/// How a task picks its exemplars.
#[derive(Debug, Clone)]
pub(crate) enum Sampler {
    /// `ContextSampler`: `rnd.sample(pool, n)` from one RNG shared by all docs of a task.
    Random(Box<PyRandom>),
    /// `FirstNSampler`: the pool's first `n`, the same for every doc.
    FirstN,
}

impl Sampler {
    /// `ContextSampler` seeded as `simple_evaluate` seeds it.
    pub(crate) fn seeded() -> Self {
        Sampler::Random(Box::new(PyRandom::new(FEWSHOT_SEED)))
    }

    /// Indices into a pool of `pool` exemplars for the next doc; an error message when the
    /// pool is too small (lm-eval asserts).
    pub(crate) fn pick(&mut self, pool: usize, n: usize) -> Result<Vec<usize>, String> {
        if n == 0 {
            return Ok(Vec::new());
        }
        match self {
            Sampler::Random(rng) => rng.sample_indices(pool, n).map_err(|e| e.to_string()),
            Sampler::FirstN if n <= pool => Ok((0..n).collect()),
            Sampler::FirstN => Err(format!(
                "{n} few-shot examples requested but only {pool} are available"
            )),
        }
    }
}

/// Contexts for `texts` (already cut to the limit), each preceded by `shots` exemplars
/// drawn from `pool` by `sampler`, in doc order.
pub(crate) fn contexts(
    description: &str,
    pool: &[Exemplar],
    sampler: &mut Sampler,
    shots: usize,
    texts: &[String],
) -> Result<Vec<String>, String> {
    texts
        .iter()
        .map(|text| {
            let picked = sampler.pick(pool.len(), shots)?;
            let exemplars: Vec<&Exemplar> = picked.iter().map(|&i| &pool[i]).collect();
            Ok(context(description, &exemplars, text, &DEFAULT_DELIMITERS))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, target: &str) -> Exemplar {
        Exemplar {
            text: text.into(),
            target: target.into(),
        }
    }

    #[test]
    fn description_exemplars_then_text() {
        let a = ex("Q: 1\nA:", "one");
        let b = ex("Q: 2\nA:", "");
        assert_eq!(
            context(
                "About numbers.\n\n",
                &[&a, &b],
                "Q: 3\nA:",
                &DEFAULT_DELIMITERS
            ),
            "About numbers.\n\nQ: 1\nA: one\n\nQ: 2\nA:Q: 3\nA:"
        );
    }

    #[test]
    fn first_n_is_fixed_and_bounded() {
        let mut s = Sampler::FirstN;
        assert_eq!(s.pick(5, 3).unwrap(), vec![0, 1, 2]);
        assert_eq!(s.pick(5, 3).unwrap(), vec![0, 1, 2]);
        assert!(s.pick(5, 6).is_err());
    }

    #[test]
    fn seeded_sampler_matches_cpython() {
        // random.Random(1234).sample(range(10), 3) == [7, 1, 0]
        let mut s = Sampler::seeded();
        assert_eq!(s.pick(10, 3).unwrap(), vec![7, 1, 0]);
        assert_eq!(s.pick(10, 0).unwrap(), Vec::<usize>::new());
    }
}
