//! Plans of a grid merged by their common step prefixes, so that an executor runs each
//! shared prefix once and branches: every variant that starts at layer s shares layers
//! 0..s with the baseline, and looped-parallel with K + 1 iterations extends the run
//! with K iterations by one more group (the "one-pass loop sweep" falls out of the trie).
//!
//! A depth-first walk keeps the residual stream of a node alive while it runs every child
//! but the last; children are ordered so the largest subtree comes last, which keeps the
//! number of residual streams held at once small ([`PlanTrie::peak_kept`]).
//! [`PlanTrie::groups`] splits a grid into tries that respect a bound on that number.

use crate::plan::{Plan, Step};

/// One executed step, shared by every plan whose steps start with the path to it.
#[derive(Debug, Clone)]
pub struct TrieNode {
    pub step: Step,
    /// Indices (into the plans given to [`PlanTrie::new`]) of the plans that end here.
    pub ends: Vec<usize>,
    /// Ordered by subtree size, largest last.
    pub children: Vec<TrieNode>,
    plans_below: usize,
}

#[derive(Debug, Clone)]
pub struct PlanTrie {
    /// First steps; a plan always has at least one.
    pub children: Vec<TrieNode>,
}

impl PlanTrie {
    pub fn new(plans: &[Plan]) -> Self {
        let mut trie = PlanTrie { children: Vec::new() };
        for (index, plan) in plans.iter().enumerate() {
            trie.insert(index, plan.steps());
        }
        order(&mut trie.children);
        trie
    }

    fn insert(&mut self, index: usize, steps: &[Step]) {
        let (first, rest) = steps.split_first().expect("a plan has at least one step");
        let mut level = &mut self.children;
        let mut node = child(level, first);
        for step in rest {
            level[node].plans_below += 1;
            level = &mut level[node].children;
            node = child(level, step);
        }
        level[node].plans_below += 1;
        level[node].ends.push(index);
    }

    /// Layer passes of one walk over the trie: every shared step counted once.
    pub fn layer_passes(&self) -> usize {
        fn passes(nodes: &[TrieNode]) -> usize {
            nodes.iter().map(|n| n.step.layers().len() + passes(&n.children)).sum()
        }
        passes(&self.children)
    }

    /// The most residual streams a depth-first walk holds at once (the stream being
    /// computed included).
    pub fn peak_kept(&self) -> usize {
        fn peak(nodes: &[TrieNode]) -> usize {
            let last = nodes.len().saturating_sub(1);
            nodes.iter().enumerate().map(|(i, n)| peak(&n.children).max(1) + usize::from(i < last)).max().unwrap_or(0)
        }
        peak(&self.children).max(1)
    }

    /// Splits `plans` into groups (lists of indices, in plan order within a group) whose
    /// tries keep at most `max_kept` residual streams, sharing as much as the bound allows:
    /// plans are taken in canonical-text order, so plans with a common prefix are neighbours.
    pub fn groups(plans: &[Plan], max_kept: usize) -> Vec<Vec<usize>> {
        // Most grids fit whole; only the others pay for the greedy split below, which
        // rebuilds a trie per plan.
        if PlanTrie::new(plans).peak_kept() <= max_kept.max(1) {
            return vec![(0..plans.len()).collect()];
        }
        let texts: Vec<String> = plans.iter().map(|p| p.to_string()).collect();
        let mut order: Vec<usize> = (0..plans.len()).collect();
        order.sort_by(|&a, &b| texts[a].cmp(&texts[b]).then(a.cmp(&b)));
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        for index in order {
            current.push(index);
            let members: Vec<Plan> = current.iter().map(|&i| plans[i].clone()).collect();
            if current.len() > 1 && PlanTrie::new(&members).peak_kept() > max_kept.max(1) {
                current.pop();
                groups.push(std::mem::replace(&mut current, vec![index]));
            }
        }
        if !current.is_empty() {
            groups.push(current);
        }
        for g in &mut groups {
            g.sort_unstable();
        }
        groups
    }
}

/// Index of the child of `level` running `step`, added if missing.
fn child(level: &mut Vec<TrieNode>, step: &Step) -> usize {
    match level.iter().position(|n| &n.step == step) {
        Some(i) => i,
        None => {
            level.push(TrieNode { step: step.clone(), ends: Vec::new(), children: Vec::new(), plans_below: 0 });
            level.len() - 1
        }
    }
}

/// Largest subtree last at every level (stable, so ties keep insertion order).
fn order(level: &mut [TrieNode]) {
    level.sort_by_key(|n| n.plans_below);
    for n in level {
        order(&mut n.children);
    }
}
