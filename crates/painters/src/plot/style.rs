//! The look shared by every figure: canvas size, the bundled font, colours (fixed per
//! benchmark and per variant kind, so they match across figures) and display names.

use std::sync::OnceLock;

use plotters::style::{FontStyle, RGBColor, TextStyle, register_font as register};

use super::PlotError;

/// Canvas size in pixels (PNG) and user units (SVG).
pub(super) const SIZE: (u32, u32) = (1200, 800);
/// The family name the bundled font is registered under; SVG viewers fall back to their
/// own sans-serif face.
const FAMILY: &str = "sans-serif";
/// DejaVu Sans (licence in `assets/DejaVuSans-LICENSE.txt`).
pub(super) const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
pub(super) const TITLE: f64 = 28.0;
pub(super) const AXIS_DESC: f64 = 21.0;
pub(super) const TICKS: f64 = 18.0;
pub(super) const LEGEND: f64 = 18.0;
pub(super) const NOTE: f64 = 15.0;

pub(super) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(super) const REFERENCE: RGBColor = RGBColor(0x80, 0x80, 0x80);
pub(super) const GRID: RGBColor = RGBColor(0xe6, 0xe6, 0xe6);
pub(super) const MISSING: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);

/// Registers the font with plotters once per process (for SVG text metrics; PNG text
/// goes through [`super::text`]).
pub(super) fn register_font() -> Result<(), PlotError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| register(FAMILY, FontStyle::Normal, FONT).is_ok());
    ok.then_some(()).ok_or(PlotError::Font)
}

pub(super) fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size)).color(&INK)
}

/// Benchmarks in a fixed order; each keeps its colour in every figure (matplotlib's
/// tab10 without its grey).
const TASKS: [(&str, &str); 9] = [
    ("arc_easy", "ARC-Easy"),
    ("arc_challenge", "ARC-Challenge"),
    ("hellaswag", "HellaSwag"),
    ("winogrande", "WinoGrande"),
    ("lambada_openai", "LAMBADA"),
    ("piqa", "PIQA"),
    ("boolq", "BoolQ"),
    ("gsm8k", "GSM8K"),
    ("mmlu", "MMLU"),
];
const TAB10: [RGBColor; 9] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0xbc, 0xbd, 0x22),
];

/// Sort key for benchmarks: known ones in [`TASKS`] order, then the rest by name.
pub(super) fn task_rank(task: &str) -> (usize, String) {
    (
        TASKS
            .iter()
            .position(|(t, _)| *t == task)
            .unwrap_or(TASKS.len()),
        task.to_string(),
    )
}

/// The `i`-th of a set of lines with no fixed colour of their own.
pub(super) fn series_colour(i: usize) -> RGBColor {
    TAB10[i % TAB10.len()]
}

pub(super) fn task_colour(task: &str) -> RGBColor {
    let i = TASKS.iter().position(|(t, _)| *t == task);
    // Unknown tasks get a stable colour from their name.
    TAB10[i.unwrap_or_else(|| task.bytes().map(usize::from).sum::<usize>()) % TAB10.len()]
}

pub(super) fn task_name(task: &str) -> &str {
    TASKS
        .iter()
        .find(|(t, _)| *t == task)
        .map_or(task, |(_, name)| name)
}

/// A benchmark's legend label, "HellaSwag (acc_norm)", and for a filtered metric a note
/// naming the filter.
pub(super) fn benchmark_label(task: &str, metric: &str, filter: &str) -> (String, Vec<String>) {
    let label = format!("{} ({metric})", task_name(task));
    (
        label,
        [filter]
            .into_iter()
            .filter(|f| !matches!(*f, "" | "none"))
            .map(|f| format!("filter: {f}"))
            .collect(),
    )
}

/// Variant kinds in the order legends list them, with a display name and colour
/// (Okabe-Ito, colour-blind safe). Looped parallel takes its colours from [`k_colour`].
const KINDS: [(&str, &str, RGBColor); 12] = [
    ("skip", "Skip", RGBColor(0xd5, 0x5e, 0x00)),
    // Half of each skipped layer (`part`): darker and lighter shades of skip's colour.
    ("skip-attn", "Skip attention", RGBColor(0x99, 0x33, 0x00)),
    ("skip-mlp", "Skip MLP", RGBColor(0xf0, 0xa0, 0x70)),
    ("skip-one", "Skip layer N", RGBColor(0xd5, 0x5e, 0x00)),
    (
        "swap",
        "Switch layers N and N+1",
        RGBColor(0x00, 0x72, 0xb2),
    ),
    ("repeat-middle", "Middle repeat", RGBColor(0xcc, 0x79, 0xa7)),
    ("reverse", "Reverse", RGBColor(0x00, 0x72, 0xb2)),
    ("shuffle", "Random order", RGBColor(0x00, 0x9e, 0x73)),
    ("parallel", "Parallel", RGBColor(0xe6, 0x9f, 0x00)),
    (
        "looped-parallel",
        "Looped parallel",
        RGBColor(0x54, 0x27, 0x8f),
    ),
    ("double-repeat", "Double repeat", RGBColor(0x56, 0xb4, 0xe9)),
    ("triple-repeat", "Triple repeat", RGBColor(0x8c, 0x56, 0x4b)),
];

/// The variant kinds that get a figure of their own and a line in the overview, in order.
pub(super) fn variant_kinds() -> impl Iterator<Item = &'static str> {
    KINDS
        .iter()
        .map(|(k, _, _)| *k)
        .filter(|k| !matches!(*k, "skip-one" | "swap"))
}

/// "Skip", "Looped parallel (K = 3)".
pub(super) fn kind_label(kind: &str, times: Option<usize>) -> String {
    let name = KINDS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(kind, |(_, n, _)| n);
    match times {
        Some(k) => format!("{name} (K = {k})"),
        None => name.to_string(),
    }
}

pub(super) fn kind_colour(kind: &str) -> RGBColor {
    KINDS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(INK, |(_, _, c)| *c)
}

/// The `i`-th of `n` looped-parallel iteration counts: light to dark purple.
pub(super) fn k_colour(i: usize, n: usize) -> RGBColor {
    let t = if n > 1 {
        i as f64 / (n - 1) as f64
    } else {
        1.0
    };
    let mix = |a: u8, b: u8| (f64::from(a) + t * (f64::from(b) - f64::from(a))).round() as u8;
    RGBColor(mix(0xbc, 0x3f), mix(0xa8, 0x00), mix(0xe0, 0x7d))
}

/// `c` halfway to white: for benchmarks left out of the median.
pub(super) fn pale(c: RGBColor) -> RGBColor {
    let half = |v: u8| ((u16::from(v) + 255) / 2) as u8;
    RGBColor(half(c.0), half(c.1), half(c.2))
}

/// A number for a tick or a legend: about three significant digits, trailing zeros
/// trimmed ("0.35", "1.0", "18.2", "10000").
pub(super) fn number(v: f64) -> String {
    let text = match v.abs() {
        a if a >= 100.0 => return format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.3}"),
    };
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') {
        format!("{trimmed}0")
    } else {
        trimmed.to_string()
    }
}

/// A file-name-safe form of `s`.
pub(super) fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `s`, cut to at most `max` characters with an ellipsis when longer (long plan texts in
/// titles and legends).
pub(super) fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max.saturating_sub(1)) {
        Some((at, _)) if s.chars().count() > max => format!("{}…", &s[..at]),
        _ => s.to_string(),
    }
}
