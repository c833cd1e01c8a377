//! Log-likelihood scoring at the token level, as lm-evaluation-harness's Hugging Face
//! backend does it, for one plan or a whole grid of plans at once.
//!
//! For each (context, continuation) pair the model reads
//! `(context + continuation)[-(max_len + 1)..][..-1]` and the continuation's tokens are
//! scored at the last `len(continuation)` positions. Two savings keep the numbers and
//! cut the work:
//! - **shared contexts**: requests with the same context (a multiple-choice item's
//!   choices) are packed into one row, the context once followed by every continuation,
//!   each continuation attending to the context and to itself only (a tree mask, with
//!   positions restarting after the context), so the row computes exactly what the
//!   separate rows would;
//! - **shared plan prefixes**: the plans run as a [`PlanTrie`], each common prefix once
//!   per batch, branching where they differ ([`PlanTrie::walk`], which keeps its own
//!   stack, so a plan as long as the parser allows runs on any thread).
//!
//! Rows run in batches sorted by length (longest first, little padding); the head runs
//! only at the positions whose log-probs are read. Results come back in request order.
//!
//! B batch, S token slots, C hidden, V vocab, N scored positions.

use std::cell::OnceCell;
use std::collections::HashMap;

use layer_plan::{Plan, PlanTrie, Step};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};
use crate::exec::{apply_step, check_length, check_plan};
use crate::model::Model;
use crate::stack::{Attention, LayerStack};

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

#[derive(Clone, Copy, Debug)]
pub struct ScoreOptions {
    /// Rows (packed requests) per forward pass; halved on device out-of-memory.
    pub batch_size: usize,
    /// Pack requests with the same context into one row.
    pub share_contexts: bool,
    /// The most residual streams (each one batch's (B, S, C)) kept at once while walking
    /// the plan trie; a grid that needs more runs as several tries.
    pub max_kept: usize,
}

impl ScoreOptions {
    pub fn new(batch_size: usize) -> Self {
        Self {
            batch_size,
            share_contexts: true,
            max_kept: 16,
        }
    }
}

/// Scores every request under `plan`; `progress(requests_scored_so_far)` after each batch.
pub fn score(
    model: &Model,
    plan: &Plan,
    requests: &[ScoreRequest],
    options: &mut ScoreOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Score>> {
    let mut scores = score_plans(
        model,
        std::slice::from_ref(plan),
        requests,
        options,
        progress,
    )?;
    Ok(scores.pop().expect("one plan, one result"))
}

/// Scores every request under every plan: `result[p][r]` is request r under plan p.
/// `progress` counts requests scored under all plans. When the device runs out of memory
/// the batch is retried at half the size, and `options.batch_size` keeps the smaller size.
pub fn score_plans(
    model: &Model,
    plans: &[Plan],
    requests: &[ScoreRequest],
    options: &mut ScoreOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Vec<Score>>> {
    let stack = model.stack();
    for plan in plans {
        check_plan(stack, plan)?;
    }
    let mut rows = pack(stack, requests, model.max_length(), options.share_contexts)?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.tokens.len()));
    let tries: Vec<(Vec<usize>, PlanTrie)> = PlanTrie::groups(plans, options.max_kept)
        .into_iter()
        .map(|group| {
            let members: Vec<Plan> = group.iter().map(|&p| plans[p].clone()).collect();
            (group, PlanTrie::new(&members))
        })
        .collect();
    let mut scores = vec![
        vec![
            Score {
                logprob: 0.0,
                is_greedy: true
            };
            requests.len()
        ];
        plans.len()
    ];
    let _guard = tch::no_grad_guard();
    let (mut at, mut done) = (0, 0);
    while at < rows.len() {
        let chunk = &rows[at..(at + options.batch_size.max(1)).min(rows.len())];
        let attempt = catch_out_of_memory(|| -> Result<()> {
            let batch = PackedBatch::new(chunk, model.device());
            let xs = stack.embed(&batch.ids, &batch.attention.positions); // (B, S, C)
            for (group, trie) in &tries {
                let run = |step: &Step, input: &Tensor| {
                    apply_step(stack, step, input, &batch.attention, None)
                };
                trie.walk(xs.shallow_clone(), run, |p, ys| {
                    batch.read(stack, ys, &mut scores[group[p]])
                })?;
            }
            Ok(())
        });
        match attempt {
            Some(result) => result?,
            None if chunk.len() > 1 => {
                options.batch_size = chunk.len() / 2;
                eprintln!(
                    "out of device memory at {} rows per batch; going on with {}",
                    chunk.len(),
                    options.batch_size
                );
                continue;
            }
            None => return Err(Error::OutOfMemory),
        }
        at += chunk.len();
        done += chunk.iter().map(|r| r.reads.len()).sum::<usize>();
        progress(done);
    }
    Ok(scores)
}

/// Runs `f`, returning `None` if libtorch ran out of device memory in it (tch turns the
/// C++ exception into a panic); any other panic goes on unwinding.
fn catch_out_of_memory<T>(f: impl FnOnce() -> T) -> Option<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    match result {
        Ok(value) => Some(value),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or(panic.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if message.contains("out of memory") {
                None
            } else {
                // The silenced hook printed nothing; say what failed before unwinding on.
                eprintln!("libtorch failed: {message}");
                std::panic::resume_unwind(panic)
            }
        }
    }
}

/// One model input row: a prefix, then (for a shared context) each continuation's
/// tokens as a branch that sees the prefix and itself.
struct Row {
    tokens: Vec<i64>,
    /// Position id of each token: the prefix counts from 0, each branch from the prefix end.
    positions: Vec<i64>,
    /// 0 for the prefix, k for the k-th branch.
    branch: Vec<i64>,
    /// Per request in the row: (request index, [(slot, target token)]).
    reads: Vec<(usize, Vec<(i64, i64)>)>,
}

impl Row {
    fn branched(&self) -> bool {
        self.branch.iter().any(|&b| b > 1)
    }
}

/// Rows for `requests`: one per distinct context when sharing (requests whose pair is
/// longer than the model reads stay alone, truncated as lm-eval truncates), else one
/// per request. A request's input must fit the stack's length limit.
fn pack(
    stack: &dyn LayerStack,
    requests: &[ScoreRequest],
    max_len: usize,
    share: bool,
) -> Result<Vec<Row>> {
    let mut rows: Vec<Row> = Vec::new();
    let mut by_context: HashMap<&[i64], usize> = HashMap::new();
    for (index, r) in requests.iter().enumerate() {
        let (ctx, cont) = (&r.context, &r.continuation);
        if cont.is_empty() || cont.len() > max_len {
            return Err(Error::Request {
                index,
                message: format!(
                    "continuation has {} tokens, expected 1..={max_len}",
                    cont.len()
                ),
            });
        }
        if ctx.is_empty() {
            return Err(Error::Request {
                index,
                message: "empty context (lm-eval puts the prefix token there)".into(),
            });
        }
        let whole = ctx.len() + cont.len();
        check_length(stack, (whole - 1).min(max_len), || {
            format!("scoring request {index}'s input")
        })?;
        if whole > max_len + 1 {
            // lm-eval's input: the pair's last max_len + 1 tokens, without the last.
            let input: Vec<i64> = ctx
                .iter()
                .chain(cont)
                .copied()
                .skip(whole.saturating_sub(max_len + 1))
                .take(max_len)
                .collect();
            let first = input.len() as i64 - cont.len() as i64;
            let reads = cont
                .iter()
                .enumerate()
                .map(|(k, &t)| (first + k as i64, t))
                .collect();
            rows.push(Row {
                positions: (0..input.len() as i64).collect(),
                branch: vec![0; input.len()],
                tokens: input,
                reads: vec![(index, reads)],
            });
            continue;
        }
        let row = match by_context.get(ctx.as_slice()) {
            // A row holds at most max_len tokens; a context with more choices opens another.
            Some(&row) if share && rows[row].tokens.len() + cont.len() - 1 <= max_len => row,
            _ => {
                by_context.insert(ctx, rows.len());
                let n = ctx.len() as i64;
                rows.push(Row {
                    tokens: ctx.clone(),
                    positions: (0..n).collect(),
                    branch: vec![0; ctx.len()],
                    reads: Vec::new(),
                });
                rows.len() - 1
            }
        };
        let row = &mut rows[row];
        let (start, k) = (row.tokens.len() as i64, row.reads.len() as i64 + 1);
        let ctx_end = ctx.len() as i64;
        // The first continuation token is read at the context's last slot, the rest at
        // the branch's own slots.
        let mut reads = vec![(ctx_end - 1, cont[0])];
        reads.extend(
            cont[1..]
                .iter()
                .enumerate()
                .map(|(j, &t)| (start + j as i64, t)),
        );
        row.tokens.extend_from_slice(&cont[..cont.len() - 1]);
        row.positions
            .extend((0..cont.len() as i64 - 1).map(|j| ctx_end + j));
        row.branch.extend(std::iter::repeat_n(k, cont.len() - 1));
        row.reads.push((index, reads));
    }
    Ok(rows)
}

/// Rows padded on the right into one batch, with the attention they need: the fused
/// causal kernel when no row branches, else an explicit tree mask.
struct PackedBatch<'a> {
    rows: &'a [Row],
    ids: Tensor,
    attention: Attention,
    /// Flat (row, slot) index of every read, and its target token.
    read_rows: Tensor,
    read_slots: Tensor,
    targets: Tensor,
}

impl<'a> PackedBatch<'a> {
    fn new(rows: &'a [Row], device: Device) -> Self {
        let (b, s) = (
            rows.len() as i64,
            rows.iter().map(|r| r.tokens.len()).max().unwrap_or(0) as i64,
        );
        let pad = |f: &dyn Fn(&Row) -> &[i64], fill: i64| -> Tensor {
            let flat: Vec<i64> = rows
                .iter()
                .flat_map(|r| {
                    f(r).iter()
                        .copied()
                        .chain(std::iter::repeat_n(fill, s as usize - r.tokens.len()))
                })
                .collect();
            Tensor::from_slice(&flat).view([b, s]).to_device(device)
        };
        let ids = pad(&|r| &r.tokens, 0);
        let attention = if rows.iter().any(Row::branched) {
            let positions = pad(&|r| &r.positions, 0);
            // Branch -1 marks padding: no query attends to it (but itself).
            let branch = pad(&|r| &r.branch, -1); // (B, S)
            let (query, key) = (branch.view([b, s, 1]), branch.view([b, 1, s]));
            let slot = Tensor::arange(s, (Kind::Int64, device));
            let causal = slot.view([1, 1, s]).le_tensor(&slot.view([1, s, 1]));
            let same_branch = key
                .eq(0)
                .logical_and(&query.ge(0))
                .logical_or(&key.eq_tensor(&query));
            let itself = slot.view([1, 1, s]).eq_tensor(&slot.view([1, s, 1]));
            let mask = causal
                .logical_and(&same_branch)
                .logical_or(&itself)
                .unsqueeze(1); // (B, 1, S, S)
            Attention {
                positions,
                mask: Some(mask),
                rotary: OnceCell::new(),
            }
        } else {
            Attention::causal(b, s, device)
        };
        let (mut read_rows, mut read_slots, mut targets) = (Vec::new(), Vec::new(), Vec::new());
        for (b, row) in rows.iter().enumerate() {
            for (slot, target) in row.reads.iter().flat_map(|(_, r)| r) {
                read_rows.push(b as i64);
                read_slots.push(*slot);
                targets.push(*target);
            }
        }
        let on = |v: &[i64]| Tensor::from_slice(v).to_device(device);
        Self {
            rows,
            ids,
            attention,
            read_rows: on(&read_rows),
            read_slots: on(&read_slots),
            targets: on(&targets),
        }
    }

    /// Reads this batch's requests off the final residual stream `xs` (B, S, C) into
    /// `scores` (indexed by request).
    fn read(&self, stack: &dyn LayerStack, xs: &Tensor, scores: &mut [Score]) -> Result<()> {
        let picked = xs.index(&[Some(&self.read_rows), Some(&self.read_slots)]); // (N, C)
        let logp = stack
            .head(&picked.unsqueeze(0))
            .squeeze_dim(0)
            .log_softmax(-1, Kind::Float); // (N, V)
        let token_logp = Vec::<f64>::try_from(
            logp.gather(-1, &self.targets.unsqueeze(-1), false)
                .view([-1])
                .to_kind(Kind::Double)
                .to_device(Device::Cpu),
        )?;
        let greedy = Vec::<bool>::try_from(
            logp.argmax(-1, false)
                .eq_tensor(&self.targets)
                .to_device(Device::Cpu),
        )?;
        let mut at = 0;
        for (request, reads) in self.rows.iter().flat_map(|r| &r.reads) {
            let n = reads.len();
            if let Some(bad) = token_logp[at..at + n].iter().find(|lp| !lp.is_finite()) {
                return Err(Error::Request {
                    index: *request,
                    message: format!(
                        "log-probability {bad} (the model produced non-finite logits)"
                    ),
                });
            }
            scores[*request] = Score {
                logprob: token_logp[at..at + n].iter().sum(),
                is_greedy: greedy[at..at + n].iter().all(|&g| g),
            };
            at += n;
        }
        Ok(())
    }
}
