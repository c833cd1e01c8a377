//! `painters importance` figures: per-step bars of each proxy above the real NLL drop (and
//! benchmark drop, with `--task`) of removing that step (so the orders can be compared by
//! eye), and the angular-distance
//! map of block size n against start l (Gromov et al., Fig. 1 style).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::matrix::{self, Matrix};
use super::style::{self, INK, font};
use super::{DrawResult, Figure};
use crate::cmd::importance::Report;

/// One panel per measure, bars per step.
pub(super) struct StepBars<'a> {
    pub report: &'a Report,
}

/// d(l, n) as a heat map.
pub(super) struct AngularMap<'a> {
    pub report: &'a Report,
}

const BAR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const DROP: RGBColor = RGBColor(0xd6, 0x27, 0x28);

impl Figure for StepBars<'_> {
    fn stem(&self) -> String {
        "importance-steps".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let r = self.report;
        let mut panels: Vec<(String, &[f64], RGBColor)> = vec![
            ("Block Influence".into(), &r.block_influence, BAR),
            ("relative magnitude".into(), &r.relative_magnitude, BAR),
            (
                "angular distance d(l, 1)".into(),
                &r.angular_distance[&1],
                BAR,
            ),
        ];
        if let Some(nll) = &r.nll {
            panels.push(("NLL drop when removed (nats)".into(), &nll.drop, DROP));
        }
        if let Some(task) = &r.task {
            let label = format!("{} drop when removed", task.metric);
            panels.push((label, &task.drop, DROP));
        }
        let title = format!("Per-step importance — {} texts, plan {}", r.texts, r.plan);
        let body = root
            .margin(12, 12, 12, 24)
            .titled(&title, font(style::TITLE))?;
        let areas = body.split_evenly((panels.len(), 1));
        for (i, ((label, values, colour), area)) in panels.iter().zip(&areas).enumerate() {
            let last = i + 1 == panels.len();
            let lo = values.iter().copied().fold(0.0, f64::min);
            let hi = values.iter().copied().fold(0.0, f64::max);
            let pad = 0.08 * (hi - lo).max(1e-9);
            let mut chart = ChartBuilder::on(area)
                .margin(4)
                .x_label_area_size(if last { 44 } else { 8 })
                .y_label_area_size(80)
                .caption(label.as_str(), font(style::AXIS_DESC))
                .build_cartesian_2d(-0.5..values.len() as f64 - 0.5, lo - pad..hi + pad)?;
            let mut mesh = chart.configure_mesh();
            mesh.disable_x_mesh()
                .light_line_style(style::GRID)
                .label_style(font(style::TICKS))
                .y_labels(4)
                .y_label_formatter(&|v| style::number(*v));
            if last {
                mesh.x_desc("step (layer index for the full model)")
                    .axis_desc_style(font(style::AXIS_DESC))
                    .x_label_formatter(&|v| format!("{v:.0}"));
            } else {
                mesh.x_labels(0);
            }
            mesh.draw()?;
            chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
                let x = i as f64;
                Rectangle::new([(x - 0.4, 0.0), (x + 0.4, v)], colour.filled())
            }))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, 0.0), (values.len() as f64 - 0.5, 0.0)],
                INK,
            )))?;
        }
        Ok(())
    }
}

impl Figure for AngularMap<'_> {
    fn stem(&self) -> String {
        "angular-distance".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let r = self.report;
        let title = format!("Angular distance d(l, n) — {} texts", r.texts);
        let body = root
            .margin(12, 0, 0, 0)
            .titled(&title, font(style::TITLE))?;
        let (w, _) = body.dim_in_pixel();
        let parts = body.split_by_breakpoints([w - matrix::BAR_PANEL], [] as [u32; 0]);
        let starts: Vec<usize> = (0..r.layers).collect();
        let sizes: Vec<usize> = r.angular_distance.keys().copied().collect();
        let values: Vec<Option<f64>> = sizes
            .iter()
            .flat_map(|n| {
                let row = &r.angular_distance[n];
                starts.iter().map(move |&l| row.get(l).copied())
            })
            .collect();
        let finite = values.iter().flatten();
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &d| {
            (lo.min(d), hi.max(d))
        });
        let m = Matrix {
            columns: &starts,
            rows: &sizes,
            values: &values,
            labels: (
                "first step of the block l",
                "block size n",
                "d(l, n) = arccos(cos(h_l, h_l+n)) / pi",
            ),
            scale: if lo < hi {
                (lo, hi)
            } else {
                (lo - 0.5, lo + 0.5)
            },
        };
        matrix::draw(&parts[0], &parts[1], &m)?;
        Ok(())
    }
}
