//! The plan trie: shared prefixes counted once, the looped-parallel sweep as one pass per
//! width, and the bound on kept residual streams.

use layer_plan::{Plan, PlanTrie, Variant, Window};

fn compile(variants: impl IntoIterator<Item = Variant>, num_layers: usize) -> Vec<Plan> {
    variants.into_iter().map(|v| v.compile(num_layers).unwrap()).collect()
}

fn naive_passes(plans: &[Plan]) -> usize {
    plans.iter().map(Plan::layer_passes).sum()
}

/// Plans that end at each node, in walk order, as plan indices.
fn leaves(trie: &PlanTrie) -> Vec<usize> {
    fn visit(nodes: &[layer_plan::TrieNode], out: &mut Vec<usize>) {
        for n in nodes {
            out.extend(&n.ends);
            visit(&n.children, out);
        }
    }
    let mut out = Vec::new();
    visit(&trie.children, &mut out);
    out
}

#[test]
fn every_plan_ends_once_and_shared_steps_count_once() {
    let plans: Vec<Plan> = ["0..8", "0..3 7", "0..3 6 5 4 3 7", "0 1 2 [3|4|5|6] 7", "0..8"].iter().map(|t| crate::parse(t, 8)).collect();
    let trie = PlanTrie::new(&plans);
    let mut ended = leaves(&trie);
    ended.sort_unstable();
    assert_eq!(ended, vec![0, 1, 2, 3, 4]);
    // 0 1 2 shared; then 3..8 (5), 3 7 -> "3" is shared with the baseline, 7 (1),
    // 6 5 4 3 7 (5), [3|4|5|6] 7 (4 + 1).
    assert_eq!(trie.layer_passes(), 3 + 5 + 1 + 5 + 5);
    assert_eq!(naive_passes(&plans), 8 + 4 + 8 + 8 + 8);
}

#[test]
fn the_main_grid_shares_its_prefixes() {
    // The paper's main variants on a 30-layer model, start layer s = 0..14.
    let t = 30;
    let windows = || (0..15).map(Window::StartLayer);
    let mut variants = vec![Variant::Baseline];
    variants.extend(windows().map(|window| Variant::Skip { window }));
    variants.extend(windows().map(|window| Variant::Reverse { window }));
    variants.extend(windows().map(|window| Variant::RepeatMiddle { window, layer: None }));
    variants.extend(windows().map(|window| Variant::Parallel { window }));
    variants.extend(windows().map(|window| Variant::LoopedParallel { window, times: 3 }));
    let plans = compile(variants, t);
    let (naive, shared) = (naive_passes(&plans), PlanTrie::new(&plans).layer_passes());
    println!("main grid: {} plans, {naive} layer passes alone, {shared} as a trie ({:.2}x)", plans.len(), shared as f64 / naive as f64);
    // Symmetric windows share only the layers before them (the tail after a window
    // reads a different stream in every variant): about a third of the passes here.
    assert!(shared * 3 <= naive * 2, "{shared} vs {naive}");
}

#[test]
fn the_looped_sweep_costs_about_one_pass_per_width() {
    let t = 30;
    let variants = (0..15).flat_map(|s| (1..=28).map(move |times| Variant::LoopedParallel { window: Window::StartLayer(s), times }));
    let plans = compile(variants, t);
    let trie = PlanTrie::new(&plans);
    let (naive, shared) = (naive_passes(&plans), trie.layer_passes());
    println!("heat map: {} plans, {naive} layer passes alone, {shared} as a trie ({:.1}x fewer), {} streams kept", plans.len(), naive as f64 / shared as f64, trie.peak_kept());
    assert!(shared * 8 <= naive);
    assert!(trie.peak_kept() <= 4, "the sweep keeps {} streams", trie.peak_kept());
}

#[test]
fn groups_respect_the_bound_and_cover_every_plan() {
    // A full binary trie: step i runs layer 2i or 2i + 1.
    let plans: Vec<Plan> = (0..32usize)
        .map(|bits| crate::parse(&(0..5).map(|i| (2 * i + (bits >> i & 1)).to_string()).collect::<Vec<_>>().join(" "), 10))
        .collect();
    let peak = PlanTrie::new(&plans).peak_kept();
    assert_eq!(peak, 6);
    for bound in [1, 2, peak] {
        let groups = PlanTrie::groups(&plans, bound);
        let mut all: Vec<usize> = groups.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..plans.len()).collect::<Vec<_>>());
        for g in &groups {
            let members: Vec<Plan> = g.iter().map(|&i| plans[i].clone()).collect();
            assert!(g.len() == 1 || PlanTrie::new(&members).peak_kept() <= bound, "bound {bound}: {g:?}");
        }
        if bound == peak {
            assert_eq!(groups.len(), 1);
        }
    }
}
