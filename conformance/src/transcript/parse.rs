//! Transcript text → AST, with the pest grammar in `grammar.pest`.

use std::time::Duration;

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::TranscriptError;

#[derive(pest_derive::Parser)]
#[grammar = "transcript/grammar.pest"]
struct Grammar;

/// Transcripts larger than this are refused.
pub const MAX_LEN: usize = 16 << 20;

pub fn parse(text: &str) -> Result<Transcript, Vec<TranscriptError>> {
    if text.len() > MAX_LEN {
        return Err(vec![TranscriptError::new(
            Span::new(0, 0),
            format!("transcript is over {MAX_LEN} bytes"),
        )]);
    }
    let mut pairs = Grammar::parse(Rule::file, text).map_err(|e| vec![syntax_error(text, e)])?;
    let file = pairs.next().expect("grammar: file");
    let mut errors = Vec::new();
    let mut inner = file.into_inner();
    let header = inner.next().expect("grammar: header");
    let spec_pair = header.into_inner().nth(1).expect("grammar: spec name");
    let spec_span = span(&spec_pair);
    let spec = if spec_pair.as_rule() == Rule::string {
        String::from_utf8_lossy(&unescape(&spec_pair, &mut errors)).into_owned()
    } else {
        spec_pair.as_str().to_string()
    };
    let cases = inner
        .filter(|p| p.as_rule() == Rule::case)
        .map(|p| case(p, &mut errors))
        .collect();
    if errors.is_empty() {
        Ok(Transcript {
            spec,
            spec_span,
            cases,
        })
    } else {
        Err(errors)
    }
}

fn syntax_error(text: &str, e: pest::error::Error<Rule>) -> TranscriptError {
    let start = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let rest = &text[start.min(text.len())..];
    let len = rest
        .find(char::is_whitespace)
        .unwrap_or(rest.len())
        .max(rest.chars().next().map_or(0, char::len_utf8));
    let found = if start >= text.len() {
        "end of file".to_string()
    } else {
        format!("`{}`", &rest[..len])
    };
    let expected = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
            names.sort_unstable();
            names.dedup();
            names.join(", ")
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {expected}; found {found}")
    };
    TranscriptError::new(Span::new(start, start + len), message).label("not valid here")
}

fn describe(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::EOI => "end of file",
        Rule::header | Rule::kw_spec => "`spec NAME`",
        Rule::case | Rule::kw_case => "`case \"name\"`",
        Rule::string | Rule::bytes => "a string",
        Rule::spec_word => "a spec name or path",
        Rule::role | Rule::kw_client | Rule::kw_server => "`client` or `server`",
        Rule::name | Rule::alternative => "a message name",
        Rule::fields => "`{`",
        Rule::field => "a field",
        Rule::value
        | Rule::wildcard
        | Rule::capture
        | Rule::regex
        | Rule::none
        | Rule::boolean
        | Rule::number
        | Rule::list
        | Rule::structure => "a value",
        Rule::duration => "a duration such as `500ms`",
        Rule::within | Rule::kw_within => "`within`",
        Rule::kw_raw | Rule::raw_step => "`raw`",
        Rule::kw_closes | Rule::closes_step => "`closes`",
        Rule::kw_silent | Rule::silent_step => "`silent`",
        Rule::case_opt | Rule::exclusive | Rule::kw_exclusive | Rule::case_timeout | Rule::kw_timeout => {
            "a case option"
        }
        _ => return None,
    })
}

/// Where `p` is written: from its first to its last character, without the
/// blanks and comments the grammar skips after it (a step without fields
/// ends at its name, not at the next line).
fn span(p: &Pair<'_, Rule>) -> Span {
    Span::new(p.as_span().start(), end(p))
}

/// The end of `p`'s last token: rules that close with a literal end there;
/// any other rule ends where its last part does.
fn end(p: &Pair<'_, Rule>) -> usize {
    match p.as_rule() {
        Rule::fields | Rule::list | Rule::regex => p.as_span().end(),
        Rule::wildcard => p.as_span().start() + 1,
        _ => p
            .clone()
            .into_inner()
            .last()
            .map_or(p.as_span().end(), |last| end(&last)),
    }
}

fn role(p: Pair<'_, Rule>) -> Role {
    if p.as_str() == "server" {
        Role::Server
    } else {
        Role::Client
    }
}

fn duration(p: &Pair<'_, Rule>) -> Duration {
    let s = p.as_str();
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: u64 = digits.parse().unwrap_or(u64::MAX);
    match &s[digits.len()..] {
        "ms" => Duration::from_millis(n),
        "min" => Duration::from_secs(n.saturating_mul(60)),
        _ => Duration::from_secs(n),
    }
}

fn case(p: Pair<'_, Rule>, errors: &mut Vec<TranscriptError>) -> Case {
    let sp = span(&p);
    let mut inner = p.into_inner();
    inner.next(); // kw_case
    let name_pair = inner.next().expect("grammar: case name");
    let name = String::from_utf8_lossy(&unescape(&name_pair, errors)).into_owned();
    let mut case = Case {
        name,
        span: sp,
        exclusive: false,
        timeout: None,
        steps: Vec::new(),
    };
    for item in inner {
        match item.as_rule() {
            Rule::case_opt => {
                let opt = item.into_inner().next().expect("grammar: case option");
                match opt.as_rule() {
                    Rule::exclusive => case.exclusive = true,
                    _ => case.timeout = opt.into_inner().nth(1).map(|d| duration(&d)),
                }
            }
            _ => case.steps.push(step(item, errors)),
        }
    }
    case
}

fn step(p: Pair<'_, Rule>, errors: &mut Vec<TranscriptError>) -> Step {
    let sp = span(&p);
    let rule = p.as_rule();
    let parts: Vec<Pair<'_, Rule>> = p.into_inner().collect();
    let role_of = |parts: &[Pair<'_, Rule>]| {
        parts
            .iter()
            .find(|x| x.as_rule() == Rule::role)
            .cloned()
            .map_or(Role::Client, role)
    };
    let within = parts
        .iter()
        .find(|x| x.as_rule() == Rule::within)
        .and_then(|w| w.clone().into_inner().find(|d| d.as_rule() == Rule::duration))
        .map(|d| duration(&d));
    let r = role_of(&parts);
    let kind = match rule {
        Rule::raw_step => {
            let b = parts
                .iter()
                .find(|x| x.as_rule() == Rule::bytes)
                .expect("grammar: raw bytes");
            StepKind::Raw {
                role: r,
                bytes: bytes(b.clone(), errors),
                within,
            }
        }
        Rule::silent_step => {
            let d = parts
                .iter()
                .find(|x| x.as_rule() == Rule::duration)
                .expect("grammar: duration");
            StepKind::Silent {
                role: r,
                duration: duration(d),
            }
        }
        Rule::closes_step => StepKind::Closes { role: r, within },
        Rule::resets_step => StepKind::Resets { role: r, within },
        Rule::half_closes_step => StepKind::HalfCloses { role: r, within },
        Rule::message_step => {
            let alternatives = parts
                .iter()
                .filter(|x| x.as_rule() == Rule::alternative)
                .map(|a| alternative(a.clone(), errors))
                .collect();
            StepKind::Message {
                role: r,
                alternatives,
                within,
            }
        }
        other => unreachable!("grammar: step {other:?}"),
    };
    Step { kind, span: sp }
}

fn alternative(p: Pair<'_, Rule>, errors: &mut Vec<TranscriptError>) -> Alternative {
    let sp = span(&p);
    let mut inner = p.into_inner();
    let name = inner.next().expect("grammar: message name");
    let fields = inner
        .next()
        .map(|f| field_list(name.as_str(), f, errors))
        .unwrap_or_default();
    Alternative {
        message: name.as_str().to_string(),
        message_span: span(&name),
        fields,
        span: sp,
    }
}

/// The fields of `{ ... }` after message or type `owner`.
fn field_list(owner: &str, f: Pair<'_, Rule>, errors: &mut Vec<TranscriptError>) -> Vec<FieldExpr> {
    let count = f.clone().into_inner().count();
    f.into_inner()
        .map(|field| {
            let mut fi = field.into_inner();
            let n = fi.next().expect("grammar: field name");
            let v = fi.next().expect("grammar: field value");
            if let Some(choice) = fi.next() {
                errors.push(value_choice(owner, &n, &v, &choice, count > 1));
            }
            FieldExpr {
                name: n.as_str().to_string(),
                name_span: span(&n),
                value: value(v, errors),
            }
        })
        .collect()
}

/// The error for `field: a | b`: alternatives are whole messages, and the
/// error shows them written out with this step's message and values.
fn value_choice(
    message: &str,
    field: &Pair<'_, Rule>,
    first: &Pair<'_, Rule>,
    choice: &Pair<'_, Rule>,
    more_fields: bool,
) -> TranscriptError {
    let rest = if more_fields { ", ..." } else { "" };
    let written: Vec<String> = std::iter::once(first.clone())
        .chain(choice.clone().into_inner())
        .map(|v| {
            format!(
                "{message} {{ {}: {}{rest} }}",
                field.as_str(),
                v.as_str().trim_end()
            )
        })
        .collect();
    TranscriptError::new(
        span(choice),
        format!(
            "alternatives are written as whole messages, not as values of a field: `{}`; see \"Several acceptable answers\" in docs/transcripts.md",
            written.join(" | ")
        ),
    )
    .label("a field takes one value")
    .help("alternatives are for what the peer may send; for a text field, a pattern such as `/a|b/` also accepts either value")
}

/// `42`, `-7` or `0xff00`.
fn parse_number(text: &str) -> Result<i128, std::num::ParseIntError> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let n = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => i128::from_str_radix(hex, 16)?,
        None => digits.parse::<i128>()?,
    };
    Ok(if negative { -n } else { n })
}

fn value(p: Pair<'_, Rule>, errors: &mut Vec<TranscriptError>) -> ValueExpr {
    let sp = span(&p);
    let kind = match p.as_rule() {
        Rule::wildcard => ValueKind::Wildcard,
        Rule::capture => ValueKind::Capture(p.as_str()[1..].to_string()),
        Rule::regex => {
            let s = p.as_str();
            ValueKind::Regex(s[1..s.len() - 1].replace("\\/", "/"))
        }
        Rule::none => ValueKind::None,
        Rule::boolean => ValueKind::Bool(p.as_str() == "true"),
        Rule::number => match parse_number(p.as_str()) {
            Ok(n) => ValueKind::Number(n),
            Err(_) => {
                errors.push(TranscriptError::new(
                    sp,
                    format!("number `{}` is out of range", p.as_str()),
                ));
                ValueKind::Number(0)
            }
        },
        Rule::bytes => ValueKind::Bytes(bytes(p, errors)),
        Rule::list => ValueKind::List(p.into_inner().map(|v| value(v, errors)).collect()),
        Rule::structure => {
            let mut inner = p.into_inner();
            let n = inner.next().expect("grammar: type name");
            let fields = inner
                .next()
                .map(|f| field_list(n.as_str(), f, errors))
                .unwrap_or_default();
            ValueKind::Struct {
                name: Some((n.as_str().to_string(), span(&n))),
                fields,
            }
        }
        Rule::fields => ValueKind::Struct {
            name: None,
            fields: field_list("", p, errors),
        },
        other => unreachable!("grammar: value {other:?}"),
    };
    ValueExpr { kind, span: sp }
}

/// Hard limit on one byte string built with `*` (e.g. `"a" * 1048576`).
const MAX_BYTES: usize = 64 << 20;

/// `"abc" * 3 + "\r\n"`: strings concatenated, a `* N` repeating the string before it.
fn bytes(p: Pair<'_, Rule>, errors: &mut Vec<TranscriptError>) -> Vec<u8> {
    let sp = span(&p);
    let mut out = Vec::new();
    let mut last: Vec<u8> = Vec::new();
    for part in p.into_inner() {
        match part.as_rule() {
            Rule::string => {
                last = unescape(&part, errors);
                out.extend_from_slice(&last);
            }
            Rule::count => {
                let n: usize = part.as_str().parse().unwrap_or(usize::MAX);
                let total = last.len().saturating_mul(n);
                if total > MAX_BYTES {
                    errors.push(TranscriptError::new(
                        sp,
                        format!("byte string of {total} bytes is over {MAX_BYTES}"),
                    ));
                    return out;
                }
                // The string was appended once already.
                for _ in 1..n {
                    out.extend_from_slice(&last);
                }
                if n == 0 {
                    out.truncate(out.len() - last.len());
                }
            }
            _ => {}
        }
    }
    out
}

/// Decodes a string's escapes, as the spec language does.
fn unescape(p: &Pair<'_, Rule>, errors: &mut Vec<TranscriptError>) -> Vec<u8> {
    let raw = p.as_str();
    let base = p.as_span().start() + 1;
    let (bytes, bad) = protocol_dsl::parse::unescape(&raw[1..raw.len() - 1]);
    for e in bad {
        errors.push(
            TranscriptError::new(Span::new(base + e.start, base + e.end), e.message)
                .label(e.label)
                .help(e.help),
        );
    }
    bytes
}
