//! Log-likelihood scoring at the token level, as lm-evaluation-harness's Hugging Face
//! backend does it: for each (context, continuation) pair the model reads
//! `(context + continuation)[-(max_len + 1)..][..-1]` and the continuation's tokens are
//! scored at the last `len(continuation)` positions. Requests run in batches sorted by
//! length (longest first, little padding); results come back in request order. The head
//! runs only at continuation positions, where the log-probs are read.
//!
//! B batch, S token slots, C hidden, V vocab, N scored positions.

use layer_plan::Plan;
use tch::{Device, Kind, Tensor};

use crate::error::Result;
use crate::exec::{Batch, residual_stream};
use crate::model::Model;

/// One pair of token sequences; the continuation must not be empty.
#[derive(Clone, Debug)]
pub struct ScoreRequest {
    pub context: Vec<i64>,
    pub continuation: Vec<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// Sum of log p(continuation token | everything before it).
    pub logprob: f64,
    /// Whether greedy decoding would have produced every continuation token.
    pub is_greedy: bool,
}

/// Scores every request under `plan`, `batch_size` sequences at a time, calling
/// `progress(scored_so_far)` after each batch.
pub fn score(model: &Model, plan: &Plan, requests: &[ScoreRequest], batch_size: usize, progress: &mut dyn FnMut(usize)) -> Result<Vec<Score>> {
    let max_len = model.max_length();
    // The model's input: the pair, cut to the last max_len + 1 tokens, without the last.
    let inputs: Vec<Vec<i64>> = requests
        .iter()
        .map(|r| {
            let whole: Vec<i64> = r.context.iter().chain(&r.continuation).copied().collect();
            let start = whole.len().saturating_sub(max_len + 1);
            whole[start..whole.len() - 1].to_vec()
        })
        .collect();
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].len()));

    let mut scores = vec![Score { logprob: 0.0, is_greedy: false }; requests.len()];
    let mut done = 0;
    for chunk in order.chunks(batch_size.max(1)) {
        let seqs: Vec<Vec<i64>> = chunk.iter().map(|&i| inputs[i].clone()).collect();
        let batch = Batch::right_padded(&seqs, model.device());
        let xs = residual_stream(model, &batch, plan, None)?; // (B, S, C)
        let _guard = tch::no_grad_guard();
        // Flat (row, position) pairs of every continuation token in the batch.
        let (mut rows, mut positions, mut targets, mut owners) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (b, &i) in chunk.iter().enumerate() {
            let cont = &requests[i].continuation;
            let len = seqs[b].len();
            for (k, &token) in cont.iter().enumerate() {
                rows.push(b as i64);
                positions.push((len - cont.len() + k) as i64);
                targets.push(token);
                owners.push(b);
            }
        }
        let device = model.device();
        let picked = xs.index(&[Some(Tensor::from_slice(&rows).to_device(device)), Some(Tensor::from_slice(&positions).to_device(device))]); // (N, C)
        let logp = model.stack().head(&picked.unsqueeze(0)).squeeze_dim(0).log_softmax(-1, Kind::Float); // (N, V)
        let target = Tensor::from_slice(&targets).to_device(device);
        let token_logp = Vec::<f64>::try_from(logp.gather(-1, &target.unsqueeze(-1), false).view([-1]).to_kind(Kind::Double).to_device(Device::Cpu))
            .expect("log-probs convert to f64");
        let greedy = Vec::<bool>::try_from(logp.argmax(-1, false).eq_tensor(&target).to_device(Device::Cpu)).expect("bools convert");
        for &i in chunk {
            scores[i] = Score { logprob: 0.0, is_greedy: true };
        }
        for ((&b, lp), g) in owners.iter().zip(&token_logp).zip(&greedy) {
            let s = &mut scores[chunk[b]];
            s.logprob += lp;
            s.is_greedy &= g;
        }
        done += chunk.len();
        progress(done);
    }
    Ok(scores)
}
