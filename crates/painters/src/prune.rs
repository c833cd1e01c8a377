//! Which layers can go, by search: iterative greedy pruning (SLEB; Moslem et al.) — from
//! the current plan, score every candidate that removes one unprotected remaining step,
//! keep the best, repeat — and the one-shot proxies it is compared with: ShortGPT's
//! lowest Block Influence and Gromov et al.'s least-distant block.
//!
//! The search is independent of what it optimises: an [`Objective`] scores a set of plans
//! at once (so one step's candidates can share their prefixes in a plan trie) and says
//! whether lower or higher is better. Ties go to the lower layer index.

use anyhow::{Result, bail};
use layer_plan::{Plan, PlanTrie, Step};
use serde::Serialize;

/// What the search optimises.
pub trait Objective {
    /// Lower is better (NLL) rather than higher (accuracy).
    fn minimise(&self) -> bool;
    /// One score per plan, in order.
    fn score(&mut self, plans: &[Plan]) -> Result<Vec<f64>>;
}

/// When the search stops, besides after `steps` removals.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stop {
    /// Stop once the plan has this many steps left.
    pub target_layers: Option<usize>,
    /// Stop before a removal whose score falls below this fraction of the start plan's
    /// ([`fraction`]).
    pub min_score: Option<f64>,
}

/// One row of prune.csv: the plan after `step` removals (step 0: the start plan).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PruneStep {
    pub step: usize,
    /// The model layer removed at this step (the lowest of a parallel group).
    pub removed: Option<usize>,
    pub plan: String,
    pub layers_left: usize,
    pub objective: f64,
    /// The objective as a fraction of the start plan's, 1 = no loss ([`fraction`]);
    /// `None` for a one-shot proxy, whose objective is the proxy's value.
    pub score_fraction: Option<f64>,
    /// The second-best candidate of this step and its objective.
    pub runner_up: Option<usize>,
    pub runner_up_objective: Option<f64>,
    /// Layer passes per text to score this step's candidates as one plan trie, and one
    /// by one.
    pub layer_passes: usize,
    pub layer_passes_unshared: usize,
}

/// `score` relative to `start`, 1 when equal and below 1 when worse: `start / score` for
/// a minimised objective (NLL), `score / start` for a maximised one.
pub fn fraction(minimise: bool, start: f64, score: f64) -> f64 {
    if minimise {
        start / score
    } else {
        score / start
    }
}

/// The first model layer a step runs (what a removal is named by).
fn first_layer(step: &Step) -> usize {
    step.layers().iter().map(|l| l.0).min().unwrap_or(0)
}

/// Each step of `plan` that runs no `protected` layer, as (step index, its first layer),
/// by layer index.
pub fn removable(plan: &Plan, protected: &[usize]) -> Removable {
    let mut out: Removable = plan
        .steps()
        .iter()
        .enumerate()
        .filter(|(_, step)| !step.layers().iter().any(|l| protected.contains(&l.0)))
        .map(|(i, step)| (i, first_layer(step)))
        .collect();
    out.sort_by_key(|&(i, layer)| (layer, i));
    out
}

/// (step index, its first layer) of the steps a search may remove, by layer index.
pub type Removable = Vec<(usize, usize)>;

/// Each step of `plan` that runs no `protected` layer ([`removable`]), and the plan
/// without it.
pub fn single_removals(plan: &Plan, protected: &[usize]) -> Result<(Removable, Vec<Plan>)> {
    let options = removable(plan, protected);
    let plans = options
        .iter()
        .map(|&(i, _)| plan.without_steps(i..i + 1))
        .collect::<Result<_, _>>()?;
    Ok((options, plans))
}

/// Layer passes per text of `plans` scored as plan tries of at most `max_kept` streams,
/// and one by one.
pub fn layer_passes(plans: &[Plan], max_kept: usize) -> (usize, usize) {
    let shared = PlanTrie::groups(plans, max_kept)
        .iter()
        .map(|group| {
            let members: Vec<Plan> = group.iter().map(|&p| plans[p].clone()).collect();
            PlanTrie::new(&members).layer_passes()
        })
        .sum();
    (shared, plans.iter().map(Plan::layer_passes).sum())
}

/// Greedy search from `start` for at most `steps` removals; `on_step` sees each row as
/// soon as it is decided (rows are also returned, step 0 first).
pub fn greedy(
    start: &Plan,
    protected: &[usize],
    steps: usize,
    stop: Stop,
    max_kept: usize,
    objective: &mut dyn Objective,
    on_step: &mut dyn FnMut(&PruneStep) -> Result<()>,
) -> Result<Vec<PruneStep>> {
    let minimise = objective.minimise();
    let better = |a: f64, b: f64| if minimise { a < b } else { a > b };
    let mut current = start.clone();
    let mut rows: Vec<PruneStep> = Vec::new();
    for step in 1..=steps {
        let left = current.steps().len();
        if left <= 1 || stop.target_layers.is_some_and(|t| left <= t) {
            break;
        }
        let (options, mut plans) = single_removals(&current, protected)?;
        if options.is_empty() {
            break;
        }
        // The start plan is scored with the first step's candidates, sharing their passes.
        if rows.is_empty() {
            plans.push(current.clone());
        }
        let (shared, unshared) = layer_passes(&plans, max_kept);
        let mut scores = objective.score(&plans)?;
        if scores.len() != plans.len() {
            bail!(
                "the objective scored {} of {} plans",
                scores.len(),
                plans.len()
            );
        }
        if rows.is_empty() {
            let score = scores.pop().expect("the start plan's score");
            plans.pop();
            let row = PruneStep {
                step: 0,
                removed: None,
                plan: current.to_string(),
                layers_left: current.steps().len(),
                objective: score,
                score_fraction: Some(1.0),
                runner_up: None,
                runner_up_objective: None,
                layer_passes: 0,
                layer_passes_unshared: 0,
            };
            on_step(&row)?;
            rows.push(row);
        }
        // Candidates are in layer order, so keeping the first of equals breaks ties
        // towards the lower layer.
        let mut order: Vec<usize> = (0..plans.len()).collect();
        order.sort_by(|&a, &b| {
            match (better(scores[a], scores[b]), better(scores[b], scores[a])) {
                (true, _) => std::cmp::Ordering::Less,
                (_, true) => std::cmp::Ordering::Greater,
                _ => a.cmp(&b),
            }
        });
        let (best, runner_up) = (order[0], order.get(1).copied());
        let start_score = rows[0].objective;
        let score_fraction = fraction(minimise, start_score, scores[best]);
        if stop.min_score.is_some_and(|m| score_fraction < m) {
            break;
        }
        current = plans[best].clone();
        let row = PruneStep {
            step,
            removed: Some(options[best].1),
            plan: current.to_string(),
            layers_left: current.steps().len(),
            objective: scores[best],
            score_fraction: Some(score_fraction),
            runner_up: runner_up.map(|r| options[r].1),
            runner_up_objective: runner_up.map(|r| scores[r]),
            layer_passes: shared,
            layer_passes_unshared: unshared,
        };
        on_step(&row)?;
        rows.push(row);
    }
    Ok(rows)
}

/// ShortGPT: the `k` removable steps with the lowest `influence` (per step of `start`),
/// ties towards the lower layer, removed together; one plan per k = 1..=steps, each
/// removing the previous one's steps and the next lowest.
pub fn lowest_influence(
    start: &Plan,
    protected: &[usize],
    influence: &[f64],
    steps: usize,
) -> Result<Vec<(usize, Plan, f64)>> {
    let mut order = removable(start, protected);
    order.sort_by(|a, b| {
        influence[a.0]
            .total_cmp(&influence[b.0])
            .then(a.1.cmp(&b.1))
    });
    let mut out = Vec::new();
    for k in 1..=steps.min(order.len()) {
        let gone: Vec<usize> = order[..k].iter().map(|&(i, _)| i).collect();
        let kept: Vec<Step> = start
            .steps()
            .iter()
            .enumerate()
            .filter(|(i, _)| !gone.contains(i))
            .map(|(_, s)| s.clone())
            .collect();
        let (step, layer) = order[k - 1];
        out.push((layer, Plan::new(kept, start.num_layers())?, influence[step]));
    }
    Ok(out)
}

/// Gromov et al.: for each k = 1..=steps, the block of k consecutive steps of `start`
/// with the least angular distance `angular[k - 1][l]` that runs no protected layer (the
/// lower start on a tie), removed: (first layer of the block, plan, distance).
pub fn least_distant_blocks(
    start: &Plan,
    protected: &[usize],
    angular: &[Vec<f64>],
    steps: usize,
) -> Result<Vec<(usize, Plan, f64)>> {
    let free: Vec<bool> = start
        .steps()
        .iter()
        .map(|s| !s.layers().iter().any(|l| protected.contains(&l.0)))
        .collect();
    let mut out = Vec::new();
    for (k, distances) in angular.iter().enumerate().take(steps) {
        let n = k + 1;
        let best = distances
            .iter()
            .enumerate()
            .filter(|&(l, _)| free[l..l + n].iter().all(|&f| f))
            .fold(None, |best: Option<(usize, f64)>, (l, &d)| match best {
                Some((_, b)) if b <= d => best,
                _ => Some((l, d)),
            });
        let Some((l, d)) = best else { break };
        out.push((
            first_layer(&start.steps()[l]),
            start.without_steps(l..l + n)?,
            d,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores a plan by a fixed cost per layer it runs (lower is better), counting calls.
    struct Costs {
        cost: Vec<f64>,
        calls: usize,
    }

    impl Objective for Costs {
        fn minimise(&self) -> bool {
            true
        }
        fn score(&mut self, plans: &[Plan]) -> Result<Vec<f64>> {
            self.calls += 1;
            Ok(plans
                .iter()
                .map(|p| {
                    p.steps()
                        .iter()
                        .flat_map(|s| s.layers())
                        .map(|l| self.cost[l.0])
                        .sum()
                })
                .collect())
        }
    }

    #[test]
    fn greedy_removes_the_cheapest_loss_first_and_breaks_ties_low() {
        // Removing layer i changes the total by -cost[i]: the most negative goes first;
        // layers 1 and 3 tie.
        let mut objective = Costs {
            cost: vec![5.0, -2.0, 0.5, -2.0, -3.0, 1.0],
            calls: 0,
        };
        let start = Plan::baseline(6).unwrap();
        let mut seen = Vec::new();
        let rows = greedy(
            &start,
            &[0, 5],
            4,
            Stop::default(),
            16,
            &mut objective,
            &mut |r| {
                seen.push(r.clone());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(rows, seen);
        let removed: Vec<Option<usize>> = rows.iter().map(|r| r.removed).collect();
        // Removing a layer with a negative cost makes the total worse (higher); the least
        // damaging is the highest cost: 2 (0.5), then the tie -2/-2 goes to 1, then 3.
        assert_eq!(removed, [None, Some(2), Some(1), Some(3), Some(4)]);
        assert_eq!(rows[1].runner_up, Some(1));
        assert_eq!(rows[4].plan, "0 5");
        assert_eq!(objective.calls, 4, "the start plan is scored with step 1");
        assert!((rows[1].score_fraction.unwrap() - (-0.5 / -1.0)).abs() < 1e-12);
        assert!(rows[1].layer_passes < rows[1].layer_passes_unshared);
    }

    #[test]
    fn stops_at_a_target_or_a_score_floor() {
        let start = Plan::baseline(6).unwrap();
        let run = |stop: Stop| {
            let mut objective = Costs {
                cost: vec![1.0; 6],
                calls: 0,
            };
            greedy(&start, &[], 10, stop, 16, &mut objective, &mut |_| Ok(())).unwrap()
        };
        assert_eq!(run(Stop::default()).last().unwrap().layers_left, 1);
        let target = Stop {
            target_layers: Some(4),
            ..Stop::default()
        };
        assert_eq!(run(target).last().unwrap().layers_left, 4);
        // Total cost 6, then 5, 4, ...: fractions 6/5 > 1 (a minimised total falling is
        // a gain), so the floor never binds here; with higher-is-better it would.
        let floor = Stop {
            min_score: Some(0.9),
            ..Stop::default()
        };
        assert_eq!(run(floor).len(), 6);
    }

    #[test]
    fn one_shot_proxies_respect_protection() {
        let start = Plan::baseline(5).unwrap();
        let influence = [0.9, 0.1, 0.3, 0.1, 0.05];
        let plans = lowest_influence(&start, &[4], &influence, 3).unwrap();
        let texts: Vec<(usize, String)> =
            plans.iter().map(|(l, p, _)| (*l, p.to_string())).collect();
        assert_eq!(
            texts,
            [(1, "0 2..5".into()), (3, "0 2 4".into()), (2, "0 4".into())]
        );
        let angular = vec![vec![0.5, 0.1, 0.2, 0.05, 0.3], vec![0.4, 0.3, 0.3, 0.2]];
        let blocks = least_distant_blocks(&start, &[3], &angular, 2).unwrap();
        let texts: Vec<(usize, String)> =
            blocks.iter().map(|(l, p, _)| (*l, p.to_string())).collect();
        // n = 1: step 3 is protected, so 1; n = 2: blocks over 3 are out, so 1..3.
        assert_eq!(texts, [(1, "0 2..5".into()), (1, "0 3..5".into())]);
    }
}
