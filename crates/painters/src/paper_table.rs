//! `painters table`: the numbers behind a results directory's figures as a table a paper
//! can print. Rows are series — an explicit plan's `label`, else the variant kind with its
//! K, layer or seed — and columns either the number of layers affected M (the figures' x
//! axis; the entry is the median normalised score over the informative benchmarks) or,
//! `--by benchmark`, each benchmark's headline metric and the median, one row per (series,
//! M). Every entry is the normalised score (0 = chance, 1 = full model) with its 95%
//! paired-bootstrap interval against the full model, and a mark (†) where it differs
//! significantly from a reference series at the same M: the 95% paired-bootstrap interval
//! of the difference, resampling items, excludes 0. Everything comes from paired.csv
//! (`painters stats`) and medians.csv; nothing is recomputed.

use std::path::Path;

use anyhow::{Result, bail};

use crate::paired::{PairedRow, find, interval};
use crate::summary::MedianRow;

/// What the table's columns are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TableBy {
    /// One column per number of layers affected M; entries are medians.
    M,
    /// One column per benchmark and the median; one row per (series, M).
    Benchmark,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    /// GitHub Markdown with the caption below.
    Markdown,
    /// A booktabs `table` environment.
    Latex,
    /// Tidy CSV, one line per entry (for pandas).
    Csv,
}

/// One entry: the normalised score, its interval, and whether it differs from the
/// reference series at the same M (`None` for the reference itself).
struct Entry {
    value: f64,
    interval: Option<(f64, f64)>,
    differs: Option<bool>,
    cell: String,
}

pub struct Table {
    by: TableBy,
    reference: String,
    columns: Vec<String>,
    /// (row name, one entry per column where there is one)
    rows: Vec<(String, Vec<Option<Entry>>)>,
}

/// A cell of the grid (a medians.csv row other than the baseline), named by its series.
struct Cell<'a> {
    series: String,
    m: usize,
    variant: &'a str,
}

/// The series a medians.csv row belongs to: its label, else its kind with what tells its
/// lines apart in the figures (K, the layer, the seed).
fn series(row: &MedianRow) -> String {
    if let Some(label) = &row.label {
        return label.clone();
    }
    let mut name = row.kind.clone();
    if let Some(k) = row.times {
        name += &format!(" K={k}");
    }
    if let Some(layer) = row.layer {
        name += &format!(" layer={layer}");
    }
    if let Some(seed) = row.seed {
        name += &format!(" seed={seed}");
    }
    name
}

/// A series' row name; the reference series says so.
fn row_name(series: &str, reference: &str) -> String {
    match series == reference {
        true => format!("{series} (reference)"),
        false => series.to_string(),
    }
}

impl Table {
    /// The table of results directory `dir`; `reference` names a series, or `baseline`.
    pub fn build(dir: &Path, by: TableBy, reference: &str) -> Result<Table> {
        let medians: Vec<MedianRow> = crate::table::read(&dir.join("medians.csv"))?;
        let paired_file = dir.join("paired.csv");
        if !paired_file.exists() {
            bail!(
                "{}: no paired.csv; run `painters stats {}` first (the intervals and marks come from it)",
                dir.display(),
                dir.display()
            );
        }
        let paired: Vec<PairedRow> = crate::table::read(&paired_file)?;
        let cells: Vec<Cell> = medians
            .iter()
            .filter(|r| r.kind != "baseline")
            .filter_map(|r| {
                Some(Cell {
                    series: series(r),
                    m: r.affected_layers.filter(|&m| m > 0)?,
                    variant: &r.variant,
                })
            })
            .filter(|c| {
                paired
                    .iter()
                    .any(|p| p.cell_a == c.variant || p.cell_b == c.variant)
            })
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for c in &cells {
            if !names.contains(&c.series.as_str()) {
                names.push(&c.series);
            }
        }
        if reference != "baseline" && !names.contains(&reference) {
            bail!(
                "--reference {reference:?}: no such series in {} (valid: baseline, {})",
                dir.join("medians.csv").display(),
                names.join(", ")
            );
        }
        let reference_cell = |m: usize| -> Option<&str> {
            match reference {
                "baseline" => Some("baseline"),
                _ => cells
                    .iter()
                    .find(|c| c.series == reference && c.m == m)
                    .map(|c| c.variant),
            }
        };
        let entry = |cell: &Cell, task: &str| -> Option<Entry> {
            let own = paired
                .iter()
                .find(|p| p.task == task && p.cell_a == cell.variant && p.cell_b == "baseline")?;
            let against = reference_cell(cell.m).filter(|r| *r != cell.variant);
            Some(Entry {
                value: own.normalised_a,
                interval: interval(&paired, cell.variant, task),
                differs: against
                    .and_then(|r| find(&paired, cell.variant, r, task))
                    .map(|p| p.significant),
                cell: cell.variant.to_string(),
            })
        };
        let mut ms: Vec<usize> = cells.iter().map(|c| c.m).collect();
        ms.sort_unstable();
        ms.dedup();
        let (columns, rows) = match by {
            TableBy::M => {
                let columns = ms.iter().map(|m| format!("M = {m}")).collect();
                let rows = names
                    .iter()
                    .map(|name| {
                        let entries = ms
                            .iter()
                            .map(|&m| {
                                let cell = cells.iter().find(|c| c.series == *name && c.m == m)?;
                                entry(cell, "median")
                            })
                            .collect();
                        (row_name(name, reference), entries)
                    })
                    .collect();
                (columns, rows)
            }
            TableBy::Benchmark => {
                let mut tasks: Vec<(&str, &str)> = Vec::new();
                for p in paired.iter().filter(|p| p.task != "median") {
                    if !tasks.iter().any(|(t, _)| *t == p.task) {
                        tasks.push((&p.task, &p.metric));
                    }
                }
                let mut columns: Vec<String> = tasks
                    .iter()
                    .map(|(t, metric)| format!("{t} {metric}"))
                    .collect();
                columns.push("median".into());
                let mut rows = Vec::new();
                for name in &names {
                    for cell in cells.iter().filter(|c| c.series == *name) {
                        let entries = tasks
                            .iter()
                            .map(|(t, _)| *t)
                            .chain(["median"])
                            .map(|task| entry(cell, task))
                            .collect();
                        let name = row_name(name, reference);
                        rows.push((format!("{name}, M = {}", cell.m), entries));
                    }
                }
                (columns, rows)
            }
        };
        if rows.is_empty() {
            bail!(
                "{}: no cell affecting layers has paired comparisons",
                paired_file.display()
            );
        }
        Ok(Table {
            by,
            reference: reference.to_string(),
            columns,
            rows,
        })
    }

    /// What the entries are, the interval and the mark, in words.
    pub fn caption(&self) -> String {
        let what = match self.by {
            TableBy::M => "Median normalised score over the informative benchmarks",
            TableBy::Benchmark => {
                "Normalised score of each benchmark's headline metric and their median"
            }
        };
        let against = match self.reference.as_str() {
            "baseline" => "the full model".to_string(),
            name => format!("{name} at the same M"),
        };
        format!(
            "{what} (0 = chance, 1 = full model), with its 95% paired-bootstrap interval over items ({} resamples). † differs significantly from {against}: the 95% paired-bootstrap interval of the difference excludes 0.",
            crate::paired::RESAMPLES
        )
    }

    pub fn render(&self, format: TableFormat, digits: usize) -> String {
        match format {
            TableFormat::Markdown => self.markdown(digits),
            TableFormat::Latex => self.latex(digits),
            TableFormat::Csv => self.csv(),
        }
    }

    fn text(
        entry: &Entry,
        digits: usize,
        mark: &str,
        interval: impl Fn(String) -> String,
    ) -> String {
        let mut out = format!("{:.digits$}", entry.value);
        if let Some((low, high)) = entry.interval {
            out += &interval(format!("[{low:.digits$}, {high:.digits$}]"));
        }
        if entry.differs == Some(true) {
            out += mark;
        }
        out
    }

    /// The table as plain text cells: the header (first column's, then the columns') and
    /// each row's name and entries ("0.83 [0.69, 0.96] †", "–" where there is none).
    pub fn text_grid(&self, digits: usize) -> (Vec<String>, Vec<(String, Vec<String>)>) {
        let first = match self.by {
            TableBy::M => "series",
            TableBy::Benchmark => "series, M",
        };
        let header = std::iter::once(first.to_string())
            .chain(self.columns.iter().cloned())
            .collect();
        let rows = self
            .rows
            .iter()
            .map(|(name, entries)| {
                let cells = entries
                    .iter()
                    .map(|e| {
                        e.as_ref().map_or("–".into(), |e| {
                            Self::text(e, digits, " †", |i| format!(" {i}"))
                        })
                    })
                    .collect();
                (name.clone(), cells)
            })
            .collect();
        (header, rows)
    }

    fn markdown(&self, digits: usize) -> String {
        let (header, rows) = self.text_grid(digits);
        let mut out = format!("| {} |\n", header.join(" | "));
        out += &format!("|---|{}\n", "---:|".repeat(self.columns.len()));
        for (name, cells) in rows {
            out += &format!("| {name} | {} |\n", cells.join(" | "));
        }
        out + "\n" + &self.caption() + "\n"
    }

    fn latex(&self, digits: usize) -> String {
        let mut out = String::from("\\begin{table}[t]\n\\centering\n\\small\n");
        out += &format!(
            "\\begin{{tabular}}{{l{}}}\n\\toprule\n",
            "r".repeat(self.columns.len())
        );
        let first = match self.by {
            TableBy::M => "Series",
            TableBy::Benchmark => "Series, $M$",
        };
        let header: Vec<String> = self
            .columns
            .iter()
            .map(|c| match c.strip_prefix("M = ") {
                Some(m) => format!("$M={m}$"),
                None => latex_escape(c),
            })
            .collect();
        out += &format!("{first} & {} \\\\\n\\midrule\n", header.join(" & "));
        for (name, entries) in &self.rows {
            let cells: Vec<String> = entries
                .iter()
                .map(|e| {
                    e.as_ref().map_or("--".into(), |e| {
                        Self::text(e, digits, "$^\\dagger$", |i| {
                            format!(" {{\\scriptsize {i}}}")
                        })
                    })
                })
                .collect();
            out += &format!("{} & {} \\\\\n", latex_escape(name), cells.join(" & "));
        }
        out += "\\bottomrule\n\\end{tabular}\n";
        out += &format!(
            "\\caption{{{}}}\n",
            latex_escape(&self.caption()).replace('†', "$^\\dagger$")
        );
        out + "\\end{table}\n"
    }

    fn csv(&self) -> String {
        let mut csv = csv::Writer::from_writer(Vec::new());
        let header = [
            "row",
            "column",
            "cell",
            "normalised",
            "ci_lower",
            "ci_upper",
            "reference",
            "differs_from_reference",
        ];
        csv.write_record(header).expect("writing to memory");
        let number = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
        for (name, entries) in &self.rows {
            for (column, entry) in self.columns.iter().zip(entries) {
                let Some(e) = entry else { continue };
                csv.write_record([
                    name.as_str(),
                    column,
                    &e.cell,
                    &e.value.to_string(),
                    &number(e.interval.map(|i| i.0)),
                    &number(e.interval.map(|i| i.1)),
                    &self.reference,
                    &e.differs.map_or(String::new(), |d| d.to_string()),
                ])
                .expect("writing to memory");
            }
        }
        String::from_utf8(csv.into_inner().expect("writing to memory")).expect("UTF-8 fields")
    }
}

/// `text` with LaTeX's special characters escaped.
fn latex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out += "\\textasciitilde{}",
            '^' => out += "\\textasciicircum{}",
            '\\' => out += "\\textbackslash{}",
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A results directory with two series (`a` at M = 2 and 4, `b` at M = 2) on one
    /// benchmark; `a` at M = 2 differs from the baseline, `a` and `b` from each other.
    fn results() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let medians = "variant,kind,start_layer,affected_layers,seed,times,layer,label,median_normalised,benchmarks,seeds
baseline,baseline,,0,,,,,1.0,1,1
a2,explicit,,2,,,,a & co,0.9,1,1
a4,explicit,,4,,,,a & co,0.5,1,1
b2,skip,3,2,,,,,0.7,1,1
";
        let paired = "cell_a,cell_b,affected_layers,task,metric,filter,n,normalised_a,normalised_b,difference,ci_lower,ci_upper,mcnemar_b,mcnemar_c,mcnemar_p,significant
a2,b2,2,arc_easy,acc_norm,none,10,0.9,0.7,0.2,0.05,0.35,3,1,0.6,true
a2,b2,2,median,acc_norm,none,10,0.9,0.7,0.2,0.05,0.35,,,,true
a2,baseline,2,arc_easy,acc_norm,none,10,0.9,1.0,-0.1,-0.3,-0.01,0,1,1.0,true
a2,baseline,2,median,acc_norm,none,10,0.9,1.0,-0.1,-0.3,-0.01,,,,true
b2,baseline,2,arc_easy,acc_norm,none,10,0.7,1.0,-0.3,-0.5,0.02,0,3,0.25,false
b2,baseline,2,median,acc_norm,none,10,0.7,1.0,-0.3,-0.5,0.02,,,,false
a4,baseline,4,arc_easy,acc_norm,none,10,0.5,1.0,-0.5,-0.7,-0.2,0,5,0.06,true
a4,baseline,4,median,acc_norm,none,10,0.5,1.0,-0.5,-0.7,-0.2,,,,true
";
        std::fs::write(dir.path().join("medians.csv"), medians).unwrap();
        std::fs::write(dir.path().join("paired.csv"), paired).unwrap();
        dir
    }

    #[test]
    fn entries_carry_intervals_and_marks_against_the_baseline() {
        let dir = results();
        let table = Table::build(dir.path(), TableBy::M, "baseline").unwrap();
        let markdown = table.render(TableFormat::Markdown, 2);
        let lines: Vec<&str> = markdown.lines().collect();
        assert_eq!(lines[0], "| series | M = 2 | M = 4 |");
        // Intervals are the difference's shifted by the baseline's 1.
        assert_eq!(
            lines[2],
            "| a & co | 0.90 [0.70, 0.99] † | 0.50 [0.30, 0.80] † |"
        );
        assert_eq!(lines[3], "| skip | 0.70 [0.50, 1.02] | – |");
        assert!(markdown.contains("differs significantly from the full model"));
    }

    #[test]
    fn marks_against_a_reference_series_at_the_same_m() {
        let dir = results();
        let table = Table::build(dir.path(), TableBy::M, "skip").unwrap();
        let markdown = table.render(TableFormat::Markdown, 1);
        // a at M = 2 differs from skip at M = 2; at M = 4 there is no skip to compare with.
        assert!(
            markdown.contains("| a & co | 0.9 [0.7, 1.0] † | 0.5 [0.3, 0.8] |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| skip (reference) | 0.7 [0.5, 1.0] | – |"),
            "{markdown}"
        );
        assert!(markdown.contains("differs significantly from skip at the same M"));
        let csv = table.render(TableFormat::Csv, 2);
        assert!(
            csv.contains("a & co,M = 2,a2,0.9,0.7,0.99,skip,true"),
            "{csv}"
        );
        assert!(
            csv.contains("a & co,M = 4,a4,0.5,0.30000000000000004,0.8,skip,\n"),
            "{csv}"
        );
    }

    #[test]
    fn benchmark_columns_and_latex() {
        let dir = results();
        let table = Table::build(dir.path(), TableBy::Benchmark, "baseline").unwrap();
        let latex = table.render(TableFormat::Latex, 2);
        assert!(
            latex.contains("Series, $M$ & arc\\_easy acc\\_norm & median \\\\"),
            "{latex}"
        );
        assert!(
            latex.contains("a \\& co, M = 2 & 0.90 {\\scriptsize [0.70, 0.99]}$^\\dagger$"),
            "{latex}"
        );
        assert!(
            latex.contains("\\toprule")
                && latex.contains("\\bottomrule")
                && latex.contains("\\caption{")
        );
    }

    #[test]
    fn missing_inputs_are_one_line() {
        let dir = results();
        let err = Table::build(dir.path(), TableBy::M, "c")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("--reference \"c\": no such series")
                && err.contains("valid: baseline, a & co, skip"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("paired.csv")).unwrap();
        let err = Table::build(dir.path(), TableBy::M, "baseline")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no paired.csv; run `painters stats"), "{err}");
    }
}
