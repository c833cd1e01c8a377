//! `painters similarity` (paper Fig. 3): mean cosine similarity between the residual
//! streams of every pair of layers (index 0 = embeddings, k = after layer k-1), over the
//! first N LAMBADA passages, run one at a time so no padding enters. Two measures:
//! `flat`, the paper's cosine of whole flattened (tokens x channels) hidden states, and
//! `token`, the mean per-token cosine. Writes DIR/similarity.csv (i, j, cosine, mode).

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
}

/// Euclidean norm over the last dimension, kept.
fn l2(xs: &Tensor) -> Tensor {
    xs.square().sum_dim_intlist(-1, true, Kind::Double).sqrt()
}

pub fn run(cmd: SimilarityCmd) -> Result<()> {
    let model = super::load_model(&cmd.model)?;
    let texts = eval_suite::lambada_passages(&super::data_dir(&cmd.data), cmd.limit)?;
    let layers = model.stack().num_layers();
    let plan = Plan::baseline(layers)?;
    let n = layers + 1;
    let (mut flat, mut token) = (
        Tensor::zeros([n as i64, n as i64], (Kind::Double, tch::Device::Cpu)),
        Tensor::zeros([n as i64, n as i64], (Kind::Double, tch::Device::Cpu)),
    );
    for text in &texts {
        let ids = model.tokenizer().encode(text)?;
        let batch = Batch::right_padded(std::slice::from_ref(&ids), model.device());
        let hidden = run_plan(&model, &batch, &plan, true)?.hidden;
        let h = Tensor::stack(&hidden, 0)
            .squeeze_dim(1)
            .to_kind(Kind::Double)
            .to_device(tch::Device::Cpu); // (L+1, T, C)
        let per_token = l2(&h); // (L+1, T, 1)
        let unit = &h / per_token.clamp_min(1e-12);
        // token: mean over t of <u_i[t], u_j[t]>
        token += unit
            .permute([1, 0, 2])
            .matmul(&unit.permute([1, 2, 0]))
            .mean_dim(0, false, None); // (L+1, L+1)
        let v = h.flatten(1, 2); // (L+1, T*C)
        let v = &v / l2(&v).clamp_min(1e-12);
        flat += v.matmul(&v.tr());
    }
    let count = texts.len().max(1) as f64;
    let mut csv = csv::Writer::from_writer(Vec::new());
    for (mode, m) in [("flat", &flat), ("token", &token)] {
        let m = m / count;
        for i in 0..n {
            for j in 0..n {
                let cosine = m.double_value(&[i as i64, j as i64]);
                csv.serialize(Entry {
                    i,
                    j,
                    cosine: (cosine * 1e6).round() / 1e6,
                    mode: Some(mode.to_string()),
                })?;
            }
        }
    }
    crate::atomic::write(&cmd.out.join("similarity.csv"), &csv.into_inner()?)?;
    outln!(
        "{}: {}x{} cosine similarities over {} passages",
        cmd.out.join("similarity.csv").display(),
        n,
        n,
        texts.len()
    )?;
    Ok(())
}
