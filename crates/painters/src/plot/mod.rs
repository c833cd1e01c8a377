//! The paper's figures from a results directory: reads `summary.csv` and `medians.csv`
//! (and, when present, `paired.csv`, `similarity.csv` and the model's name from
//! `resolved.toml`) and
//! writes every figure the data supports to `plots/` as a PNG and an SVG.
//!
//! | file stem | paper figure |
//! |---|---|
//! | `skip`, `reverse`, `shuffle`, `repeat-middle`, `parallel`, `looped-parallel-k3`, `double-repeat`, `triple-repeat` | 4-9, 17: one variant, every benchmark and the median |
//! | `all-variants` | 11: every variant's median |
//! | `labelled-plans` | explicit plans with a `label` that remove layers: median against layers removed, one line per label (pruning criteria) |
//! | `looped-parallel-heatmap` | 10: median over (M, K), best K boxed |
//! | `single-layer-<task>-<metric>[-<filter>]` | 2: skip one layer / switch two |
//! | `similarity[-<mode>]` | 3: cosine similarity of hidden states (under another plan: `similarity[-<mode>]-<plan id>`) |
//! | `hidden-variance` | 15: each hidden state's variance, one line per plan |
//! | `importance-steps`, `angular-distance` | `painters importance`: proxies beside the NLL drop; Gromov et al.'s Fig. 1 |
//!
//! It draws what the runner computed (normalised scores, medians, which benchmarks are
//! informative, each task's headline metric from [`crate::summary::headline`]) and
//! recomputes nothing but means over shuffle seeds. Text is rendered from the DejaVu Sans
//! file shipped in `assets/` ([`text`]), so no system font library is involved.

mod compare;
mod data;
mod heatmap;
mod importance;
mod labelled;
mod legend;
mod lines;
mod matrix;
mod overview;
mod series;
mod similarity;
mod single_layer;
mod style;
mod text;
mod variance;
mod variant;

pub use compare::plot_compare;

use std::error::Error;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

/// What a figure's drawing code returns: any backend's error, boxed.
type DrawResult = Result<(), Box<dyn Error + Send + Sync>>;

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error(transparent)]
    Input(#[from] crate::table::TableError),
    #[error("drawing {}: {message}", file.display())]
    Draw { file: PathBuf, message: String },
    #[error("the bundled font could not be loaded")]
    Font,
    #[error(transparent)]
    Write(#[from] anyhow::Error),
}

/// One figure, drawable on any plotters backend (it is drawn twice: PNG and SVG).
trait Figure {
    /// File name without extension, under `plots/`.
    fn stem(&self) -> String;
    /// The canvas in pixels (a row of compared panels is wider).
    fn size(&self) -> (u32, u32) {
        style::SIZE
    }
    /// The range the value axis (y, or a matrix's colour scale) needs for this figure's
    /// data, before padding, so that a row of panels can share one.
    fn value_range(&self) -> Option<(f64, f64)> {
        None
    }
    /// Draw the value axis over `range` (covering [`Figure::value_range`]) instead.
    fn share_value_range(&mut self, _range: (f64, f64)) {}
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Writes every figure the results in `dir` support to `dir/plots/` as `.png` and `.svg`
/// and returns the paths written, PNG before SVG for each figure.
pub fn plot_results(dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    style::register_font()?;
    let results = data::Results::load(dir)?;
    let out = dir.join("plots");
    let mut written = Vec::new();
    for fig in variant::figures(&results) {
        written.extend(save(&fig, &out)?);
    }
    if let Some(fig) = overview::figure(&results) {
        written.extend(save(&fig, &out)?);
    }
    if let Some(fig) = labelled::figure(&results) {
        written.extend(save(&fig, &out)?);
    }
    if let Some(fig) = heatmap::figure(&results) {
        written.extend(save(&fig, &out)?);
    }
    for fig in single_layer::figures(&results) {
        written.extend(save(&fig, &out)?);
    }
    for fig in similarity::figures(&results) {
        written.extend(save(&fig, &out)?);
    }
    if let Some(fig) = variance::figure(&results) {
        written.extend(save(&fig, &out)?);
    }
    Ok(written)
}

/// The figures of `painters importance` for `report`, into `dir/plots/`.
pub(crate) fn plot_importance(
    dir: &Path,
    report: &crate::cmd::importance::Report,
) -> Result<Vec<PathBuf>, PlotError> {
    style::register_font()?;
    let out = dir.join("plots");
    let mut written = Vec::new();
    written.extend(save(&importance::StepBars { report }, &out)?);
    written.extend(save(&importance::AngularMap { report }, &out)?);
    Ok(written)
}

/// Renders `fig` to PNG and SVG in memory, then writes both atomically.
fn save(fig: &impl Figure, out: &Path) -> Result<[PathBuf; 2], PlotError> {
    let (png, svg) = (
        out.join(format!("{}.png", fig.stem())),
        out.join(format!("{}.svg", fig.stem())),
    );
    let (w, h) = fig.size();
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    let mut text = String::new();
    let drawn: DrawResult = (|| {
        let root = text::Bitmap(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        fig.draw(&root)?;
        root.present()?;
        let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
        fig.draw(&root)?;
        root.present()?;
        Ok(())
    })();
    drawn.map_err(|e| PlotError::Draw {
        file: out.join(fig.stem()),
        message: e.to_string(),
    })?;
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb))
        .map_err(|e| PlotError::Draw {
            file: png.clone(),
            message: e.to_string(),
        })?;
    crate::atomic::write(&png, &bytes)?;
    crate::atomic::write(&svg, text.as_bytes())?;
    Ok([png, svg])
}
