//! lm-eval 0.4.13's answer filters (`lm_eval/filters/`): a pipeline of steps applied to a
//! doc's generations (one per repeat), ending in one answer. GSM8K's two pipelines and
//! task files' `filter_list` both run here.
//!
//! Patterns are Python `re` patterns run by the `regex` crate: the common syntax is the
//! same; what the crate lacks (look-around, back-references) is refused when the task is
//! read, as is a trailing `$` in an extraction pattern (Python's also matches before a
//! final newline).

use regex::Regex;

/// `RegexFilter`'s default fallback.
pub(crate) const INVALID: &str = "[invalid]";

/// One pipeline step.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// `regex`: in each generation, the `group_select`-th match of `re.findall` (negative
    /// counts from the end), its first non-empty group when the pattern has several,
    /// stripped; `fallback` when nothing matches.
    Regex(RegexFilter),
    /// `remove_whitespace`: `str.strip()`.
    RemoveWhitespace,
    Lowercase,
    Uppercase,
    /// `take_first_k`: the first k generations.
    TakeFirstK(usize),
    /// `majority_vote`: the most frequent generation (the first seen among ties).
    MajorityVote,
    /// `take_first`: the first generation, the pipeline's answer.
    TakeFirst,
}

#[derive(Debug, Clone)]
pub(crate) struct RegexFilter {
    pub regex: Regex,
    pub group_select: i64,
    pub fallback: String,
}

impl RegexFilter {
    /// The answer `RegexFilter.apply` extracts from one generation.
    pub fn extract(&self, text: &str) -> String {
        let groups = self.regex.captures_len() - 1;
        let matches: Vec<String> = self
            .regex
            .captures_iter(text)
            .map(|caps| match groups {
                0 => caps[0].to_string(),
                1 => caps.get(1).map_or("", |m| m.as_str()).to_string(),
                // A tuple of groups: its first non-empty one.
                _ => (1..=groups)
                    .filter_map(|g| caps.get(g).map(|m| m.as_str()))
                    .find(|s| !s.is_empty())
                    .map_or_else(|| self.fallback.clone(), str::to_string),
            })
            .collect();
        let n = matches.len() as i64;
        let at = if self.group_select < 0 {
            n + self.group_select
        } else {
            self.group_select
        };
        if matches.is_empty() {
            return self.fallback.clone();
        }
        match usize::try_from(at).ok().and_then(|i| matches.get(i)) {
            Some(m) => crate::pytext::strip(m).to_string(),
            // Python raises IndexError here; lm-eval would stop.
            None => self.fallback.clone(),
        }
    }
}

/// The text before the first stop string, as lm-eval's HF backend cuts a generation.
pub(crate) fn cut_at_stops<'a>(generation: &'a str, until: &[&str]) -> &'a str {
    until.iter().fold(generation, |text, stop| {
        text.split(stop).next().unwrap_or(text)
    })
}

/// Runs `steps` over one doc's generations; the pipeline must end in `take_first`
/// (checked when the task is read), so one answer comes out.
pub(crate) fn apply(steps: &[Step], generations: &[String]) -> String {
    let mut texts: Vec<String> = generations.to_vec();
    for step in steps {
        texts = match step {
            Step::Regex(f) => texts.iter().map(|t| f.extract(t)).collect(),
            Step::RemoveWhitespace => texts
                .iter()
                .map(|t| crate::pytext::strip(t).to_string())
                .collect(),
            Step::Lowercase => texts.iter().map(|t| t.to_lowercase()).collect(),
            Step::Uppercase => texts.iter().map(|t| t.to_uppercase()).collect(),
            Step::TakeFirstK(k) => texts.into_iter().take(*k).collect(),
            Step::MajorityVote => majority(&texts).into_iter().collect(),
            Step::TakeFirst => return texts.into_iter().next().unwrap_or_default(),
        };
    }
    texts.into_iter().next().unwrap_or_default()
}

/// `Counter(texts).most_common(1)[0][0]`: the highest count, the first seen among ties.
fn majority(texts: &[String]) -> Option<String> {
    let mut counts: Vec<(&String, usize)> = Vec::new();
    for t in texts {
        match counts.iter_mut().find(|(s, _)| *s == t) {
            Some((_, n)) => *n += 1,
            None => counts.push((t, 1)),
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(s, _)| s.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex_filter(pattern: &str, group_select: i64) -> RegexFilter {
        RegexFilter {
            regex: Regex::new(pattern).unwrap(),
            group_select,
            fallback: INVALID.to_string(),
        }
    }

    #[test]
    fn regex_selects_as_findall_does() {
        // re.findall(r"#### (\-?[0-9\.\,]+)", "a #### 1,072. b #### 5") == ['1,072.', '5']
        let strict = regex_filter(r"#### (\-?[0-9\.\,]+)", 0);
        assert_eq!(strict.extract("a #### 1,072. b #### 5"), "1,072.");
        // Two groups: findall gives tuples; the first non-empty group of the last match.
        let flexible = regex_filter(r"(-?[$0-9.,]{2,})|(-?[0-9]+)", -1);
        assert_eq!(flexible.extract("x 12 then 7"), "7");
        assert_eq!(flexible.extract("no numbers"), INVALID);
        // No groups: the whole match, stripped.
        assert_eq!(regex_filter(r" [A-D] ", 0).extract("is B here"), "B");
    }

    #[test]
    fn pipelines_vote_take_and_transform() {
        let gens: Vec<String> = ["b", " A ", "b", "a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let vote = [
            Step::RemoveWhitespace,
            Step::Lowercase,
            Step::MajorityVote,
            Step::TakeFirst,
        ];
        // Stripped and lowered: b, a, b, a — a tie, the first seen (b) wins.
        assert_eq!(apply(&vote, &gens), "b");
        let first_two = [
            Step::TakeFirstK(2),
            Step::Uppercase,
            Step::MajorityVote,
            Step::TakeFirst,
        ];
        assert_eq!(apply(&first_two, &gens), "B");
        assert_eq!(apply(&[Step::TakeFirst], &gens), "b");
    }
}
