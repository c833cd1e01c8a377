//! The plan text form: a strict parser and the canonical printer.
//!
//! ```text
//! plan := step (ws step)*          ws: any run of whitespace
//! step := atom ("x" K)?            K >= 1: the atom K times in sequence
//! atom := i                        layer i (0-based)
//!       | "[" i ("|" j)* "]"       parallel group: same input, outputs merged by mean
//!       | a ".." b                 layers a, a+1, ..., b-1 (half-open, a < b)
//! ```
//!
//! `0..3x2` is `0 1 2 0 1 2`. The canonical form (`Display` on [`Plan`]) folds maximal runs
//! of identical consecutive steps into `atomxK`, then maximal ascending runs of the
//! remaining single layers into `a..b`; group members print sorted. Every printed form
//! parses back to the same plan. Positions in errors are 1-based character columns.

use std::fmt;
use std::iter::Peekable;
use std::str::CharIndices;

use crate::error::PlanError;
use crate::plan::{
    LayerId, Merge, Plan, Step, check_layer, check_passes, check_range, layer_steps,
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
            return Err(self.unexpected("'..' to form a range a..b"));
        }
        let (_, end_token, end) = self.number()?;
        let token = format!("{token}..{end_token}");
        check_range("range", start, end, num_layers)
            .and_then(|()| check_passes(Some(end - start)))
            .map_err(|e| at(pos, token, e))?;
        Ok(layer_steps(start..end))
    }

    /// Parses the rest of a group after its `[`, which started at (`pos`, `byte`).
    fn group(&mut self, pos: usize, byte: usize, num_layers: usize) -> Result<Step, PlanError> {
        let mut layers = Vec::new();
        loop {
            let (pos, token, layer) = self.number()?;
            check_layer("layer", layer, num_layers).map_err(|e| at(pos, token, e))?;
            layers.push(LayerId(layer));
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
    // Ascending run of single, unrepeated layers waiting to be printed: (first, last).
    let mut run: Option<(usize, usize)> = None;
    let mut rest = steps;
    while let Some(first) = rest.first() {
        let repeats = rest.iter().take_while(|step| *step == first).count();
        rest = &rest[repeats..];
        match (first, repeats) {
            (Step::Layer(LayerId(i)), 1) => match run {
                Some((a, b)) if b + 1 == *i => run = Some((a, *i)),
                _ => {
                    flush(&mut tokens, run);
                    run = Some((*i, *i));
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

/// Prints a pending ascending run as `a` or `a..b+1`.
fn flush(tokens: &mut Vec<String>, run: Option<(usize, usize)>) {
    match run {
        Some((a, b)) if a == b => tokens.push(a.to_string()),
        Some((a, b)) => tokens.push(format!("{a}..{}", b + 1)),
        None => {}
    }
}
