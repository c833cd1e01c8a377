//! Executing a layer plan: padded batches through embed -> the plan's steps -> head,
//! optionally keeping the residual stream after every step, and greedy generation with a
//! KV cache keyed by plan step.
//!
//! A step runs one layer, or a parallel group whose members all read the same residual
//! stream h and whose full outputs h + delta_i are averaged. In generation every executed
//! layer instance owns its cache slot (a repeated layer never overwrites its earlier
//! slot). For parallel groups, [`KvMode::Exact`] keeps one slot per member, so cached
//! generation equals recomputing the whole sequence; [`KvMode::Paper`] stores the
//! members' mean K/V in one slot per step, as the paper's code does.
//!
//! A libtorch failure comes back as an error naming the step or stage it happened in.
//!
//! B batch, S token slots, T new tokens, C hidden, V vocab.

use layer_plan::{LayerId, Merge, Plan, Step};
use tch::{Device, Kind, TchError, Tensor};

use crate::error::{Error, Result};
use crate::model::Model;
use crate::sample::{Sampler, Sampling};
use crate::stack::{Attention, KvSlot, LayerStack, LengthLimit};

/// Token sequences padded into one (B, S) batch.
pub struct Batch {
    /// (B, S) int64 token ids, 0 in padding.
    pub ids: Tensor,
    /// (B, S) bool, true at real tokens.
    pub valid: Tensor,
    pub lengths: Vec<i64>,
    /// Whether padding follows the real tokens of each row.
    pub right_padded: bool,
}

impl Batch {
    /// Real tokens first, then padding: for scoring, where row b's logits are read at
    /// positions 0..len.
    pub fn right_padded(seqs: &[Vec<i64>], device: Device) -> Self {
        Self::padded(seqs, device, false)
    }

    /// Padding first, then real tokens: for generation, where every row's next token is
    /// read at the last slot.
    pub fn left_padded(seqs: &[Vec<i64>], device: Device) -> Self {
        Self::padded(seqs, device, true)
    }

    fn padded(seqs: &[Vec<i64>], device: Device, left: bool) -> Self {
        let s = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let (mut ids, mut valid) = (
            Vec::with_capacity(seqs.len() * s),
            Vec::with_capacity(seqs.len() * s),
        );
        for seq in seqs {
            let pad = s - seq.len();
            let (before, after) = if left { (pad, 0) } else { (0, pad) };
            ids.extend(
                std::iter::repeat_n(0, before)
                    .chain(seq.iter().copied())
                    .chain(std::iter::repeat_n(0, after)),
            );
            valid.extend(
                std::iter::repeat_n(false, before)
                    .chain(std::iter::repeat_n(true, seq.len()))
                    .chain(std::iter::repeat_n(false, after)),
            );
        }
        let shape = [seqs.len() as i64, s as i64];
        Self {
            ids: Tensor::from_slice(&ids).view(shape).to_device(device),
            valid: Tensor::from_slice(&valid).view(shape).to_device(device),
            lengths: seqs.iter().map(|q| q.len() as i64).collect(),
            right_padded: !left,
        }
    }
}

/// The head's output for every position, and the residual stream after the embedding
/// and after every plan step when asked for (each (B, S, C)).
pub struct Forward {
    pub output: Tensor,
    pub hidden: Vec<Tensor>,
}

/// Runs `plan` over a batch; `keep_hidden` also returns the residual streams.
pub fn run_plan(model: &Model, batch: &Batch, plan: &Plan, keep_hidden: bool) -> Result<Forward> {
    let mut hidden = Vec::new();
    let xs = residual_stream(model, batch, plan, keep_hidden.then_some(&mut hidden))?;
    let output = tch::no_grad(|| head(model.stack(), &xs))?;
    Ok(Forward { output, hidden })
}

/// The residual stream (B, S, C) after the plan's last step, before the head; with
/// `hidden`, also every earlier one (after the embedding and after each step).
pub fn residual_stream(
    model: &Model,
    batch: &Batch,
    plan: &Plan,
    hidden: Option<&mut Vec<Tensor>>,
) -> Result<Tensor> {
    let stack = model.stack();
    check_plan(stack, plan)?;
    let _guard = tch::no_grad_guard();
    let (_, s) = batch
        .ids
        .size2()
        .map_err(|e| Error::torch("the batch's token ids", e))?;
    check_length(stack, s as usize, || "the batch".into())?;
    let attn = if stack.is_causal() && batch.right_padded {
        Attention::causal(&batch.lengths, s, batch.ids.device())
    } else {
        Attention::new(&batch.valid, s, stack.is_causal())
    }
    .map_err(|e| Error::torch("the attention mask", e))?;
    let xs = embed(stack, &batch.ids, &attn.positions)?;
    run_steps(stack, xs, &attn, plan, None, hidden)
}

/// The stack's embedding, failures named.
pub(crate) fn embed(stack: &dyn LayerStack, ids: &Tensor, positions: &Tensor) -> Result<Tensor> {
    stack
        .embed(ids, positions)
        .map_err(|e| Error::torch("the embedding", e))
}

/// The stack's head, failures named.
pub(crate) fn head(stack: &dyn LayerStack, xs: &Tensor) -> Result<Tensor> {
    stack.head(xs).map_err(|e| Error::torch("the head", e))
}

pub(crate) fn check_plan(stack: &dyn LayerStack, plan: &Plan) -> Result<()> {
    if plan.num_layers() == stack.num_layers() {
        Ok(())
    } else {
        Err(Error::PlanMismatch {
            plan: plan.to_string(),
            plan_layers: plan.num_layers(),
            model_layers: stack.num_layers(),
        })
    }
}

/// Refuses a sequence of `tokens` that the stack does not take (past a position table or a
/// sliding window); `what` describes the sequence for the message.
pub(crate) fn check_length(
    stack: &dyn LayerStack,
    tokens: usize,
    what: impl FnOnce() -> String,
) -> Result<()> {
    match stack.length_limit() {
        Some(LengthLimit {
            tokens: limit,
            reason,
        }) if tokens > *limit => Err(Error::TooLong {
            what: what(),
            tokens,
            reason: reason.clone(),
        }),
        _ => Ok(()),
    }
}

/// How a parallel group's members share the KV cache during generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvMode {
    /// Each member keeps its own keys and values.
    Exact,
    /// One slot per step holding the members' mean keys and values (the paper's code).
    Paper,
}

/// KV slots indexed by plan step, then by group member (one per step in paper mode).
struct PlanCache {
    mode: KvMode,
    slots: Vec<Vec<KvSlot>>,
}

impl PlanCache {
    fn new(plan: &Plan, mode: KvMode) -> Self {
        // One slot per member that attends (Exact) or per step with any (Paper); an MLP
        // half has none.
        let attending = |step: &Step| step.layers().iter().filter(|l| l.1.attends()).count();
        let per_step = |step: &Step| match mode {
            KvMode::Exact => attending(step),
            KvMode::Paper => attending(step).min(1),
        };
        let slots = plan
            .steps()
            .iter()
            .map(|step| (0..per_step(step)).map(|_| KvSlot::default()).collect())
            .collect();
        Self { mode, slots }
    }
}

fn run_steps(
    stack: &dyn LayerStack,
    mut xs: Tensor,
    attn: &Attention,
    plan: &Plan,
    mut cache: Option<&mut PlanCache>,
    mut hidden: Option<&mut Vec<Tensor>>,
) -> Result<Tensor> {
    if let Some(h) = hidden.as_deref_mut() {
        h.push(xs.shallow_clone());
    }
    for (i, step) in plan.steps().iter().enumerate() {
        let slots = cache
            .as_deref_mut()
            .map(|c| (c.mode, c.slots[i].as_mut_slice()));
        xs = apply_step(stack, step, &xs, attn, slots)?;
        if let Some(h) = hidden.as_deref_mut() {
            h.push(xs.shallow_clone());
        }
    }
    Ok(xs)
}

/// One plan step on the residual stream (B, T, C), with the step's KV slots when
/// generating.
pub(crate) fn apply_step(
    stack: &dyn LayerStack,
    step: &Step,
    xs: &Tensor,
    attn: &Attention,
    slots: Option<(KvMode, &mut [KvSlot])>,
) -> Result<Tensor> {
    match step {
        Step::Layer(id) => layer(stack, *id, xs, attn, slots.and_then(|(_, s)| s.first_mut())),
        Step::Parallel {
            layers,
            merge: Merge::Mean,
        } => {
            let outs: Vec<Tensor> = match slots {
                None => layers
                    .iter()
                    .map(|l| layer(stack, *l, xs, attn, None))
                    .collect(),
                Some((KvMode::Exact, slots)) => {
                    // The attending members take the slots in order.
                    let mut slots = slots.iter_mut();
                    layers
                        .iter()
                        .map(|l| {
                            let slot = if l.1.attends() { slots.next() } else { None };
                            layer(stack, *l, xs, attn, slot)
                        })
                        .collect()
                }
                Some((KvMode::Paper, slots)) => {
                    parallel_paper_kv(stack, layers, xs, attn, slots.first_mut())
                }
            }?;
            mean(&outs).map_err(|e| Error::torch(format!("averaging step {step}"), e))
        }
    }
}

/// The stack's layer `l` (or the half it names), failures named.
fn layer(
    stack: &dyn LayerStack,
    l: LayerId,
    xs: &Tensor,
    attn: &Attention,
    kv: Option<&mut KvSlot>,
) -> Result<Tensor> {
    stack
        .layer(l.0, l.1, xs, attn, kv)
        .map_err(|e| Error::torch(format!("layer {l}"), e))
}

/// The elementwise mean of equally shaped tensors.
fn mean(tensors: &[Tensor]) -> Result<Tensor, TchError> {
    Tensor::f_stack(tensors, 0)?.f_mean_dim(0, false, None)
}

/// Each attending member attends over the shared (averaged) past plus its own new keys;
/// the slot then keeps those members' mean. `shared` is `None` when no member attends.
fn parallel_paper_kv(
    stack: &dyn LayerStack,
    layers: &[LayerId],
    xs: &Tensor,
    attn: &Attention,
    shared: Option<&mut KvSlot>,
) -> Result<Vec<Tensor>> {
    let Some(shared) = shared else {
        return layers
            .iter()
            .map(|l| layer(stack, *l, xs, attn, None))
            .collect();
    };
    let (mut keys, mut values, mut outs) = (Vec::new(), Vec::new(), Vec::new());
    for l in layers {
        if !l.1.attends() {
            outs.push(layer(stack, *l, xs, attn, None)?);
            continue;
        }
        let mut own = KvSlot {
            kv: shared
                .kv
                .as_ref()
                .map(|(k, v)| (k.shallow_clone(), v.shallow_clone())),
        };
        outs.push(layer(stack, *l, xs, attn, Some(&mut own))?);
        let (k, v) = own.kv.expect("an attending layer run with a slot fills it");
        keys.push(k);
        values.push(v);
    }
    let average = |ts: &[Tensor]| {
        mean(ts).map_err(|e| Error::torch("averaging the members' keys and values", e))
    };
    shared.kv = Some((average(&keys)?, average(&values)?));
    Ok(outs)
}

/// log p(token i | tokens < i) for i = 1..len of each right-padded sequence, from the
/// logits (B, S, V) of that batch.
pub fn next_token_logprobs(logits: &Tensor, batch: &Batch) -> Vec<Vec<f64>> {
    let _guard = tch::no_grad_guard();
    let s = logits.size()[1];
    if s < 2 {
        return vec![Vec::new(); batch.lengths.len()];
    }
    let logp = logits.narrow(1, 0, s - 1).log_softmax(-1, Kind::Float); // (B, S-1, V)
    let targets = batch.ids.narrow(1, 1, s - 1).unsqueeze(-1); // (B, S-1, 1)
    let picked = logp
        .gather(-1, &targets, false)
        .squeeze_dim(-1)
        .to_kind(Kind::Double)
        .to_device(Device::Cpu);
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

/// The most likely next token of each row of logits (B, 1, V): (B, 1) on the device and
/// as host ids.
fn greedy_tokens(logits: &Tensor) -> Result<(Tensor, Vec<i64>), TchError> {
    let next = logits.f_argmax(-1, false)?; // (B, 1)
    let tokens = Vec::<i64>::try_from(next.f_view([-1])?.f_to_device(Device::Cpu)?)?;
    Ok((next, tokens))
}

/// Decoding settings.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    pub max_tokens: usize,
    /// Stop once the decoded continuation contains any of these; the text is cut there.
    pub until: Vec<String>,
    pub kv: KvMode,
    pub decoding: Decoding,
}

/// How each next token is picked.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoding {
    /// The most likely token.
    Greedy,
    /// Drawn under `settings`, prompt `i` from its own stream seeded with `seeds[i]`
    /// (see [`crate::sample`]).
    Sample { settings: Sampling, seeds: Vec<u64> },
}

/// One prompt's continuation.
#[derive(Clone, Debug, PartialEq)]
pub struct Generation {
    /// Generated token ids, up to and including the token that completed a stop string
    /// or the end-of-sequence token.
    pub ids: Vec<i64>,
    /// Decoded continuation without special tokens, cut before the first stop string.
    pub text: String,
}

/// The continuation of each prompt under `plan` (greedy or sampled, `opts.decoding`),
/// batched with left padding. As in
/// lm-evaluation-harness, stop strings are looked for in the text with special tokens
/// (so "<|im_end|>" can stop), and the returned text is decoded without them. A prompt
/// plus `max_tokens` must fit the model's length limit (lm-eval truncates prompts so).
pub fn generate(
    model: &Model,
    prompts: &[Vec<i64>],
    plan: &Plan,
    opts: &GenerateOptions,
) -> Result<Vec<Generation>> {
    let stack = model.stack();
    check_plan(stack, plan)?;
    for (i, prompt) in prompts.iter().enumerate() {
        check_length(stack, prompt.len() + opts.max_tokens, || {
            format!(
                "prompt {i} ({} tokens) plus up to {} new tokens",
                prompt.len(),
                opts.max_tokens
            )
        })?;
    }
    let mut sampler = match &opts.decoding {
        Decoding::Greedy => None,
        Decoding::Sample { settings, seeds } => Some(Sampler::new(settings, seeds, prompts.len())?),
    };
    let _guard = tch::no_grad_guard();
    let batch = Batch::left_padded(prompts, model.device());
    let mut cache = PlanCache::new(plan, opts.kv);
    let mut valid = batch.valid.shallow_clone();
    let mut ids = batch.ids.shallow_clone();
    let mut out: Vec<Generation> = prompts
        .iter()
        .map(|_| Generation {
            ids: Vec::new(),
            text: String::new(),
        })
        .collect();
    let mut done = vec![false; prompts.len()];
    for _ in 0..opts.max_tokens {
        let t = ids.size()[1];
        let attn = Attention::new(&valid, t, stack.is_causal())
            .map_err(|e| Error::torch("the attention mask", e))?;
        let xs = embed(stack, &ids, &attn.positions)?;
        let xs = run_steps(stack, xs, &attn, plan, Some(&mut cache), None)?;
        let last = xs
            .f_narrow(1, t - 1, 1)
            .map_err(|e| Error::torch("the last position", e))?; // (B, 1, C)
        let logits = head(stack, &last)?; // (B, 1, V)
        let (next, tokens) = match &mut sampler {
            None => {
                greedy_tokens(&logits).map_err(|e| Error::torch("picking the next tokens", e))?
            }
            Some(sampler) => {
                let tokens = sampler.next_tokens(&logits)?;
                let next = Tensor::from_slice(&tokens)
                    .f_view([-1, 1])
                    .and_then(|t| t.f_to_device(model.device()))
                    .map_err(|e| Error::torch("placing the sampled tokens", e))?;
                (next, tokens)
            }
        };
        for (b, &token) in tokens.iter().enumerate() {
            if done[b] {
                continue;
            }
            let g = &mut out[b];
            g.ids.push(token);
            let raw = model.tokenizer().decode(&g.ids, false)?;
            done[b] = opts.until.iter().any(|u| raw.contains(u.as_str()))
                || model.eos_token_ids().contains(&token);
        }
        if done.iter().all(|&d| d) {
            break;
        }
        ids = next;
        valid = Tensor::f_ones([prompts.len() as i64, 1], (Kind::Bool, model.device()))
            .and_then(|new| Tensor::f_cat(&[&valid, &new], 1))
            .map_err(|e| Error::torch("extending the attention mask", e))?;
    }
    for g in &mut out {
        let text = model.tokenizer().decode(&g.ids, true)?;
        let cut = opts
            .until
            .iter()
            .filter_map(|u| text.find(u.as_str()))
            .min()
            .unwrap_or(text.len());
        g.text = text[..cut].to_string();
    }
    Ok(out)
}
