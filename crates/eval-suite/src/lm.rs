//! The backend contract: the three string-level calls lm-evaluation-harness makes of a model.
//!
//! Tasks hand the backend whole strings and get numbers or text back, in request order;
//! tokenisation, batching, sorting by length, caching and devices are the backend's
//! business. This module deliberately knows nothing about tokens or tensors.

use thiserror::Error;

/// Score `continuation` given `context` (lm-eval's `loglikelihood` request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoglikelihoodRequest {
    pub context: String,
    pub continuation: String,
}

/// Generation from `context` (lm-eval's `generate_until` request).
///
/// As lm-eval's Hugging Face backend does, a backend should also stop at its own
/// end-of-sequence token and cut the text at the first occurrence of any `until` string.
/// Tasks cut at `until` again themselves, so a backend that only stops is still scored
/// exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    pub context: String,
    pub until: Vec<String>,
    /// lm-eval's `max_gen_toks`: the most new tokens to generate.
    pub max_tokens: usize,
    /// `None`: greedy (`do_sample: false`).
    pub sampling: Option<Sampling>,
}

/// `do_sample: true`: each token drawn from the temperature-scaled, top-k- then
/// top-p-filtered distribution (transformers' order), from a random stream seeded with
/// `seed` alone, so the same request gives the same text in any batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: f64,
    /// 0 keeps every token.
    pub top_k: usize,
    pub top_p: f64,
    /// Tasks give repeat `r` of doc `d` the seed [`sampling_seed`]`(d, r)`.
    pub seed: u64,
}

/// The seed of repeat `repeat` of doc `doc_id`: 1234 (lm-eval's default torch seed) xor
/// `doc_id << 32 | repeat`, so a doc's samples do not depend on `--limit`.
pub fn sampling_seed(doc_id: usize, repeat: usize) -> u64 {
    1234 ^ ((doc_id as u64) << 32 | repeat as u64)
}

/// A failure inside the backend, passed through untouched.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct BackendError(Box<dyn std::error::Error + Send + Sync>);

impl BackendError {
    /// Wrap any error or message (`&str`, `String`, or an `Error`).
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        BackendError(error.into())
    }
}

/// A language model as lm-evaluation-harness sees one. Results come back in request order,
/// one per request.
pub trait LanguageModel {
    /// For each request: (sum of log p(continuation tokens | context), whether greedy
    /// decoding from the context reproduces every continuation token).
    fn loglikelihood(
        &mut self,
        reqs: &[LoglikelihoodRequest],
    ) -> Result<Vec<(f64, bool)>, BackendError>;

    /// Total log-likelihood of each whole text, scored with rolling windows.
    fn loglikelihood_rolling(&mut self, texts: &[String]) -> Result<Vec<f64>, BackendError>;

    /// The continuation of each context, greedy or sampled as the request says.
    fn generate_until(&mut self, reqs: &[GenerateRequest]) -> Result<Vec<String>, BackendError>;
}
