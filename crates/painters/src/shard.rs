//! Splitting a grid over processes (`painters run --shard i/n`): a deterministic
//! assignment of the grid's cells to `n` shards, balanced by estimated cost.
//!
//! The unit of assignment is a distinct plan: cells with the same plan have the same
//! store keys, so they go to one shard and are computed once. A unit's cost is its plan's
//! layer passes; every cell runs every task, so a task's weight (items x passes per item)
//! is a factor common to all units and does not change the assignment. Units are handed
//! out longest first, each to the least loaded shard (ties: the lower shard index, then
//! the earlier cell), so no shard's load exceeds the lightest one's by more than the cost
//! of one unit.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::experiment::Cell;

/// Shard `index` of `count` (`0 <= index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;

    /// `I/N`, as `--shard` takes it; the error says what the valid values are.
    fn from_str(text: &str) -> Result<Self, String> {
        let parsed = text.split_once('/').and_then(|(i, n)| {
            Some((
                i.trim().parse::<usize>().ok()?,
                n.trim().parse::<usize>().ok()?,
            ))
        });
        match parsed {
            None => Err("expected I/N, the shard index I out of N shards (e.g. 0/4)".into()),
            Some((_, 0)) => Err("N must be at least 1".into()),
            Some((index, count)) if index >= count => Err(format!(
                "shard index {index} is out of range: with N = {count}, I is in 0..={}",
                count - 1
            )),
            Some((index, count)) => Ok(Shard { index, count }),
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The number of distinct plans among `cells`: the most shards that all get work.
pub fn units(cells: &[Cell]) -> usize {
    unit_of(cells).1.len()
}

/// The indices of the cells `shard` runs, in grid order.
pub fn cells_of(cells: &[Cell], shard: Shard) -> Vec<usize> {
    let (unit, costs) = unit_of(cells);
    let owner = assign(&costs, shard.count);
    (0..cells.len())
        .filter(|&c| owner[unit[c]] == shard.index)
        .collect()
}

/// Each cell's unit (distinct plans numbered in order of first appearance) and each
/// unit's cost.
fn unit_of(cells: &[Cell]) -> (Vec<usize>, Vec<usize>) {
    let mut ids = HashMap::new();
    let mut costs = Vec::new();
    let unit = cells
        .iter()
        .map(|cell| {
            *ids.entry(&cell.plan).or_insert_with(|| {
                costs.push(cell.plan.layer_passes());
                costs.len() - 1
            })
        })
        .collect();
    (unit, costs)
}

/// Longest-processing-time assignment of `costs` to `count` shards: the shard of each unit.
fn assign(costs: &[usize], count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by_key(|&u| std::cmp::Reverse(costs[u]));
    let mut load = vec![0usize; count];
    let mut owner = vec![0; costs.len()];
    for u in order {
        let lightest = (0..count)
            .min_by_key(|&s| load[s])
            .expect("at least one shard");
        load[lightest] += costs[u];
        owner[u] = lightest;
    }
    owner
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::ExperimentFile;

    fn cells(variants: &str) -> Vec<Cell> {
        let text =
            format!("[model]\ndir = \"m\"\nlayers = 30\n[[tasks]]\nname = \"piqa\"\n{variants}");
        ExperimentFile::parse(std::path::Path::new("x.toml"), &text)
            .unwrap()
            .cells(30)
            .unwrap()
    }

    #[test]
    fn shards_parse_with_the_valid_range_in_errors() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("0/1".parse(), Ok(Shard { index: 0, count: 1 }));
        assert_eq!(
            "4/4".parse::<Shard>().unwrap_err(),
            "shard index 4 is out of range: with N = 4, I is in 0..=3"
        );
        assert_eq!("0/0".parse::<Shard>().unwrap_err(), "N must be at least 1");
        for bad in ["", "3", "a/4", "1/b", "-1/4", "1/4/5"] {
            assert!(
                bad.parse::<Shard>()
                    .unwrap_err()
                    .starts_with("expected I/N"),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_cell_lands_in_exactly_one_shard() {
        let grid = cells(
            "[[variants]]\nkind = \"skip\"\nstart_layer = { from = 0, to = 14 }\n[[variants]]\nkind = \"looped-parallel\"\nstart_layer = [6, 10]\ntimes = [1, 2, 3]\n",
        );
        for count in 1..=7 {
            let mut seen: Vec<usize> = (0..count)
                .flat_map(|index| cells_of(&grid, Shard { index, count }))
                .collect();
            seen.sort();
            assert_eq!(seen, (0..grid.len()).collect::<Vec<_>>(), "{count} shards");
        }
    }

    #[test]
    fn cost_is_balanced_longest_first() {
        // No load exceeds the lightest by more than the largest unit.
        let grid = cells(
            "[[variants]]\nkind = \"looped-parallel\"\nstart_layer = { from = 0, to = 14 }\ntimes = [1, 3]\n",
        );
        let cost = |shard| {
            cells_of(&grid, shard)
                .iter()
                .map(|&c| grid[c].plan.layer_passes())
                .sum::<usize>()
        };
        let loads: Vec<usize> = (0..4)
            .map(|index| cost(Shard { index, count: 4 }))
            .collect();
        let largest = grid.iter().map(|c| c.plan.layer_passes()).max().unwrap();
        assert!(
            loads.iter().max().unwrap() - loads.iter().min().unwrap() <= largest,
            "{loads:?}"
        );
        assert_eq!(assign(&[5, 9, 1, 9, 4], 2), vec![0, 0, 1, 1, 1]);
    }

    #[test]
    fn cells_with_one_plan_share_a_shard() {
        // parallel s=10 and looped-parallel s=10 K=1 compile to the same plan.
        let grid = cells(
            "[[variants]]\nkind = \"parallel\"\nstart_layer = 10\n[[variants]]\nkind = \"looped-parallel\"\nstart_layer = 10\ntimes = [1, 2]\n",
        );
        assert_eq!(units(&grid), 3);
        let holder = (0..3)
            .find(|&index| cells_of(&grid, Shard { index, count: 3 }).contains(&1))
            .unwrap();
        assert!(
            cells_of(
                &grid,
                Shard {
                    index: holder,
                    count: 3
                }
            )
            .contains(&2)
        );
    }
}
