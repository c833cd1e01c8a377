//! eval-suite's `LanguageModel` over a layer-graph model run under a plan, with the
//! tokenisation rules of lm-evaluation-harness's Hugging Face backend (0.4.13):
//! - texts are encoded with the tokenizer's special tokens (a BOS for Llama-2 and
//!   Mistral; [`AddBos::Never`] turns them off, as the paper's harness had them), except a
//!   text that starts with the prefix token's text (BOS's for prompts);
//! - a context's trailing whitespace moves to the front of the continuation; the pair is
//!   encoded whole and split after the context's own tokens; a pair longer than the model
//!   is cut to its last `max_length + 1` tokens when scored;
//! - an empty context becomes the prefix token (BOS, else EOS), taken from the
//!   continuation if that starts with it;
//! - rolling log-likelihood scores disjoint windows of at most the model's length, the
//!   first one after the prefix token;
//! - a prompt keeps its last `max_length - max_gen_toks` tokens; generation stops at any
//!   `until` string or the EOS token, whose text is added to `until`.
//!
//! Log-likelihood requests are scored for the backend's own plan and, in the same plan
//! trie, for every follower cell (same task, other plans) that still needs them; the
//! followers' answers go straight to their logs in the store.

use eval_suite::{BackendError, GenerateRequest, LanguageModel, LoglikelihoodRequest};
use layer_graph::Model;
use layer_graph::exec::{Decoding, GenerateOptions, KvMode, generate};
use layer_graph::scoring::{Score, ScoreOptions, ScoreRequest, score_plans};
use layer_plan::Plan;
use serde::{Deserialize, Serialize};

use crate::store::FollowerLog;

/// Whether requests get the tokenizer's special tokens (experiment files' `add_bos`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AddBos {
    /// The tokenizer's own, as its post-processor adds them (a BOS for Llama-2 and
    /// Mistral, nothing for SmolLM2 or GPT-2): lm-evaluation-harness 0.4.13's default.
    #[default]
    Tokenizer,
    /// None, as the paper's pinned harness (commit 262f879) encoded, and lm-eval 0.4.13
    /// with `add_bos_token=False`.
    Never,
}

impl AddBos {
    pub fn is_tokenizer(&self) -> bool {
        *self == AddBos::Tokenizer
    }
}

pub struct PlanBackend<'a> {
    pub model: &'a Model,
    pub plan: Plan,
    pub scoring: ScoreOptions,
    pub kv: KvMode,
    pub add_bos: AddBos,
    /// Other cells of the same task, computed alongside this one.
    pub followers: Vec<(Plan, FollowerLog)>,
    /// Advanced by one for every request answered.
    pub progress: indicatif::ProgressBar,
}

fn backend_error(e: layer_graph::Error) -> BackendError {
    BackendError::new(e)
}

/// Scores under a backend's own plan, then each needed follower's with its index.
type PlanScores = (Vec<Score>, Vec<(usize, Vec<Score>)>);

impl PlanBackend<'_> {
    /// The token-level pairs lm-eval scores for `reqs`, before the cut to the model's
    /// length that scoring makes.
    pub fn loglikelihood_requests(
        &self,
        reqs: &[LoglikelihoodRequest],
    ) -> Result<Vec<ScoreRequest>, BackendError> {
        reqs.iter()
            .map(|r| self.encode_pair(&r.context, &r.continuation))
            .collect()
    }

    /// The windows lm-eval scores for `texts`, each with the index of its text.
    pub fn rolling_requests(
        &self,
        texts: &[String],
    ) -> Result<Vec<(usize, ScoreRequest)>, BackendError> {
        let (prefix, max_len) = (self.prefix_token(), self.model.max_length());
        let mut windows = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            windows.extend(
                rolling_windows(&self.encode(text)?, prefix, max_len)
                    .into_iter()
                    .map(|w| (i, w)),
            );
        }
        Ok(windows)
    }

    /// The prompts lm-eval generates from for `reqs` (`tok_batch_encode`, whose special
    /// tokens are off for a text that starts with the BOS token's text; lm-eval looks at
    /// a batch's first prompt, this at each): each keeps its last `max_length -
    /// max_tokens` tokens, so prompt and continuation fit the model.
    pub fn generation_prompts(
        &self,
        reqs: &[GenerateRequest],
    ) -> Result<Vec<Vec<i64>>, BackendError> {
        let (tok, max_len) = (self.model.tokenizer(), self.model.max_length());
        let bos = tok.bos_token_id().map(|id| tok.token(id));
        reqs.iter()
            .map(|r| {
                let room = max_len.checked_sub(r.max_tokens).filter(|&room| room > 0).ok_or_else(|| {
                    BackendError::new(format!("up to {} new tokens must be fewer than the model's maximum length {max_len}", r.max_tokens))
                })?;
                let ids = self.encode_unless_prefixed(&r.context, bos.as_deref())?;
                Ok(ids[ids.len().saturating_sub(room)..].to_vec())
            })
            .collect()
    }

    /// lm-eval's `tok_encode(text)`: no special tokens for a text that starts with the
    /// prefix token's text.
    fn encode(&self, text: &str) -> Result<Vec<i64>, BackendError> {
        let prefix = self
            .model
            .tokenizer()
            .decode(&[self.prefix_token()], false)
            .map_err(backend_error)?;
        self.encode_unless_prefixed(text, Some(&prefix))
    }

    /// `text`'s ids with the tokenizer's special tokens, unless `add_bos` is never or the
    /// text starts with `prefix` (lm-eval's `has_bos_prefix`).
    fn encode_unless_prefixed(
        &self,
        text: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<i64>, BackendError> {
        let tok = self.model.tokenizer();
        let special =
            self.add_bos == AddBos::Tokenizer && !prefix.is_some_and(|p| text.starts_with(p));
        if special {
            tok.encode(text)
        } else {
            tok.encode_plain(text)
        }
        .map_err(backend_error)
    }

    fn prefix_token(&self) -> i64 {
        let tok = self.model.tokenizer();
        tok.bos_token_id()
            .or(tok.eos_token_id())
            .or(self.model.eos_token_ids().first().copied())
            .unwrap_or(0)
    }

    /// lm-eval's `_encode_pair`, and its handling of an empty context in `loglikelihood`.
    fn encode_pair(&self, context: &str, continuation: &str) -> Result<ScoreRequest, BackendError> {
        if context.is_empty() {
            let continuation = self
                .model
                .tokenizer()
                .encode_plain(continuation)
                .map_err(backend_error)?;
            let prefix = self.prefix_token();
            return Ok(match continuation.split_first() {
                Some((&first, rest)) if first == prefix => ScoreRequest {
                    context: vec![first],
                    continuation: rest.to_vec(),
                },
                _ => ScoreRequest {
                    context: vec![prefix],
                    continuation,
                },
            });
        }
        let kept = context.trim_end().len();
        let (context, continuation) = (
            &context[..kept],
            format!("{}{continuation}", &context[kept..]),
        );
        let whole = self.encode(&format!("{context}{continuation}"))?;
        let context_len = self.encode(context)?.len().min(whole.len());
        Ok(ScoreRequest {
            context: whole[..context_len].to_vec(),
            continuation: whole[context_len..].to_vec(),
        })
    }

    /// Scores `requests` under this backend's plan and the plans of the followers that
    /// `needed` selects; returns this plan's scores first, then each needed follower's
    /// (in follower order) with its index.
    fn score(
        &mut self,
        requests: &[ScoreRequest],
        needed: impl Fn(&FollowerLog) -> bool,
    ) -> Result<PlanScores, BackendError> {
        let chosen: Vec<usize> = (0..self.followers.len())
            .filter(|&i| needed(&self.followers[i].1))
            .collect();
        let mut plans = vec![self.plan.clone()];
        plans.extend(chosen.iter().map(|&i| self.followers[i].0.clone()));
        let (bar, start) = (&self.progress, self.progress.position());
        let mut scores = score_plans(
            self.model,
            &plans,
            requests,
            &mut self.scoring,
            &mut |done| bar.set_position(start + done as u64),
        )
        .map_err(backend_error)?;
        let own = scores.remove(0);
        Ok((own, chosen.into_iter().zip(scores).collect()))
    }
}

/// lm-eval's `get_rolling_token_windows` with context length 1, made disjoint: every
/// token is predicted exactly once, each window seeing at most `max_len` tokens.
fn rolling_windows(tokens: &[i64], prefix: i64, max_len: usize) -> Vec<ScoreRequest> {
    let mut windows = Vec::new();
    let first = tokens.len().min(max_len);
    if first == 0 {
        return windows;
    }
    windows.push(ScoreRequest {
        context: vec![prefix],
        continuation: tokens[..first].to_vec(),
    });
    let mut predicted = first;
    while predicted < tokens.len() {
        let len = (tokens.len() - predicted).min(max_len);
        let end = predicted + len;
        let start = (end - 1).saturating_sub(max_len);
        windows.push(ScoreRequest {
            context: tokens[start..predicted].to_vec(),
            continuation: tokens[predicted..end].to_vec(),
        });
        predicted = end;
    }
    windows
}

impl LanguageModel for PlanBackend<'_> {
    fn loglikelihood(
        &mut self,
        reqs: &[LoglikelihoodRequest],
    ) -> Result<Vec<(f64, bool)>, BackendError> {
        let pairs = self.loglikelihood_requests(reqs)?;
        if let Some(i) = pairs.iter().position(|p| p.continuation.is_empty()) {
            return Err(BackendError::new(format!(
                "request {i}: continuation {:?} encodes to no tokens",
                reqs[i].continuation
            )));
        }
        let answers = |scores: Vec<Score>| {
            scores
                .into_iter()
                .map(|s| (s.logprob, s.is_greedy))
                .collect::<Vec<_>>()
        };
        let (own, shared) = self.score(&pairs, |f| f.needs(reqs))?;
        for (i, scores) in shared {
            self.followers[i].1.append(reqs, answers(scores))?;
        }
        Ok(answers(own))
    }

    fn loglikelihood_rolling(&mut self, texts: &[String]) -> Result<Vec<f64>, BackendError> {
        let (owner, windows): (Vec<usize>, Vec<ScoreRequest>) =
            self.rolling_requests(texts)?.into_iter().unzip();
        let totals = |scores: Vec<Score>| {
            let mut totals = vec![0.0; texts.len()];
            for (s, &i) in scores.into_iter().zip(&owner) {
                totals[i] += s.logprob;
            }
            totals
        };
        let (own, shared) = self.score(&windows, |f| f.needs_rolling(texts))?;
        for (i, scores) in shared {
            self.followers[i].1.append_rolling(texts, totals(scores))?;
        }
        Ok(totals(own))
    }

    fn generate_until(&mut self, reqs: &[GenerateRequest]) -> Result<Vec<String>, BackendError> {
        let eos_text = self
            .model
            .tokenizer()
            .eos_token_id()
            .map(|id| self.model.tokenizer().decode(&[id], false))
            .transpose()
            .map_err(backend_error)?;
        let mut out = vec![String::new(); reqs.len()];
        // Requests with the same stop and sampling settings run together, longest prompt
        // first; a sampled request's seed is its own, so the batch does not change its draws.
        let prompts = self.generation_prompts(reqs)?;
        let settings = |r: &GenerateRequest| {
            r.sampling
                .map(|s| (s.temperature.to_bits(), s.top_k, s.top_p.to_bits()))
        };
        let mut order: Vec<usize> = (0..reqs.len()).collect();
        order.sort_by_key(|&i| {
            (
                reqs[i].until.clone(),
                reqs[i].max_tokens,
                settings(&reqs[i]),
                std::cmp::Reverse(prompts[i].len()),
            )
        });
        for group in order.chunk_by(|&a, &b| {
            (&reqs[a].until, reqs[a].max_tokens, settings(&reqs[a]))
                == (&reqs[b].until, reqs[b].max_tokens, settings(&reqs[b]))
        }) {
            let first = &reqs[group[0]];
            let mut until = first.until.clone();
            until.extend(eos_text.clone());
            for batch in group.chunks(self.scoring.batch_size.max(1)) {
                let decoding = match first.sampling {
                    None => Decoding::Greedy,
                    Some(s) => Decoding::Sample {
                        settings: layer_graph::sample::Sampling {
                            temperature: s.temperature,
                            top_k: s.top_k,
                            top_p: s.top_p,
                        },
                        seeds: batch
                            .iter()
                            .map(|&i| reqs[i].sampling.map_or(0, |s| s.seed))
                            .collect(),
                    },
                };
                let opts = GenerateOptions {
                    max_tokens: first.max_tokens,
                    until: until.clone(),
                    kv: self.kv,
                    decoding,
                };
                let batch_prompts: Vec<Vec<i64>> =
                    batch.iter().map(|&i| prompts[i].clone()).collect();
                let generations = generate(self.model, &batch_prompts, &self.plan, &opts)
                    .map_err(backend_error)?;
                for (&i, g) in batch.iter().zip(generations) {
                    out[i] = g.text;
                }
                self.progress.inc(batch.len() as u64);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(windows: &[ScoreRequest]) -> Vec<(Vec<i64>, Vec<i64>)> {
        windows
            .iter()
            .map(|w| (w.context.clone(), w.continuation.clone()))
            .collect()
    }

    #[test]
    fn rolling_windows_predict_every_token_once() {
        let t: Vec<i64> = (10..17).collect(); // 7 tokens
        assert_eq!(
            tokens(&rolling_windows(&t, 1, 3)),
            vec![
                (vec![1], vec![10, 11, 12]),
                (vec![12], vec![13, 14, 15]),
                (vec![13, 14, 15], vec![16]),
            ]
        );
        assert_eq!(
            tokens(&rolling_windows(&t, 1, 10)),
            vec![(vec![1], t.clone())]
        );
        assert!(rolling_windows(&[], 1, 4).is_empty());
    }
}
