//! lm-eval 0.4.13's Jinja (`utils.apply_template`: Jinja2 with `StrictUndefined`,
//! `keep_trailing_newline` and a `regex_replace` filter) on minijinja, with Python's
//! string methods (minijinja-contrib's pycompat, plus `.index()`), and values printed
//! as Python's `str()` prints them (`None`, `True`, `['a', 'b']`, `1e-05`).
//!
//! lm-eval turns some rendered strings back into values with `ast.literal_eval` (a list
//! of choices, a list of targets). Here a template that is one `{{ expression }}` is
//! evaluated to its value directly, which is what the round trip through Python's
//! `repr` and `literal_eval` gives; a list built any other way is refused.

use minijinja::value::{Serde, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};

/// The environment every task template renders in.
pub(crate) struct Jinja {
    env: Environment<'static>,
}

impl Jinja {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid");
        env.set_syntax(syntax);
        env.set_unknown_method_callback(python_method);
        env.set_formatter(|out, _state, value| {
            if value.kind() == ValueKind::String {
                out.write_str(value.as_str().unwrap_or_default())
            } else {
                out.write_str(&py_str(value))
            }
            .map_err(|_| Error::new(ErrorKind::WriteFailure, "cannot write the output"))
        });
        env.add_filter("regex_replace", regex_replace);
        Jinja { env }
    }

    /// A compile error of `template`, if any (checked when the task file is read).
    pub fn check(&self, template: &str) -> Result<(), String> {
        match single_expression(template) {
            Some(expr) => self.env.compile_expression(expr).map(|_| ()),
            None => self.env.template_from_str(template).map(|_| ()),
        }
        .map_err(|e| message(&e))
    }

    /// `apply_template(template, doc)`.
    pub fn render(&self, template: &str, doc: &serde_json::Value) -> Result<String, String> {
        self.env
            .render_str(template, Value::from(Serde(doc)))
            .map_err(|e| message(&e))
    }

    /// `ast.literal_eval(apply_template(template, doc))` for a template that is one
    /// expression; `None` for any other template.
    pub fn evaluate(
        &self,
        template: &str,
        doc: &serde_json::Value,
    ) -> Option<Result<serde_json::Value, String>> {
        let expr = single_expression(template)?;
        let value = self
            .env
            .compile_expression(expr)
            .and_then(|e| e.eval(Value::from(Serde(doc))))
            .map_err(|e| message(&e));
        Some(value.and_then(|v| serde_json::to_value(&v).map_err(|e| e.to_string())))
    }
}

/// The expression of a template that is exactly `{{ expression }}` (whitespace around it
/// allowed, as `literal_eval` allows it).
pub(crate) fn single_expression(template: &str) -> Option<&str> {
    let inner = template
        .trim()
        .strip_prefix("{{")?
        .strip_suffix("}}")?
        .trim_start_matches('-')
        .trim_end_matches('-');
    let nested = ["{{", "}}", "{%", "{#"].iter().any(|m| inner.contains(m));
    (!nested).then_some(inner)
}

/// minijinja's error with its detail, on one line.
fn message(e: &Error) -> String {
    let mut text = e.kind().to_string();
    if let Some(detail) = e.detail() {
        text = format!("{text}: {detail}");
    }
    text
}

/// Python's methods: `.index()` of strings and lists (absent: an error, as Python's
/// `ValueError`), the rest from minijinja-contrib's pycompat.
fn python_method(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if method != "index" {
        return minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args);
    }
    let [needle] = args else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "index() takes one argument",
        ));
    };
    let found = match value.kind() {
        ValueKind::String => {
            let (hay, sub) = (value.as_str().unwrap_or_default(), needle.as_str());
            sub.and_then(|sub| hay.find(sub))
                .map(|at| hay[..at].chars().count())
        }
        ValueKind::Seq => value.try_iter()?.position(|item| item == *needle),
        _ => return Err(Error::from(ErrorKind::UnknownMethod)),
    };
    found.map(Value::from).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("{} is not in {}", py_str(needle), py_str(value)),
        )
    })
}

/// lm-eval's `regex_replace(string, pattern, repl, count=0)`: Python's `re.sub`, with
/// `\1` / `\g<name>` group references in `repl`.
fn regex_replace(
    string: &str,
    pattern: &str,
    repl: &str,
    count: Option<usize>,
) -> Result<String, Error> {
    let re = regex::Regex::new(pattern)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("regex_replace: {e}")))?;
    let group = regex::Regex::new(r"\\(\d+)|\\g<(\w+)>").expect("valid regex");
    let escaped = repl.replace('$', "$$");
    let repl = group.replace_all(&escaped, |c: &regex::Captures| {
        format!("${{{}}}", c.get(1).or(c.get(2)).map_or("", |m| m.as_str()))
    });
    Ok(re
        .replacen(string, count.unwrap_or(0), repl.as_ref())
        .into_owned())
}

/// Python's `str()` of a value: `repr` inside containers.
fn py_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        _ => py_repr(value),
    }
}

/// Python's `repr()` of a value that came from JSON or a template.
fn py_repr(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => "None".to_string(),
        ValueKind::Bool => if value.is_true() { "True" } else { "False" }.to_string(),
        ValueKind::Number if value.is_integer() => value.to_string(),
        ValueKind::Number => {
            f64::try_from(value.clone()).map_or_else(|_| value.to_string(), py_float)
        }
        ValueKind::String => py_string_repr(value.as_str().unwrap_or_default()),
        ValueKind::Map => {
            let items: Vec<String> = value
                .try_iter()
                .into_iter()
                .flatten()
                .map(|k| {
                    let v = value.get_item(&k).unwrap_or_default();
                    format!("{}: {}", py_repr(&k), py_repr(&v))
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        _ => match value.try_iter() {
            Ok(items) => {
                let items: Vec<String> = items.map(|v| py_repr(&v)).collect();
                format!("[{}]", items.join(", "))
            }
            Err(_) => value.to_string(),
        },
    }
}

/// Python's `repr(float)`: the shortest round-trip digits, positional for exponents in
/// -4..16, else `d.ddde+XX`.
pub(crate) fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let sci = format!("{x:e}"); // shortest digits: "-1.5e-7"
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if (-4..16).contains(&exp) {
        let plain = format!("{x}");
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`; backslash,
/// the quote, `\n`, `\r`, `\t` and other non-printable characters escaped.
fn py_string_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_as_jinja2_does_for_lm_eval_templates() {
        let jinja = Jinja::new();
        let doc = json!({
            "support": "  Mesophiles grow best.\n", "question": "What?",
            "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": " B",
            "n": null, "flag": true, "x": 0.00001, "items": ["it's", "q\"x"]
        });
        let render = |t: &str| jinja.render(t, &doc).unwrap();
        assert_eq!(
            render("{{support.lstrip()}}\nQuestion: {{question}}\nAnswer:"),
            "Mesophiles grow best.\n\nQuestion: What?\nAnswer:"
        );
        assert_eq!(render("{{choices.label.index(answerKey.lstrip())}}"), "1");
        assert_eq!(
            render("{{choices['text'][0]}}|{{n}}|{{flag}}|{{x}}"),
            "a|None|True|1e-05"
        );
        assert_eq!(render("{{items}}"), r#"["it's", 'q"x']"#);
        assert_eq!(render("{{ 'a b c'.split(' ')[-1] }}\n"), "c\n");
        assert_eq!(
            render("{{ '1,000' | regex_replace(',', '') | int + 1 }}"),
            "1001"
        );
        assert!(
            jinja.render("{{missing}}", &doc).is_err(),
            "StrictUndefined"
        );
        assert!(jinja.render("{{choices.label.index('C')}}", &doc).is_err());
    }

    #[test]
    fn one_expression_evaluates_to_its_value() {
        let jinja = Jinja::new();
        let doc = json!({"d1": "x", "d2": "y", "ok": "z"});
        let value = jinja.evaluate("{{[d1, d2, ok]}}", &doc).unwrap().unwrap();
        assert_eq!(value, json!(["x", "y", "z"]));
        assert!(jinja.evaluate("A {{d1}}", &doc).is_none());
        assert!(jinja.evaluate("{{d1}} {{d2}}", &doc).is_none());
    }

    #[test]
    fn python_float_repr() {
        for (x, text) in [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (-2.5e-7, "-2.5e-07"),
        ] {
            assert_eq!(py_float(x), text);
        }
    }
}
