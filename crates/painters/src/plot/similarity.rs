//! Mean cosine similarity between every pair of hidden states (paper Fig 3): index 0 is
//! the embeddings, index k the residual stream after k layers; one figure per mode.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::{Results, Similarity};
use super::matrix::{self, Matrix};
use super::style::{self, font};
use super::{DrawResult, Figure};

pub(super) struct SimilarityFigure<'a> {
    model: Option<&'a str>,
    matrix: &'a Similarity,
    /// The colour scale shared with other panels.
    shared: Option<(f64, f64)>,
}

pub(super) fn figures(results: &Results) -> Vec<SimilarityFigure<'_>> {
    let figure = |matrix| SimilarityFigure {
        model: results.model.as_deref(),
        matrix,
        shared: None,
    };
    results
        .similarity
        .iter()
        .filter(|m| m.size > 0)
        .map(figure)
        .collect()
}

impl SimilarityFigure<'_> {
    /// The colour scale: the smallest and largest cosine (a width of 1 around one value).
    fn scale(&self) -> (f64, f64) {
        let finite = self.matrix.cosine.iter().filter(|c| c.is_finite());
        let scale = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &c| {
            (lo.min(c), hi.max(c))
        });
        match scale {
            (lo, hi) if lo < hi => (lo, hi),
            (c, _) if c.is_finite() => (c - 0.5, c + 0.5),
            _ => (0.0, 1.0),
        }
    }
}

impl Figure for SimilarityFigure<'_> {
    fn value_range(&self) -> Option<(f64, f64)> {
        Some(self.scale())
    }

    fn share_value_range(&mut self, range: (f64, f64)) {
        self.shared = Some(range);
    }

    /// `similarity[-mode]` for the baseline, `similarity[-mode]-<plan id>` under another plan.
    fn stem(&self) -> String {
        let mut stem = match &self.matrix.mode {
            Some(mode) => format!("similarity-{}", style::slug(mode)),
            None => "similarity".into(),
        };
        if let Some(plan) = &self.matrix.plan {
            stem += &format!("-{}", plan_id(plan));
        }
        stem
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let mut title = "Cosine similarity between hidden states".to_string();
        if let Some(mode) = &self.matrix.mode {
            title = format!("{title} ({mode})");
        }
        if let Some(plan) = &self.matrix.plan {
            title = format!("{title} under {}", style::shorten(plan, 40));
        }
        if let Some(model) = self.model {
            title = format!("{title} — {model}");
        }
        let body = root
            .margin(12, 0, 0, 0)
            .titled(&title, font(style::TITLE))?;
        // A square plotting area: its side is the height left after margins and labels.
        let (w, h) = body.dim_in_pixel();
        let side = h.saturating_sub(110);
        let (chart_w, bar_w) = (side + 130, matrix::BAR_PANEL);
        let left = w.saturating_sub(chart_w + bar_w) / 2;
        let parts = body.split_by_breakpoints(
            [left, left + chart_w, left + chart_w + bar_w],
            [] as [u32; 0],
        );
        let indices: Vec<usize> = (0..self.matrix.size).collect();
        let values: Vec<_> = self
            .matrix
            .cosine
            .iter()
            .map(|&c| c.is_finite().then_some(c))
            .collect();
        let scale = self.shared.unwrap_or_else(|| self.scale());
        let m = Matrix {
            columns: &indices,
            rows: &indices,
            values: &values,
            labels: (
                "hidden state index j (0 = embeddings)",
                "hidden state index i (0 = embeddings)",
                "mean cosine similarity",
            ),
            scale,
        };
        matrix::draw(&parts[1], &parts[2], &m)?;
        Ok(())
    }
}

/// A short stable name for a plan in file names: the first 8 hex digits of its text's
/// SHA-256.
pub(super) fn plan_id(plan: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(plan.as_bytes())[..4])
}
