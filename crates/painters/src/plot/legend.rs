//! A legend drawn in its own panel beside the chart: a line sample per entry, its label,
//! optional smaller grey note lines under it, and a closing caption.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::DrawResult;
use super::style::{self, font};

pub(super) struct Entry {
    pub label: String,
    pub notes: Vec<String>,
    pub colour: RGBColor,
    pub width: u32,
    pub dashed: bool,
}

impl Entry {
    pub fn new(label: impl Into<String>, colour: RGBColor, width: u32) -> Self {
        Self {
            label: label.into(),
            notes: Vec::new(),
            colour,
            width,
            dashed: false,
        }
    }
}

const SAMPLE: i32 = 42;
const ROW: i32 = 30;
const NOTE_ROW: i32 = 20;

/// Draws `entries` top-down from the panel's top-left, then `caption` in small type.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    caption: &[String],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (x, mut y) = (8, 30);
    let note = font(style::NOTE).color(&style::REFERENCE);
    for e in entries {
        let mid = y + 10;
        let line = e.colour.stroke_width(e.width);
        if e.dashed {
            for dash in [0, 17, 34] {
                area.draw(&PathElement::new(
                    [(x + dash, mid), (x + dash + 9, mid)],
                    line,
                ))?;
            }
        } else {
            area.draw(&PathElement::new([(x, mid), (x + SAMPLE, mid)], line))?;
        }
        area.draw(&Text::new(
            e.label.clone(),
            (x + SAMPLE + 10, y),
            font(style::LEGEND),
        ))?;
        y += ROW;
        for n in &e.notes {
            area.draw(&Text::new(
                n.clone(),
                (x + SAMPLE + 10, y - 6),
                note.clone(),
            ))?;
            y += NOTE_ROW;
        }
    }
    y += 10;
    for line in caption {
        area.draw(&Text::new(line.clone(), (x, y), note.clone()))?;
        y += NOTE_ROW;
    }
    Ok(())
}
