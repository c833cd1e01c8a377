//! `painters similarity` (paper Figs 3 and 15): mean cosine similarity between the
//! residual streams of every pair of executed steps of a plan (index 0 = embeddings, k =
//! after step k; the baseline's steps are its layers), over the first N LAMBADA passages,
//! run one at a time so no padding enters. Two measures: `flat`, the paper's cosine of
//! whole flattened (tokens x channels) hidden states, and `token`, the mean per-token
//! cosine. Also each hidden state's variance (population variance of its tokens x
//! channels entries, mean over passages). Writes DIR/similarity.csv (i, j, cosine, mode,
//! plan) and DIR/variance.csv (plan, i, variance), replacing only the rows of this plan,
//! so a directory holds several plans side by side (skip vs middle repeat, Fig 15).

use std::path::Path;

use anyhow::Result;
use layer_graph::exec::{Batch, run_plan};
use layer_plan::Plan;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::cli::SimilarityCmd;
use crate::outln;

/// One row of similarity.csv: the cosine between hidden states `i` and `j`.
#[derive(Serialize, Deserialize)]
pub struct Entry {
    pub i: usize,
    pub j: usize,
    /// Rounded to 6 decimals.
    pub cosine: f64,
    /// `flat` or `token`; absent in files from before the token measure.
    #[serde(default)]
    pub mode: Option<String>,
    /// The plan the hidden states are those of; absent (the baseline) in files from
    /// before the column.
    #[serde(default)]
    pub plan: Option<String>,
}

/// Euclidean norm over the last dimension, kept.
fn l2(xs: &Tensor) -> Tensor {
    xs.square().sum_dim_intlist(-1, true, Kind::Double).sqrt()
}

/// One row of variance.csv: the variance of hidden state `i`'s entries under `plan`.
#[derive(Serialize, Deserialize)]
pub struct Variance {
    pub plan: String,
    pub i: usize,
    pub variance: f64,
}

pub fn run(cmd: SimilarityCmd) -> Result<()> {
    let model = super::load_model(&cmd.model)?;
    let texts = eval_suite::lambada_passages(&super::data_dir(&cmd.data), cmd.limit)?;
    let layers = model.stack().num_layers();
    let plan = super::resolve_plan(&cmd.plan, layers)?;
    let plan_text = plan.to_string();
    let n = plan.steps().len() + 1;
    let zeros = |shape: &[i64]| Tensor::zeros(shape, (Kind::Double, tch::Device::Cpu));
    let (mut flat, mut token, mut variance) = (
        zeros(&[n as i64, n as i64]),
        zeros(&[n as i64, n as i64]),
        zeros(&[n as i64]),
    );
    for text in &texts {
        let ids = model.tokenizer().encode(text)?;
        let batch = Batch::right_padded(std::slice::from_ref(&ids), model.device());
        let hidden = run_plan(&model, &batch, &plan, true)?.hidden;
        let h = Tensor::stack(&hidden, 0)
            .squeeze_dim(1)
            .to_kind(Kind::Double)
            .to_device(tch::Device::Cpu); // (S+1, T, C)
        let per_token = l2(&h); // (S+1, T, 1)
        let unit = &h / per_token.clamp_min(1e-12);
        // token: mean over t of <u_i[t], u_j[t]>
        token += unit
            .permute([1, 0, 2])
            .matmul(&unit.permute([1, 2, 0]))
            .mean_dim(0, false, None); // (S+1, S+1)
        let v = h.flatten(1, 2); // (S+1, T*C)
        variance += v.var_dim(1, false, false); // population variance of each state's entries
        let v = &v / l2(&v).clamp_min(1e-12);
        flat += v.matmul(&v.tr());
    }
    let count = texts.len().max(1) as f64;
    let mut entries = Vec::new();
    for (mode, m) in [("flat", &flat), ("token", &token)] {
        let m = m / count;
        for i in 0..n {
            for j in 0..n {
                let cosine = m.double_value(&[i as i64, j as i64]);
                entries.push(Entry {
                    i,
                    j,
                    cosine: (cosine * 1e6).round() / 1e6,
                    mode: Some(mode.to_string()),
                    plan: Some(plan_text.clone()),
                });
            }
        }
    }
    let variances = (0..n).map(|i| Variance {
        plan: plan_text.clone(),
        i,
        variance: variance.double_value(&[i as i64]) / count,
    });
    // Other plans' rows stay: one directory holds the maps of several plans (Fig 15).
    let baseline = Plan::baseline(layers)?.to_string();
    let plan_of = |p: &Option<String>| p.clone().unwrap_or_else(|| baseline.clone());
    let similarity = cmd.out.join("similarity.csv");
    replace_rows(&similarity, entries, |e: &Entry| {
        plan_of(&e.plan) == plan_text
    })?;
    replace_rows(
        &cmd.out.join("variance.csv"),
        variances.collect(),
        |v: &Variance| v.plan == plan_text,
    )?;
    outln!(
        "{}: {n}x{n} cosine similarities under {plan_text} over {} passages; variance.csv: each state's variance",
        similarity.display(),
        texts.len()
    )?;
    Ok(())
}

/// Writes `rows` to the CSV file `path` in place of the rows already there that `mine`
/// picks (those of the same plan); the others are kept, first.
fn replace_rows<T: Serialize + serde::de::DeserializeOwned>(
    path: &Path,
    rows: Vec<T>,
    mine: impl Fn(&T) -> bool,
) -> Result<()> {
    let kept: Vec<T> = match path.exists() {
        true => crate::table::read(path)?
            .into_iter()
            .filter(|r| !mine(r))
            .collect(),
        false => Vec::new(),
    };
    let mut csv = csv::Writer::from_writer(Vec::new());
    for row in kept.iter().chain(&rows) {
        csv.serialize(row)?;
    }
    crate::atomic::write(path, &csv.into_inner()?)
}
