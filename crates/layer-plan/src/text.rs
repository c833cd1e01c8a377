//! The plan text form: a strict parser and the canonical printer.
//!
//! ```text
//! plan := step (ws step)*          ws: any run of whitespace
//! step := atom ("x" K)?            K >= 1: the atom K times in sequence
//! atom := layer                    one layer, or half of one
//!       | "[" layer ("|" layer)* "]"   parallel group: same input, outputs merged by mean
//!       | a ".." b part?           layers a, a+1, ..., b-1 (half-open, a < b)
//! layer := i part?                 layer i (0-based)
//! part := ".attn" | ".mlp"         only the attention or the MLP half, with its residual add
//! ```
//!
//! `0..3x2` is `0 1 2 0 1 2`; `20..23.mlp` is `20.mlp 21.mlp 22.mlp` (attention dropped
//! in layers 20-22). The canonical form (`Display` on [`Plan`]) folds maximal runs of
//! identical consecutive steps into `atomxK`, then maximal ascending runs of the remaining
//! single steps of one part into `a..b` (`a..b.attn`); group members print sorted. Every
//! printed form parses back to the same plan. Positions in errors are 1-based character
//! columns.

use std::fmt;
use std::iter::Peekable;
use std::str::CharIndices;

use crate::error::PlanError;
use crate::plan::{
    LayerId, Merge, Part, Plan, Step, check_layer, check_passes, check_range, layer_steps,
};

impl Plan {
    /// Parses plan text (see the module docs) for a model of `num_layers` layers.
    pub fn parse(text: &str, num_layers: usize) -> Result<Plan, PlanError> {
        if num_layers == 0 {
            return Err(PlanError::NoLayers);
        }
        let mut steps = Vec::new();
        let mut passes = Some(0usize);
        for (pos, word) in words(text) {
            let (atom, times) = Word::new(word, pos).step(num_layers)?;
            let atom_passes: usize = atom.iter().map(|step| step.layers().len()).sum();
            passes = passes
                .zip(atom_passes.checked_mul(times))
                .and_then(|(a, b)| a.checked_add(b));
            check_passes(passes)?;
            for _ in 0..times {
                steps.extend(atom.iter().cloned());
            }
        }
        Plan::new(steps, num_layers)
    }
}

/// The whitespace-separated words of `text` with their 1-based character positions.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (char position, byte offset)
    for (pos, (byte, ch)) in text.char_indices().enumerate() {
        match (ch.is_whitespace(), start) {
            (true, Some((p, b))) => {
                out.push((p + 1, &text[b..byte]));
                start = None;
            }
            (false, None) => start = Some((pos, byte)),
            _ => {}
        }
    }
    if let Some((p, b)) = start {
        out.push((p + 1, &text[b..]));
    }
    out
}

/// A cursor over one word (one step) of plan text.
struct Word<'a> {
    text: &'a str,
    /// 1-based character position of the word's first character.
    pos: usize,
    chars: Peekable<CharIndices<'a>>,
    /// Characters consumed so far.
    consumed: usize,
}

impl<'a> Word<'a> {
    fn new(text: &'a str, pos: usize) -> Self {
        Word {
            text,
            pos,
            chars: text.char_indices().peekable(),
            consumed: 0,
        }
    }

    /// Parses `atom ("x" K)?` to the end of the word: the atom's steps and K.
    fn step(mut self, num_layers: usize) -> Result<(Vec<Step>, usize), PlanError> {
        let atom = self.atom(num_layers)?;
        let times = if self.eat('x') {
            let (pos, token, k) = self.number()?;
            if k == 0 {
                return Err(at(pos, token, PlanError::ZeroRepeat));
            }
            k
        } else {
            1
        };
        if self.chars.peek().is_some() {
            return Err(self.unexpected("'x', whitespace or the end of the plan"));
        }
        Ok((atom, times))
    }

    fn atom(&mut self, num_layers: usize) -> Result<Vec<Step>, PlanError> {
        let (pos, byte) = (self.pos + self.consumed, self.byte());
        if self.eat('[') {
            return self.group(pos, byte, num_layers).map(|step| vec![step]);
        }
        let (pos, token, start) = self.number()?;
        if !self.eat('.') {
            check_layer("layer", start, num_layers).map_err(|e| at(pos, token, e))?;
            return Ok(layer_steps([start]));
        }
        if !self.eat('.') {
            let part = self.part((pos, &token))?;
            check_layer("layer", start, num_layers).map_err(|e| at(pos, token, e))?;
            return Ok(vec![Step::Layer(LayerId(start, part))]);
        }
        let (_, end_token, end) = self.number()?;
        let token = format!("{token}..{end_token}");
        check_range("range", start, end, num_layers)
            .and_then(|()| check_passes(Some(end - start)))
            .map_err(|e| at(pos, token.clone(), e))?;
        let part = if self.eat('.') {
            self.part((pos, &token))?
        } else {
            Part::Whole
        };
        Ok((start..end)
            .map(|i| Step::Layer(LayerId(i, part)))
            .collect())
    }

    /// Parses a part name after its '.': `attn` or `mlp` (read no further, so `3.mlpx2`
    /// repeats `3.mlp`).
    /// `layer` is the position and text of what the part follows, for errors.
    fn part(&mut self, layer: (usize, &str)) -> Result<Part, PlanError> {
        const PARTS: [(&str, Part); 2] = [("attn", Part::Attn), ("mlp", Part::Mlp)];
        let mut name = String::new();
        while let Some(&(_, ch)) = self.chars.peek() {
            let longer = format!("{name}{ch}");
            if !PARTS.iter().any(|(p, _)| p.starts_with(&longer)) {
                break;
            }
            name = longer;
            self.advance();
            if let Some((_, part)) = PARTS.iter().find(|(p, _)| *p == name) {
                return Ok(*part);
            }
        }
        let starts_a_name = self
            .chars
            .peek()
            .is_some_and(|&(_, ch)| ch.is_ascii_alphabetic());
        if name.is_empty() && !starts_a_name {
            return Err(self.unexpected("'..' to form a range a..b, or a part: .attn, .mlp"));
        }
        let rest: String = self
            .chars
            .clone()
            .map(|(_, ch)| ch)
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        let found = format!("{name}{rest}");
        Err(at(
            layer.0,
            format!("{}.{found}", layer.1),
            PlanError::UnknownPart { found },
        ))
    }

    /// Parses the rest of a group after its `[`, which started at (`pos`, `byte`).
    fn group(&mut self, pos: usize, byte: usize, num_layers: usize) -> Result<Step, PlanError> {
        let mut layers = Vec::new();
        loop {
            let (pos, token, layer) = self.number()?;
            check_layer("layer", layer, num_layers).map_err(|e| at(pos, token.clone(), e))?;
            let part = if self.eat('.') {
                self.part((pos, &token))?
            } else {
                Part::Whole
            };
            layers.push(LayerId(layer, part));
            if self.eat(']') {
                break;
            }
            if !self.eat('|') {
                return Err(self.unexpected("'|' or ']'"));
            }
        }
        let token = self.text[byte..self.byte()].to_string();
        Step::Parallel {
            layers,
            merge: Merge::Mean,
        }
        .normalise(num_layers)
        .map_err(|e| at(pos, token, e))
    }

    /// Parses a run of ASCII digits: (position, token, value).
    fn number(&mut self) -> Result<(usize, String, usize), PlanError> {
        let pos = self.pos + self.consumed;
        let mut token = String::new();
        while let Some(&(_, ch)) = self.chars.peek() {
            if !ch.is_ascii_digit() {
                break;
            }
            token.push(ch);
            self.advance();
        }
        if token.is_empty() {
            return Err(self.unexpected("a layer index or count (digits)"));
        }
        match token.parse() {
            Ok(value) => Ok((pos, token, value)),
            Err(_) => Err(at(
                pos,
                token.clone(),
                PlanError::NumberTooLarge { text: token },
            )),
        }
    }

    /// Consumes `want` if it is next.
    fn eat(&mut self, want: char) -> bool {
        let next = self.chars.peek().map(|&(_, ch)| ch);
        if next == Some(want) {
            self.advance();
        }
        next == Some(want)
    }

    /// Byte offset of the cursor in the word.
    fn byte(&mut self) -> usize {
        self.chars.peek().map_or(self.text.len(), |&(byte, _)| byte)
    }

    fn advance(&mut self) {
        self.chars.next();
        self.consumed += 1;
    }

    /// A syntax error at the cursor.
    fn unexpected(&mut self, expected: &'static str) -> PlanError {
        let pos = self.pos + self.consumed;
        let (token, found) = match self.chars.peek() {
            Some(&(_, ch)) => (ch.to_string(), format!("'{ch}'")),
            None => (self.text.to_string(), "the end of the step".to_string()),
        };
        at(pos, token, PlanError::Syntax { expected, found })
    }
}

fn at(pos: usize, token: String, error: PlanError) -> PlanError {
    PlanError::AtChar {
        pos,
        token,
        error: Box::new(error),
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Layer(id) => write!(f, "{id}"),
            Step::Parallel {
                layers,
                merge: Merge::Mean,
            } => {
                let members: Vec<String> = layers.iter().map(LayerId::to_string).collect();
                write!(f, "[{}]", members.join("|"))
            }
        }
    }
}

/// The canonical text: see the module docs.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens = canonical_tokens(self.steps());
        write!(f, "{}", tokens.join(" "))
    }
}

fn canonical_tokens(steps: &[Step]) -> Vec<String> {
    let mut tokens = Vec::new();
    // Ascending run of single, unrepeated steps of one part waiting to be printed:
    // (first, last, part).
    let mut run: Option<(usize, usize, Part)> = None;
    let mut rest = steps;
    while let Some(first) = rest.first() {
        let repeats = rest.iter().take_while(|step| *step == first).count();
        rest = &rest[repeats..];
        match (first, repeats) {
            (Step::Layer(LayerId(i, part)), 1) => match run {
                Some((a, b, p)) if b + 1 == *i && p == *part => run = Some((a, *i, p)),
                _ => {
                    flush(&mut tokens, run);
                    run = Some((*i, *i, *part));
                }
            },
            _ => {
                flush(&mut tokens, run.take());
                let atom = first.to_string();
                tokens.push(if repeats == 1 {
                    atom
                } else {
                    format!("{atom}x{repeats}")
                });
            }
        }
    }
    flush(&mut tokens, run);
    tokens
}

/// Prints a pending ascending run as `a` or `a..b+1`, with its part's suffix.
fn flush(tokens: &mut Vec<String>, run: Option<(usize, usize, Part)>) {
    match run {
        Some((a, b, part)) if a == b => tokens.push(format!("{a}{}", part.suffix())),
        Some((a, b, part)) => tokens.push(format!("{a}..{}{}", b + 1, part.suffix())),
        None => {}
    }
}
