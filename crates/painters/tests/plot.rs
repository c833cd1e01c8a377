//! The plots module on synthetic but realistic results of a 30-layer model: every figure
//! kind is written as a valid PNG and SVG, the legends name what they should, missing
//! optional data skips its figure, and malformed input is one error naming file, line
//! and column. Set `PLOT_TEST_OUT=<dir>` to keep the full example set there.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use painters::plot::plot_results;

const LAYERS: usize = 30;
const HEADER: &str = "variant,kind,start_layer,affected_layers,seed,times,layer,plan,plan_hash,task,store_key,metric,filter,value,stderr,n,chance,full,normalised,normalised_stderr,informative";

/// (task, headline metric, chance, full-model score, informative)
const TASKS: [(&str, &str, f64, f64, bool); 4] = [
    ("arc_easy", "acc_norm", 0.25, 0.55, true),
    ("hellaswag", "acc_norm", 0.25, 0.42, true),
    ("lambada_openai", "acc", 0.0, 0.42, true),
    ("winogrande", "acc", 0.5, 0.505, false),
];

/// Deterministic noise in [-1, 1].
fn noise(a: usize, b: usize, c: usize) -> f64 {
    ((a * 7919 + b * 104_729 + c * 1_299_709) as f64 * 0.618_034).sin()
}

/// One variant cell.
struct Cell {
    variant: String,
    kind: &'static str,
    start: Option<usize>,
    affected: usize,
    seed: Option<usize>,
    times: Option<usize>,
    layer: Option<usize>,
    /// Normalised score of an informative task with index `t`.
    score: Box<dyn Fn(usize) -> f64>,
}

fn cells() -> Vec<Cell> {
    let mut cells = vec![Cell {
        variant: "baseline".into(),
        kind: "baseline",
        start: None,
        affected: 0,
        seed: None,
        times: None,
        layer: None,
        score: Box::new(|_| 1.0),
    }];
    let decay = |m: usize, scale: f64, t: usize| {
        (-(m as f64 / (scale * (1.0 + 0.15 * t as f64))).powi(2)).exp()
    };
    let kinds: [(&str, f64); 5] = [
        ("skip", 5.0),
        ("reverse", 7.0),
        ("repeat-middle", 2.5),
        ("parallel", 8.0),
        ("shuffle", 9.0),
    ];
    for s in 0..LAYERS / 2 {
        let m = LAYERS - 2 * s - 1;
        for (kind, scale) in kinds {
            let seeds: Vec<Option<usize>> = if kind == "shuffle" {
                (1..=3).map(Some).collect()
            } else {
                vec![None]
            };
            for seed in seeds {
                let label = match seed {
                    Some(seed) => format!("{kind} s={s} seed={seed}"),
                    None => format!("{kind} s={s}"),
                };
                let jitter = seed.map_or(0.0, |seed| 0.05 * noise(seed, s, 3));
                let score = move |t| decay(m, scale, t) + jitter + 0.03 * noise(m, t, 1);
                cells.push(Cell {
                    variant: label,
                    kind,
                    start: Some(s),
                    affected: m,
                    seed,
                    times: None,
                    layer: None,
                    score: Box::new(score),
                });
            }
        }
        for k in 1..=6usize {
            // The best K grows with M.
            let best = 1.0 + m as f64 / 5.0;
            let scale = 11.0 - 1.2 * (k as f64 - best).abs();
            let score = move |t| decay(m, scale.max(2.0), t) + 0.02 * noise(m, k, t);
            let variant = format!("looped-parallel s={s} K={k}");
            cells.push(Cell {
                variant,
                kind: "looped-parallel",
                start: Some(s),
                affected: m,
                seed: None,
                times: Some(k),
                layer: None,
                score: Box::new(score),
            });
        }
    }
    for layer in 0..LAYERS {
        let hurt = if layer == 0 {
            1.0
        } else {
            0.08 + 0.05 * noise(layer, 2, 2).abs()
        };
        let cell = |kind: &'static str, variant: String, factor: f64| Cell {
            variant,
            kind,
            start: None,
            affected: if kind == "swap" { 2 } else { 1 },
            seed: None,
            times: None,
            layer: Some(layer),
            score: Box::new(move |_| 1.0 - hurt * factor),
        };
        cells.push(cell("skip-one", format!("skip-one layer={layer}"), 1.0));
        if layer + 1 < LAYERS {
            cells.push(cell("swap", format!("swap layer={layer}"), 0.6));
        }
    }
    cells
}

fn opt(v: Option<usize>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Writes summary.csv, medians.csv, similarity.csv and resolved.toml into `dir`.
fn write_results(dir: &Path) {
    let (mut summary, mut medians) = (format!("{HEADER}\n"), String::new());
    medians.push_str(
        "variant,kind,start_layer,affected_layers,seed,times,layer,median_normalised,benchmarks\n",
    );
    for cell in cells() {
        let ids = format!(
            "{},{},{},{},{},{},{}",
            cell.variant,
            cell.kind,
            opt(cell.start),
            cell.affected,
            opt(cell.seed),
            opt(cell.times),
            opt(cell.layer)
        );
        let plan = format!("plan-{},{:016x}", cell.affected, cell.variant.len());
        let single = cell.layer.is_some();
        let mut counted = Vec::new();
        for (t, &(task, metric, chance, full, informative)) in TASKS.iter().enumerate() {
            if single && task != "lambada_openai" {
                continue;
            }
            let norm = if informative || cell.kind == "baseline" {
                (cell.score)(t)
            } else {
                2.0 * noise(cell.affected, t, 9)
            };
            let value = (chance + norm * (full - chance)).clamp(0.0, 1.0);
            let norm = (value - chance) / (full - chance);
            let stderr = (value * (1.0 - value) / 1000.0).sqrt();
            let nse = stderr / (full - chance);
            writeln!(summary, "{ids},{plan},{task},k{t},{metric},none,{value},{stderr},1000,{chance},{full},{norm},{nse},{informative}").unwrap();
            if task == "arc_easy" {
                // A second metric per task: the plots must pick the headline one.
                writeln!(
                    summary,
                    "{ids},{plan},{task},k{t},acc,none,{},{stderr},1000,{chance},0.6,,,true",
                    value + 0.04
                )
                .unwrap();
            }
            if task == "lambada_openai" {
                let ppl = 18.0 * (1.0 / norm.max(0.002)).powf(1.3);
                writeln!(
                    summary,
                    "{ids},{plan},{task},k{t},perplexity,none,{ppl},{},1000,,18,,,true",
                    0.05 * ppl
                )
                .unwrap();
            }
            if informative {
                counted.push(norm);
            }
        }
        counted.sort_by(f64::total_cmp);
        let median = (counted[(counted.len() - 1) / 2] + counted[counted.len() / 2]) / 2.0;
        writeln!(medians, "{ids},{median},{}", counted.len()).unwrap();
    }
    let mut similarity = String::from("i,j,cosine,mode\n");
    for (mode, spread) in [("flat", 6.0), ("token", 4.0)] {
        for i in 0..=LAYERS {
            for j in 0..=LAYERS {
                let near = (-(i.abs_diff(j) as f64) / spread).exp();
                let embed = if i == 0 || j == 0 { 0.5 } else { 1.0 };
                let c = if i == j {
                    1.0
                } else {
                    embed * (0.35 + 0.6 * near)
                };
                writeln!(similarity, "{i},{j},{c},{mode}").unwrap();
            }
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("summary.csv"), summary).unwrap();
    std::fs::write(dir.join("medians.csv"), medians).unwrap();
    std::fs::write(dir.join("similarity.csv"), similarity).unwrap();
    let resolved = "harness = \"lm-eval 0.4\"\nmodel_id = \"3f2a\"\nlayers = 30\n\n[experiment.model]\ndir = \"models/SmolLM2-135M\"\n";
    std::fs::write(dir.join("resolved.toml"), resolved).unwrap();
}

fn assert_png(path: &Path) {
    assert_png_size(path, (1200, 800));
}

fn assert_png_size(path: &Path, size: (u32, u32)) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    let dim = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), size, "{}", path.display());
    assert!(
        bytes.len() > 20_000,
        "{} is only {} bytes",
        path.display(),
        bytes.len()
    );
}

fn svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
        "{} is not an SVG",
        path.display()
    );
    assert!(
        text.len() > 10_000,
        "{} is only {} bytes",
        path.display(),
        text.len()
    );
    text
}

#[test]
fn every_figure_is_written_as_png_and_svg() {
    let tmp = tempfile::tempdir().unwrap();
    let dir =
        std::env::var_os("PLOT_TEST_OUT").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    write_results(&dir);
    let written = plot_results(&dir).unwrap();
    let plots = dir.join("plots");
    let mut stems = vec!["skip", "repeat-middle", "reverse", "shuffle", "parallel"];
    let looped = [
        "looped-parallel-k1",
        "looped-parallel-k2",
        "looped-parallel-k3",
        "looped-parallel-k4",
        "looped-parallel-k5",
        "looped-parallel-k6",
    ];
    stems.extend(looped);
    stems.extend([
        "all-variants",
        "looped-parallel-heatmap",
        "single-layer-lambada_openai-acc",
        "single-layer-lambada_openai-perplexity",
    ]);
    stems.extend(["similarity-flat", "similarity-token"]);
    let expected: Vec<PathBuf> = stems
        .iter()
        .flat_map(|s| ["png", "svg"].map(|e| plots.join(format!("{s}.{e}"))))
        .collect();
    assert_eq!(written, expected);
    for path in &written {
        match path.extension().and_then(|e| e.to_str()) {
            Some("png") => assert_png(path),
            _ => drop(svg(path)),
        }
    }
    let skip = svg(&plots.join("skip.svg"));
    for text in [
        "Skip — SmolLM2-135M",
        "ARC-Easy (acc_norm)",
        "HellaSwag (acc_norm)",
        "LAMBADA (acc)",
        "WinoGrande (acc)",
    ] {
        assert!(skip.contains(text), "skip.svg lacks {text:?}");
    }
    for text in [
        "(at chance, excluded from median)",
        "of the informative benchmarks",
        "full model",
        "random",
        "number of affected layers M",
    ] {
        assert!(skip.contains(text), "skip.svg lacks {text:?}");
    }
    assert!(
        !skip.contains("ARC-Easy (acc)"),
        "the headline metric of ARC-Easy is acc_norm"
    );
    let shuffle = svg(&plots.join("shuffle.svg"));
    assert!(
        shuffle.contains("mean over 3 seeds"),
        "shuffle.svg does not say it averages seeds"
    );
    let overview = svg(&plots.join("all-variants.svg"));
    for text in [
        "Skip",
        "Random order",
        "Middle repeat",
        "Looped parallel (K = 3)",
    ] {
        assert!(overview.contains(text), "all-variants.svg lacks {text:?}");
    }
    let heatmap = svg(&plots.join("looped-parallel-heatmap.svg"));
    assert!(heatmap.contains("iterations K") && heatmap.contains("best K"));
    let single = svg(&plots.join("single-layer-lambada_openai-acc.svg"));
    assert!(single.contains("Skip layer N") && single.contains("Switch layers N and N+1"));
    assert!(svg(&plots.join("similarity-flat.svg")).contains("hidden state index"));
}

#[test]
fn optional_files_name_the_model_or_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    write_results(dir.path());
    std::fs::write(
        dir.path().join("resolved.toml"),
        "model = \"/models/Other-Model-1B/\"\n",
    )
    .unwrap();
    plot_results(dir.path()).unwrap();
    assert!(svg(&dir.path().join("plots/skip.svg")).contains("Skip — Other-Model-1B"));

    std::fs::remove_file(dir.path().join("similarity.csv")).unwrap();
    std::fs::remove_file(dir.path().join("resolved.toml")).unwrap();
    std::fs::remove_dir_all(dir.path().join("plots")).unwrap();
    let written = plot_results(dir.path()).unwrap();
    assert!(
        written
            .iter()
            .all(|p| !p.to_string_lossy().contains("similarity"))
    );
    assert!(!dir.path().join("plots/similarity-flat.png").exists());
    let skip = svg(&dir.path().join("plots/skip.svg"));
    assert!(
        skip.contains("\nSkip\n") && !skip.contains("—"),
        "no model name without resolved.toml"
    );
}

fn error_for(summary: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write_results(dir.path());
    std::fs::write(dir.path().join("summary.csv"), summary).unwrap();
    plot_results(dir.path()).unwrap_err().to_string()
}

#[test]
fn malformed_summary_is_an_error_naming_file_line_and_column() {
    let good = "baseline,baseline,,0,,,,p,h,piqa,k0,acc,none,0.7,0.01,100,0.5,0.7,1,0.05,true";
    let message = error_for(&format!(
        "{HEADER}\n{good}\n{}\n",
        good.replace("0.7,0.01", "seventy,0.01")
    ));
    assert!(
        message.contains(
            "summary.csv: line 3, column 14 (value): expected a number, found \"seventy\""
        ),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");

    let message = error_for(&format!(
        "{HEADER}\n{good}\n{}\n",
        good.replace(",true", ",maybe")
    ));
    assert!(
        message
            .contains("line 3, column 21 (informative): expected true or false, found \"maybe\""),
        "{message}"
    );

    let short = good.rsplit_once(",0.05,true").unwrap().0;
    let message = error_for(&format!("{HEADER}\n{short}\n"));
    assert!(
        message.contains("summary.csv: line 2: 19 fields, but the header has 21"),
        "{message}"
    );

    let message = error_for(&format!(
        "{}\n{good}\n",
        HEADER.replace(",value,", ",score,")
    ));
    assert!(
        message.contains("summary.csv: line 1 (header), column value: no such column"),
        "{message}"
    );

    let dir = tempfile::tempdir().unwrap();
    let message = plot_results(dir.path()).unwrap_err().to_string();
    assert!(message.contains("summary.csv"), "{message}");
}

/// Results of labelled explicit plans only: two criteria at 3 and 6 layers removed.
fn write_labelled(dir: &Path, paired: bool) {
    let mut summary = format!("{HEADER},label\n");
    let mut medians = String::from(
        "variant,kind,start_layer,affected_layers,seed,times,layer,label,median_normalised,benchmarks\n",
    );
    let cells = [
        ("baseline", "", 0, 1.0),
        ("greedy NLL plan=\"0..14 17..30\"", "greedy NLL", 3, 0.8),
        ("greedy NLL plan=\"0..12 18..30\"", "greedy NLL", 6, 0.5),
        (
            "Block Influence plan=\"0..20 23..30\"",
            "Block Influence",
            3,
            0.6,
        ),
        (
            "Block Influence plan=\"0..20 26..30\"",
            "Block Influence",
            6,
            0.2,
        ),
    ];
    let mut pairs = String::from(
        "cell_a,cell_b,affected_layers,task,metric,filter,n,normalised_a,normalised_b,difference,ci_lower,ci_upper,mcnemar_b,mcnemar_c,mcnemar_p,significant\n",
    );
    for (variant, label, m, norm) in cells {
        let kind = if m == 0 { "baseline" } else { "explicit" };
        let ids = format!("\"{}\",{kind},,{m},,,", variant.replace('"', "\"\""));
        let value = 0.25 + norm * 0.3;
        writeln!(summary, "{ids},plan,{m:016x},arc_easy,k,acc_norm,none,{value},0.02,300,0.25,0.55,{norm},0.05,true,{label}").unwrap();
        writeln!(medians, "{ids},{label},{norm},1").unwrap();
        if m > 0 {
            let (lo, hi) = (norm - 1.0 - 0.1, norm - 1.0 + 0.08);
            writeln!(
                pairs,
                "\"{}\",baseline,{m},median,,,300,{norm},1.0,{},{lo},{hi},,,,true",
                variant.replace('"', "\"\""),
                norm - 1.0
            )
            .unwrap();
        }
    }
    std::fs::write(dir.join("summary.csv"), summary).unwrap();
    std::fs::write(dir.join("medians.csv"), medians).unwrap();
    if paired {
        std::fs::write(dir.join("paired.csv"), pairs).unwrap();
    }
}

#[test]
fn labelled_plans_draw_one_line_per_label_with_the_paired_interval() {
    for paired in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        write_labelled(dir.path(), paired);
        let written = plot_results(dir.path()).unwrap();
        let plots = dir.path().join("plots");
        assert_eq!(
            written,
            [
                plots.join("labelled-plans.png"),
                plots.join("labelled-plans.svg")
            ]
        );
        assert_png(&written[0]);
        let text = std::fs::read_to_string(&written[1]).unwrap();
        for label in [
            "greedy NLL",
            "Block Influence",
            "layers removed",
            "full model",
        ] {
            assert!(text.contains(label), "labelled-plans.svg lacks {label:?}");
        }
        // One band per line, from paired.csv's intervals; none without the file.
        let bands = text.matches("<polygon").count();
        assert_eq!(bands, if paired { 2 } else { 0 }, "paired.csv: {paired}");
        assert_eq!(text.contains("95% paired-bootstrap"), paired);
    }
}

#[test]
fn compare_puts_directories_side_by_side_and_on_a_share_axis() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = [tmp.path().join("first"), tmp.path().join("second")];
    for dir in &dirs {
        std::fs::create_dir(dir).unwrap();
        write_results(dir);
    }
    let out = tmp.path().join("compare");
    let labels = ["first".to_string(), "second".to_string()];
    let written = painters::plot::plot_compare(&dirs, &labels, &out).unwrap();
    let single = plot_results(&dirs[0]).unwrap();
    // Every figure of one directory is a row of two panels, then one share figure per variant.
    for path in &single {
        let name = path.file_name().unwrap();
        let row = out.join(name);
        assert!(written.contains(&row), "no row for {}", row.display());
        match path.extension().and_then(|e| e.to_str()) {
            Some("png") => assert_png_size(&row, (2400, 800)),
            _ => {
                let text = svg(&row);
                if name == "skip.svg" {
                    assert!(text.contains("Skip — first") && text.contains("Skip — second"));
                }
            }
        }
    }
    let share = out.join("share-skip.png");
    assert!(written.contains(&share));
    assert_png(&share);
    let text = svg(&out.join("share-skip.svg"));
    for part in ["first", "second", "% of the model", "by share of layers"] {
        assert!(text.contains(part), "share-skip.svg lacks {part:?}");
    }
    assert_eq!(written.len(), single.len() + 2 * 11, "{written:#?}");
}
