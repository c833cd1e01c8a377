//! Running a model: right-padded batches through embed -> layers -> head, and per-token
//! log-probabilities of the actual next tokens.

use tch::{Kind, Tensor};

use crate::model::Model;
use crate::stack::Attention;

/// Token sequences right-padded into one (B, T) batch.
pub struct Batch {
    pub ids: Tensor,
    pub lengths: Vec<i64>,
}

impl Batch {
    pub fn right_padded(seqs: &[Vec<i64>], device: tch::Device) -> Self {
        let t = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let mut flat = Vec::with_capacity(seqs.len() * t);
        for s in seqs {
            flat.extend_from_slice(s);
            flat.extend(std::iter::repeat_n(0, t - s.len()));
        }
        let ids = Tensor::from_slice(&flat).view([seqs.len() as i64, t as i64]).to_device(device);
        Self { ids, lengths: seqs.iter().map(|s| s.len() as i64).collect() }
    }
}

/// Outputs of the head (B, T, V) for `layers` executed in the given order.
pub fn forward(model: &Model, batch: &Batch, layers: &[usize]) -> Tensor {
    let _guard = tch::no_grad_guard();
    let stack = model.stack();
    let t = batch.ids.size()[1];
    let attn = Attention::right_padded(&batch.lengths, t, stack.is_causal(), model.device());
    let mut xs = stack.embed(&batch.ids, &attn.positions);
    for &layer in layers {
        xs = stack.layer(layer, &xs, &attn, None);
    }
    stack.head(&xs)
}

/// log p(token i | tokens < i) for i = 1..len of each sequence, from logits (B, T, V).
pub fn next_token_logprobs(logits: &Tensor, batch: &Batch) -> Vec<Vec<f64>> {
    let _guard = tch::no_grad_guard();
    let t = logits.size()[1];
    if t < 2 {
        return vec![Vec::new(); batch.lengths.len()];
    }
    let logp = logits.narrow(1, 0, t - 1).to_kind(Kind::Float).log_softmax(-1, Kind::Float); // (B, T-1, V)
    let targets = batch.ids.narrow(1, 1, t - 1).unsqueeze(-1); // (B, T-1, 1)
    let picked = logp.gather(-1, &targets, false).squeeze_dim(-1).to_kind(Kind::Double).to_device(tch::Device::Cpu);
    batch
        .lengths
        .iter()
        .enumerate()
        .map(|(b, &len)| {
            let row = picked.get(b as i64).narrow(0, 0, (len - 1).max(0));
            Vec::<f64>::try_from(&row).expect("a 1-d double tensor converts to Vec<f64>")
        })
        .collect()
}
