//! Plans of a grid merged by their common step prefixes, so that an executor runs each
//! shared prefix once and branches: every variant that starts at layer s shares layers
//! 0..s with the baseline, and looped-parallel with K + 1 iterations extends the run
//! with K iterations by one more group (the "one-pass loop sweep" falls out of the trie).
//!
//! [`PlanTrie::walk`] runs the trie depth-first, keeping the residual stream of a node
//! alive while it runs every child but the last; children are ordered so the subtree that
//! needs the most streams comes last, which keeps the number of residual streams held at
//! once as small as any order can, and independent of the order the plans were given in
//! ([`PlanTrie::peak_kept`]). [`PlanTrie::groups`] splits a grid into tries that respect
//! a bound on that number.
//!
//! A trie is as deep as its longest plan (up to [`crate::MAX_LAYER_PASSES`] steps), so
//! nothing here recurses: the nodes live in one flat list (a parent before its
//! children), every walk keeps its own stack, and dropping a trie frees a list.

use crate::plan::{Plan, Step};

/// One executed step, shared by every plan whose steps start with the path to it.
#[derive(Debug, Clone)]
pub struct TrieNode {
    pub step: Step,
    /// Indices (into the plans given to [`PlanTrie::new`]) of the plans that end here.
    pub ends: Vec<usize>,
    /// Indices of the child nodes ([`PlanTrie::node`]), ordered by the streams their
    /// subtrees keep, most last.
    pub children: Vec<usize>,
    /// Residual streams a walk of this node's subtree keeps at once (its own included).
    kept: usize,
}

#[derive(Debug, Clone)]
pub struct PlanTrie {
    /// Every node; a node's children come after it.
    nodes: Vec<TrieNode>,
    /// The nodes of the first steps (a plan always has at least one), ordered as children are.
    roots: Vec<usize>,
    /// See [`PlanTrie::peak_kept`].
    peak_kept: usize,
}

impl PlanTrie {
    pub fn new(plans: &[Plan]) -> Self {
        let mut trie = PlanTrie {
            nodes: Vec::new(),
            roots: Vec::new(),
            peak_kept: 0,
        };
        for (index, plan) in plans.iter().enumerate() {
            trie.insert(index, plan.steps());
        }
        // Children come after their parent, so going backwards orders and measures every
        // subtree before its parent's level.
        for i in (0..trie.nodes.len()).rev() {
            let mut children = std::mem::take(&mut trie.nodes[i].children);
            trie.nodes[i].kept = trie.order(&mut children).max(1);
            trie.nodes[i].children = children;
        }
        let mut roots = std::mem::take(&mut trie.roots);
        trie.peak_kept = trie.order(&mut roots).max(1);
        trie.roots = roots;
        trie
    }

    /// Orders a level of siblings so the one whose subtree keeps the most streams runs
    /// last (stable, so ties keep insertion order), and returns the streams the level
    /// keeps: its i-th node's subtree plus the parent's stream while later siblings still
    /// need it. Sorted ascending, that maximum is the least any order achieves.
    fn order(&self, level: &mut [usize]) -> usize {
        level.sort_by_key(|&c| self.nodes[c].kept);
        let last = level.len().saturating_sub(1);
        level
            .iter()
            .enumerate()
            .map(|(i, &c)| self.nodes[c].kept + usize::from(i < last))
            .max()
            .unwrap_or(0)
    }

    fn insert(&mut self, index: usize, steps: &[Step]) {
        let mut parent = None;
        for step in steps {
            let node = self.child(parent, step);
            parent = Some(node);
        }
        let last = parent.expect("a plan has at least one step");
        self.nodes[last].ends.push(index);
    }

    /// Index of the child of `parent` (None: a root) running `step`, added if missing.
    fn child(&mut self, parent: Option<usize>, step: &Step) -> usize {
        let level = match parent {
            Some(p) => &self.nodes[p].children,
            None => &self.roots,
        };
        if let Some(&c) = level.iter().find(|&&c| self.nodes[c].step == *step) {
            return c;
        }
        let c = self.nodes.len();
        self.nodes.push(TrieNode {
            step: step.clone(),
            ends: Vec::new(),
            children: Vec::new(),
            kept: 0,
        });
        match parent {
            Some(p) => self.nodes[p].children.push(c),
            None => self.roots.push(c),
        }
        c
    }

    /// The nodes of the plans' first steps, in walk order.
    pub fn roots(&self) -> &[usize] {
        &self.roots
    }

    /// The node with index `index` (from [`PlanTrie::roots`] or [`TrieNode::children`]).
    pub fn node(&self, index: usize) -> &TrieNode {
        &self.nodes[index]
    }

    /// Layer passes of one walk over the trie: every shared step counted once.
    pub fn layer_passes(&self) -> usize {
        self.nodes.iter().map(|n| n.step.layers().len()).sum()
    }

    /// The most residual streams [`PlanTrie::walk`] holds at once (the stream being
    /// computed included, as replacing its input).
    pub fn peak_kept(&self) -> usize {
        self.peak_kept
    }

    /// Runs the trie depth-first, as an executor does: `run(step, input)` computes a
    /// node's stream from its parent's (a root's from `input`), and `read(plan, stream)`
    /// gets the stream of every plan where it ends, in walk order. A stream is dropped
    /// as soon as the last child of its node has run, so at most [`PlanTrie::peak_kept`]
    /// are alive at once. Stops at the first error of `read`.
    pub fn walk<S, E>(
        &self,
        input: S,
        mut run: impl FnMut(&Step, &S) -> S,
        mut read: impl FnMut(usize, &S) -> Result<(), E>,
    ) -> Result<(), E> {
        // The nodes still to run below each kept stream, innermost last.
        let mut pending: Vec<(std::slice::Iter<'_, usize>, S)> = vec![(self.roots.iter(), input)];
        while let Some((children, input)) = pending.last_mut() {
            let Some(&next) = children.next() else {
                pending.pop();
                continue;
            };
            let node = &self.nodes[next];
            let stream = run(&node.step, input);
            if children.as_slice().is_empty() {
                pending.pop(); // that was the input's last use
            }
            for &plan in &node.ends {
                read(plan, &stream)?;
            }
            pending.push((node.children.iter(), stream));
        }
        Ok(())
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
