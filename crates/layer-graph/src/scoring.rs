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
//! A batch that runs out of device memory ([`Error::OutOfMemory`], which libtorch's
//! fallible operations return) is retried with half its rows.
//!
//! B batch, S token slots, C hidden, V vocab, N scored positions.

use std::cell::RefCell;
use std::collections::HashMap;

use layer_plan::{Plan, PlanTrie, Step};
use tch::{Device, Kind, TchError, Tensor};

use crate::error::{Error, Result};
use crate::exec::{apply_step, check_length, check_plan, embed, head};
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
        match score_batch(stack, chunk, &tries, &mut scores, model.device()) {
            Ok(()) => {}
            Err(Error::OutOfMemory { .. }) if chunk.len() > 1 => {
                options.batch_size = chunk.len() / 2;
                eprintln!(
                    "out of device memory at {} rows per batch; going on with {}",
                    chunk.len(),
                    options.batch_size
                );
                continue;
            }
            Err(Error::OutOfMemory { during, message }) => {
                return Err(Error::OutOfMemory {
                    during: format!("{during}, even at one row per batch"),
                    message,
                });
            }
            Err(e) => return Err(e),
        }
        at += chunk.len();
        done += chunk.iter().map(|r| r.reads.len()).sum::<usize>();
        progress(done);
    }
    Ok(scores)
}

/// Scores one batch of rows under every trie's plans into `scores[plan][request]`.
fn score_batch(
    stack: &dyn LayerStack,
    rows: &[Row],
    tries: &[(Vec<usize>, PlanTrie)],
    scores: &mut [Vec<Score>],
    device: Device,
) -> Result<()> {
    let batch =
        PackedBatch::new(rows, device).map_err(|e| Error::torch("the batch's inputs", e))?;
    let xs = embed(stack, &batch.ids, &batch.attention.positions)?; // (B, S, C)
    for (group, trie) in tries {
        // `walk` takes infallible steps: a failed step yields no stream and leaves its
        // error here, and no step runs after it.
        let failure = RefCell::new(None);
        let run = |step: &Step, input: &Option<Tensor>| {
            let input = input.as_ref().filter(|_| failure.borrow().is_none())?;
            match apply_step(stack, step, input, &batch.attention, None) {
                Ok(output) => Some(output),
                Err(e) => {
                    failure.replace(Some(e));
                    None
                }
            }
        };
        trie.walk(Some(xs.shallow_clone()), run, |p, ys| match ys {
            Some(ys) => batch.read(stack, ys, &mut scores[group[p]]),
            None => Ok(()),
        })?;
        if let Some(e) = failure.into_inner() {
            return Err(e);
        }
    }
    Ok(())
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
    fn new(rows: &'a [Row], device: Device) -> Result<Self, TchError> {
        let (b, s) = (
            rows.len() as i64,
            rows.iter().map(|r| r.tokens.len()).max().unwrap_or(0) as i64,
        );
        let pad = |f: &dyn Fn(&Row) -> &[i64], fill: i64| -> Result<Tensor, TchError> {
            let flat: Vec<i64> = rows
                .iter()
                .flat_map(|r| {
                    f(r).iter()
                        .copied()
                        .chain(std::iter::repeat_n(fill, s as usize - r.tokens.len()))
                })
                .collect();
            Tensor::f_from_slice(&flat)?
                .f_view([b, s])?
                .f_to_device(device)
        };
        let ids = pad(&|r| &r.tokens, 0)?;
        let attention = if rows.iter().any(Row::branched) {
            let positions = pad(&|r| &r.positions, 0)?;
            // Branch -1 marks padding: no query attends to it (but itself).
            let branch = pad(&|r| &r.branch, -1)?; // (B, S)
            let (query, key) = (branch.f_view([b, s, 1])?, branch.f_view([b, 1, s])?);
            let slot = Tensor::f_arange(s, (Kind::Int64, device))?;
            let (key_slot, query_slot) = (slot.f_view([1, 1, s])?, slot.f_view([1, s, 1])?);
            let causal = key_slot.f_le_tensor(&query_slot)?;
            let same_branch = key
                .f_eq(0)?
                .f_logical_and(&query.f_ge(0)?)?
                .f_logical_or(&key.f_eq_tensor(&query)?)?;
            let itself = key_slot.f_eq_tensor(&query_slot)?;
            let mask = causal
                .f_logical_and(&same_branch)?
                .f_logical_or(&itself)?
                .f_unsqueeze(1)?; // (B, 1, S, S)
            Attention::with_mask(positions.shallow_clone(), positions, mask)?
        } else {
            let lengths: Vec<i64> = rows.iter().map(|r| r.tokens.len() as i64).collect();
            Attention::causal(&lengths, s, device)?
        };
        let (mut read_rows, mut read_slots, mut targets) = (Vec::new(), Vec::new(), Vec::new());
        for (b, row) in rows.iter().enumerate() {
            for (slot, target) in row.reads.iter().flat_map(|(_, r)| r) {
                read_rows.push(b as i64);
                read_slots.push(*slot);
                targets.push(*target);
            }
        }
        let on = |v: &[i64]| Tensor::f_from_slice(v)?.f_to_device(device);
        Ok(Self {
            rows,
            ids,
            attention,
            read_rows: on(&read_rows)?,
            read_slots: on(&read_slots)?,
            targets: on(&targets)?,
        })
    }

    /// Reads this batch's requests off the final residual stream `xs` (B, S, C) into
    /// `scores` (indexed by request).
    fn read(&self, stack: &dyn LayerStack, xs: &Tensor, scores: &mut [Score]) -> Result<()> {
        let picked = self
            .picked(xs)
            .map_err(|e| Error::torch("picking the scored positions", e))?;
        let logits = head(stack, &picked)?;
        let (token_logp, greedy) = self
            .token_logprobs(&logits)
            .map_err(|e| Error::torch("the log-softmax over the vocabulary", e))?;
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

    /// The residual stream (B, S, C) at the scored positions: (1, N, C).
    fn picked(&self, xs: &Tensor) -> Result<Tensor, TchError> {
        xs.f_index(&[Some(&self.read_rows), Some(&self.read_slots)])? // (N, C)
            .f_unsqueeze(0)
    }

    /// From the head's logits (1, N, V): log p(target) at each scored position, and whether
    /// the target is the most likely token there.
    fn token_logprobs(&self, logits: &Tensor) -> Result<(Vec<f64>, Vec<bool>), TchError> {
        let logp = logits.f_squeeze_dim(0)?.f_log_softmax(-1, Kind::Float)?; // (N, V)
        let token_logp = logp
            .f_gather(-1, &self.targets.f_unsqueeze(-1)?, false)?
            .f_view([-1])?
            .f_to_kind(Kind::Double)?
            .f_to_device(Device::Cpu)?;
        let greedy = logp
            .f_argmax(-1, false)?
            .f_eq_tensor(&self.targets)?
            .f_to_device(Device::Cpu)?;
        Ok((
            Vec::<f64>::try_from(token_logp)?,
            Vec::<bool>::try_from(greedy)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::model::LoadOptions;
    use crate::stack::{KvSlot, LengthLimit};

    /// A stack whose layers run out of memory on batches of more than `max_rows` rows:
    /// they first ask libtorch's CPU allocator for an exabyte, which it refuses at once.
    struct Tight {
        inner: Box<dyn LayerStack>,
        max_rows: i64,
        /// The rows of every batch embedded, i.e. of every attempt.
        batches: Arc<Mutex<Vec<i64>>>,
    }

    impl LayerStack for Tight {
        fn num_layers(&self) -> usize {
            self.inner.num_layers()
        }
        fn vocab_size(&self) -> i64 {
            self.inner.vocab_size()
        }
        fn is_causal(&self) -> bool {
            self.inner.is_causal()
        }
        fn length_limit(&self) -> Option<&LengthLimit> {
            self.inner.length_limit()
        }
        fn attention_window(&self, layer: usize) -> Option<i64> {
            self.inner.attention_window(layer)
        }
        fn embed(&self, ids: &Tensor, positions: &Tensor) -> Result<Tensor, TchError> {
            self.batches.lock().unwrap().push(ids.size()[0]);
            self.inner.embed(ids, positions)
        }
        fn layer(
            &self,
            layer: usize,
            part: layer_plan::Part,
            xs: &Tensor,
            attn: &Attention,
            kv: Option<&mut KvSlot>,
        ) -> Result<Tensor, TchError> {
            if xs.size()[0] > self.max_rows {
                let _exabyte = Tensor::f_empty([1 << 60], (Kind::Int8, Device::Cpu))?;
            }
            self.inner.layer(layer, part, xs, attn, kv)
        }
        fn head(&self, xs: &Tensor) -> Result<Tensor, TchError> {
            self.inner.head(xs)
        }
    }

    /// The tiny Llama fixture under a [`Tight`] stack, and the batches it is asked to run.
    fn tight(max_rows: i64) -> (Model, Arc<Mutex<Vec<i64>>>) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny/llama");
        let model = Model::load(&dir, LoadOptions::default())
            .unwrap_or_else(|e| panic!("{e} (`make test` writes the fixtures)"));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let model = model.wrap_stack(|inner| {
            Box::new(Tight {
                inner,
                max_rows,
                batches: batches.clone(),
            })
        });
        (model, batches)
    }

    /// Ten contexts of different lengths with two continuations each: ten rows, branched.
    fn requests() -> Vec<ScoreRequest> {
        (1..=10)
            .flat_map(|n| {
                let context: Vec<i64> = (1..=2 * n).collect();
                [vec![7, 8], vec![9]].map(|continuation| ScoreRequest {
                    context: context.clone(),
                    continuation,
                })
            })
            .collect()
    }

    fn plans() -> Vec<Plan> {
        vec![
            Plan::baseline(3).unwrap(),
            Plan::parse("0 [1|2]", 3).unwrap(),
        ]
    }

    #[test]
    fn out_of_memory_halves_the_batch_and_scores_as_that_batch_size_does() {
        let (model, batches) = tight(2);
        let mut options = ScoreOptions::new(8);
        let backed_off = score_plans(&model, &plans(), &requests(), &mut options, &mut |_| {});
        let backed_off = backed_off.unwrap();
        assert_eq!(options.batch_size, 2);
        assert_eq!(*batches.lock().unwrap(), [8, 4, 2, 2, 2, 2, 2]);

        let (roomy, _) = tight(i64::MAX);
        let mut options = ScoreOptions::new(2);
        let unconstrained = score_plans(&roomy, &plans(), &requests(), &mut options, &mut |_| {});
        assert_eq!(backed_off, unconstrained.unwrap());
    }

    #[test]
    fn out_of_memory_at_one_row_is_an_error_naming_the_layer() {
        let (model, batches) = tight(0);
        let e = score(
            &model,
            &plans()[0],
            &requests(),
            &mut ScoreOptions::new(4),
            &mut |_| {},
        )
        .unwrap_err();
        let text = e.to_string();
        println!("{text}");
        assert!(matches!(e, Error::OutOfMemory { .. }), "{text}");
        assert!(
            text.starts_with("out of device memory in layer 0, even at one row per batch: "),
            "{text}"
        );
        assert_eq!(*batches.lock().unwrap(), [4, 2, 1]);
    }
}
