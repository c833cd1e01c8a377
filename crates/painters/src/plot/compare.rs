//! `painters plot --compare DIR...`: several results directories (models, dtypes, a model
//! and its pruned export) side by side. Every figure a directory supports alone becomes a
//! row of panels, one per directory that has it, each titled with the directory's label
//! (the paper's Figs 2, 3 and 11 across models), on one value axis (y, or colour scale)
//! per row; and the paper's Fig 12: each variant's
//! median normalised score against the *share* of the model's layers it affects, one line
//! per directory, so models of different depth compare on one chart.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::Results;
use super::series::{self, Point};
use super::{DrawResult, Figure, PlotError, lines, style};

/// The same figure of several directories in one row of panels.
struct Row<F> {
    stem: String,
    panels: Vec<F>,
}

impl<F: Figure> Figure for Row<F> {
    fn stem(&self) -> String {
        self.stem.clone()
    }

    fn size(&self) -> (u32, u32) {
        let (w, h) = style::SIZE;
        (w * self.panels.len() as u32, h)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let areas = root.split_evenly((1, self.panels.len()));
        for (area, panel) in areas.iter().zip(&self.panels) {
            panel.draw(area)?;
        }
        Ok(())
    }
}

/// One row per figure stem, panels in directory order (directories without the figure
/// have no panel), their value axes (y, or colour scale) shared.
fn rows<F: Figure>(per_dir: Vec<Vec<F>>) -> Vec<Row<F>> {
    let mut rows: Vec<Row<F>> = Vec::new();
    for figure in per_dir.into_iter().flatten() {
        let stem = figure.stem();
        match rows.iter_mut().find(|r| r.stem == stem) {
            Some(row) => row.panels.push(figure),
            None => rows.push(Row {
                stem,
                panels: vec![figure],
            }),
        }
    }
    for row in &mut rows {
        let ranges = row.panels.iter().filter_map(Figure::value_range);
        let shared = ranges.reduce(|(a, b), (c, d)| (a.min(c), b.max(d)));
        if let Some(shared) = shared {
            row.panels
                .iter_mut()
                .for_each(|p| p.share_value_range(shared));
        }
    }
    rows
}

/// Fig 12: one variant's median against the share of layers affected, one line per
/// directory.
struct Share {
    kind: &'static str,
    times: Option<usize>,
    lines: Vec<(String, RGBColor, Vec<Point>)>,
}

impl Figure for Share {
    fn stem(&self) -> String {
        match self.times {
            Some(k) => format!("share-{}-k{k}", self.kind),
            None => format!("share-{}", self.kind),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let title = format!(
            "{}: median normalised score by share of layers",
            style::kind_label(self.kind, self.times)
        );
        lines::medians(
            root,
            (&title, None),
            "layers affected (% of the model's layers)",
            (&self.lines, None),
            &[],
        )
    }
}

/// Each directory's figures of one family.
fn per_dir<'a, F, I: IntoIterator<Item = F>>(
    all: &'a [(Results, usize)],
    figures: impl Fn(&'a Results) -> I,
) -> Vec<Vec<F>> {
    all.iter()
        .map(|(r, _)| figures(r).into_iter().collect())
        .collect()
}

fn save_rows<F: Figure>(
    rows: Vec<Row<F>>,
    out: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), PlotError> {
    for row in rows {
        written.extend(super::save(&row, out)?);
    }
    Ok(())
}

/// The number of layers of a results directory's model, from its resolved.toml.
fn model_layers(dir: &Path, results: &Results) -> Result<usize, PlotError> {
    results.layers.ok_or_else(|| {
        crate::table::TableError {
            file: dir.join("resolved.toml"),
            at: String::new(),
            message: "no `layers`: the model's depth is unknown (painters run writes it)".into(),
        }
        .into()
    })
}

/// Writes the comparison figures of `dirs` (labelled `labels`) to `out` as `.png` and
/// `.svg`; returns the paths written.
pub fn plot_compare(
    dirs: &[PathBuf],
    labels: &[String],
    out: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    style::register_font()?;
    let mut all = Vec::with_capacity(dirs.len());
    for (dir, label) in dirs.iter().zip(labels) {
        let mut results = Results::load(dir)?;
        let layers = model_layers(dir, &results)?;
        results.model = Some(label.clone());
        all.push((results, layers));
    }
    let mut written = Vec::new();
    let w = &mut written;
    save_rows(rows(per_dir(&all, super::variant::figures)), out, w)?;
    save_rows(rows(per_dir(&all, super::overview::figure)), out, w)?;
    save_rows(rows(per_dir(&all, super::labelled::figure)), out, w)?;
    save_rows(rows(per_dir(&all, super::heatmap::figure)), out, w)?;
    save_rows(rows(per_dir(&all, super::single_layer::figures)), out, w)?;
    save_rows(rows(per_dir(&all, super::similarity::figures)), out, w)?;
    save_rows(rows(per_dir(&all, super::variance::figure)), out, w)?;
    let kinds = series::variants(
        all.iter()
            .flat_map(|(r, _)| r.medians.iter().map(|m| (m.kind.as_str(), m.times))),
    );
    for (kind, times) in kinds {
        let lines = share_lines(&all, labels, kind, times);
        if !lines.is_empty() {
            written.extend(super::save(&Share { kind, times, lines }, out)?);
        }
    }
    Ok(written)
}

/// Each directory's median line of one variant with M as a percentage of its depth
/// (directories without the variant have none).
fn share_lines(
    all: &[(Results, usize)],
    labels: &[String],
    kind: &str,
    times: Option<usize>,
) -> Vec<(String, RGBColor, Vec<Point>)> {
    all.iter()
        .enumerate()
        .map(|(i, (results, layers))| {
            let mut points = series::median(&results.medians, kind, times);
            for p in &mut points {
                p.x *= 100.0 / *layers as f64;
            }
            (labels[i].clone(), style::series_colour(i), points)
        })
        .filter(|(_, _, points)| points.len() > 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A results directory of a `layers`-deep model with skip medians at `ms`.
    fn results(dir: &Path, layers: usize, ms: &[usize]) -> Results {
        let summary = format!(
            "variant,kind,start_layer,affected_layers,seed,times,layer,plan,plan_hash,task,store_key,metric,filter,value,stderr,n,chance,full,normalised,normalised_stderr,informative\n\
             baseline,baseline,,0,,,,0..{layers},h,arc_easy,k,acc_norm,none,0.5,,10,0.25,0.5,1.0,0.0,true\n"
        );
        let mut medians = "variant,kind,start_layer,affected_layers,seed,times,layer,median_normalised,benchmarks\nbaseline,baseline,,0,,,,1.0,1\n".to_string();
        for m in ms {
            medians += &format!("skip {m},skip,1,{m},,,,0.5,1\n");
        }
        std::fs::write(dir.join("summary.csv"), summary).unwrap();
        std::fs::write(dir.join("medians.csv"), medians).unwrap();
        std::fs::write(dir.join("resolved.toml"), format!("layers = {layers}\n")).unwrap();
        Results::load(dir).unwrap()
    }

    /// A figure whose value axis needs `range`.
    struct Fake {
        stem: &'static str,
        range: (f64, f64),
        shared: Option<(f64, f64)>,
    }

    impl Figure for Fake {
        fn stem(&self) -> String {
            self.stem.into()
        }
        fn value_range(&self) -> Option<(f64, f64)> {
            Some(self.range)
        }
        fn share_value_range(&mut self, range: (f64, f64)) {
            self.shared = Some(range);
        }
        fn draw<DB: DrawingBackend>(&self, _: &DrawingArea<DB, Shift>) -> DrawResult {
            Ok(())
        }
    }

    #[test]
    fn a_row_shares_one_value_axis() {
        let fake = |stem, range| Fake {
            stem,
            range,
            shared: None,
        };
        let rows = rows(vec![
            vec![fake("a", (-0.2, 1.0)), fake("b", (0.0, 1.0))],
            vec![fake("a", (0.0, 1.3))],
        ]);
        let shared: Vec<_> = rows
            .iter()
            .map(|r| (r.stem.clone(), r.panels.iter().map(|p| p.shared).collect()))
            .collect();
        assert_eq!(
            shared,
            [
                ("a".into(), vec![Some((-0.2, 1.3)); 2]),
                ("b".into(), vec![Some((0.0, 1.0))])
            ]
        );
    }

    #[test]
    fn models_of_different_depth_share_an_axis_of_percent() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (ra, rb) = (results(a.path(), 10, &[2, 5]), results(b.path(), 40, &[8]));
        let depths = (
            model_layers(a.path(), &ra).unwrap(),
            model_layers(b.path(), &rb).unwrap(),
        );
        assert_eq!(depths, (10, 40));
        let all = [(ra, depths.0), (rb, depths.1)];
        let labels = ["ten".to_string(), "forty".to_string()];
        let lines = share_lines(&all, &labels, "skip", None);
        let xs: Vec<(String, Vec<f64>)> = lines
            .iter()
            .map(|(label, _, points)| (label.clone(), points.iter().map(|p| p.x).collect()))
            .collect();
        assert_eq!(
            xs,
            [
                ("ten".into(), vec![0.0, 20.0, 50.0]),
                ("forty".into(), vec![0.0, 20.0])
            ]
        );
        assert!(share_lines(&all, &labels, "reverse", None).is_empty());
    }
}
