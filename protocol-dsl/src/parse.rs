//! Stage 1: source text → AST, with the pest grammar in `grammar.pest`.

use std::time::Duration;

use pest::iterators::Pair;
use pest::Parser as _;

use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// Spec files larger than this are refused before parsing.
pub const MAX_SOURCE_LEN: usize = 1 << 20;
/// Groups and braces nested deeper than this are refused before parsing, so a
/// hostile file cannot exhaust the parser's stack.
pub const MAX_NESTING: usize = 32;

/// Parses a whole spec. On a syntax error returns `None` and the error.
pub fn parse(text: &str, diags: &mut Diagnostics) -> Option<Protocol> {
    if text.len() > MAX_SOURCE_LEN {
        diags.push(
            Diagnostic::new(
                Code::Syntax,
                Span::new(0, 0),
                format!("spec is {} bytes long", text.len()),
            )
            .help(format!("spec files are limited to {MAX_SOURCE_LEN} bytes")),
        );
        return None;
    }
    if let Some(offset) = too_deep(text) {
        diags.push(
            Diagnostic::new(
                Code::Syntax,
                Span::new(offset, offset + 1),
                "groups are nested too deeply",
            )
            .label(format!("more than {MAX_NESTING} levels"))
            .help("flatten the pattern into several parts or messages"),
        );
        return None;
    }
    let mut pairs = match Grammar::parse(Rule::file, text) {
        Ok(pairs) => pairs,
        Err(e) => {
            diags.push(syntax_error(text, e));
            return None;
        }
    };
    let file = pairs.next()?;
    let protocol = file.into_inner().next()?;
    let mut b = Builder { diags };
    Some(b.protocol(protocol))
}

/// The offset of the first bracket nested past [`MAX_NESTING`], skipping
/// strings and comments.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => i = memchr_newline(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = memchr_newline(bytes, i),
            b'(' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn syntax_error(text: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    let (start, end) = match e.location {
        pest::error::InputLocation::Pos(p) => (p, p),
        pest::error::InputLocation::Span((s, e)) => (s, e),
    };
    // Point at the whole offending token so the caret is visible.
    let end = if end > start {
        end
    } else {
        let rest = &text[start.min(text.len())..];
        let len = rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
            .map_or(rest.len(), |(i, _)| i)
            .max(rest.chars().next().map_or(0, char::len_utf8));
        start + len
    };
    let found = if start >= text.len() {
        "end of file".to_string()
    } else {
        let token: String = text[start..end].chars().take(24).collect();
        format!("`{}`", token.escape_debug())
    };
    let (message, help) = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut expected: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
            expected.sort_unstable();
            expected.dedup();
            let message = match expected.len() {
                0 => format!("unexpected {found}"),
                1 => format!("expected {}, found {found}", expected[0]),
                _ => {
                    let (last, rest) = expected.split_last().unwrap_or((&"", &[]));
                    format!("expected {} or {last}, found {found}", rest.join(", "))
                }
            };
            (message, None)
        }
        pest::error::ErrorVariant::CustomError { message } => (message.clone(), None::<String>),
    };
    let mut d = Diagnostic::new(Code::Syntax, Span::new(start, end), message).label("not valid here");
    // A forgotten `;` is found at the next token, often on the next line:
    // also point at where it was most likely meant to go.
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
        let before = text[..start.min(text.len())].trim_end();
        if positives.contains(&Rule::semi)
            && !before.is_empty()
            && text[before.len()..start.min(text.len())].contains('\n')
        {
            let at = before.len();
            let width = before.chars().next_back().map_or(1, char::len_utf8);
            d = d.with_secondary(Span::new(at - width, at), "a `;` may be missing after this");
        }
    }
    if let Some(h) = help {
        d = d.help(h);
    }
    d
}

/// How a grammar rule is named in a syntax error; `None` hides it.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::semi => "`;`",
        Rule::protocol | Rule::kw_protocol => "`protocol`",
        Rule::ident | Rule::word => "a name",
        Rule::string => "a string",
        Rule::number | Rule::size | Rule::int_lit => "a number",
        Rule::expr | Rule::expr_term | Rule::arith => "an expression",
        Rule::count => "`[`",
        Rule::rest_mark => "`..`",
        Rule::constraint => "`=` or `in`",
        Rule::int_set | Rule::int_range => "a set of integers",
        Rule::add_op | Rule::mul_op => "an operator",
        Rule::struct_decl | Rule::kw_struct => "`struct`",
        Rule::choice_decl | Rule::kw_choice => "`choice`",
        Rule::kw_in => "`in`",
        Rule::bits | Rule::kw_bits => "`bits`",
        Rule::if_part | Rule::kw_if => "`if`",
        Rule::match_part | Rule::kw_match => "`match`",
        Rule::match_arm => "a `match` arm",
        Rule::sized_part | Rule::kw_size => "`size`",
        Rule::cmp_op => "a comparison",
        Rule::bit_slice => "a slice",
        Rule::duration => "a duration such as `30s`",
        Rule::port_decl | Rule::kw_port => "`port`",
        Rule::framing_decl | Rule::kw_framing => "`framing`",
        Rule::limits_decl | Rule::kw_limits => "`limits`",
        Rule::timeout_decl | Rule::kw_timeout => "`timeout`",
        Rule::timeout_part => "`idle = ...` or `message = ...`",
        Rule::pipelined_decl | Rule::kw_pipelined => "`pipelined`",
        Rule::overload_decl | Rule::kw_overload => "`overload`",
        Rule::message_decl | Rule::role | Rule::kw_client | Rule::kw_server => "`client`/`server`",
        Rule::kw_message => "`message`",
        Rule::state_decl | Rule::kw_state | Rule::initial_mark | Rule::kw_initial => "`state`",
        Rule::kw_then => "`then`",
        Rule::exact_seg | Rule::kw_exact => "`exact`",
        Rule::raw_seg | Rule::kw_raw => "`raw`",
        Rule::kw_as => "`as`",
        Rule::kw_volatile | Rule::volatile_mark => "`volatile`",
        Rule::pattern | Rule::field | Rule::group => "a pattern",
        Rule::framed_seg | Rule::call => "a name",
        Rule::args | Rule::arg => "arguments",
        // A mark may follow any string or group; listing it in every
        // "expected ..." would only add noise.
        Rule::optional_mark | Rule::repeat_mark => return None,
        Rule::marked_string | Rule::string_alternatives | Rule::labelled_string => "a string",
        Rule::sends_rule | Rule::kw_sends => "`sends`",
        Rule::exchange_rule | Rule::kw_exchange => "`exchange`",
        Rule::otherwise_rule | Rule::kw_otherwise => "`otherwise`",
        Rule::closes_rule | Rule::kw_closes => "`closes`",
        Rule::half_closes_rule | Rule::kw_half_closes => "`half-closes`",
        Rule::ignore_rule | Rule::kw_ignore => "`ignore`",
        Rule::duplex_rule | Rule::kw_duplex => "`duplex`",
        Rule::condition | Rule::kw_where => "`where`",
        Rule::target => "`->`",
        Rule::reply | Rule::reply_alt | Rule::reply_item => "a reply",
        Rule::none_reply | Rule::kw_none => "`none`",
        Rule::close_reply | Rule::close_target | Rule::kw_close => "`close`",
        Rule::half_close_target | Rule::kw_half_close => "`half-close`",
        Rule::quantifier => "`*`, `+` or `?`",
        Rule::unit => "a unit (`KiB`, `MiB`, `GiB`)",
        _ => return None,
    })
}

fn span(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

struct Builder<'d> {
    diags: &'d mut Diagnostics,
}

impl Builder<'_> {
    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: span(&pair),
        }
    }

    fn protocol(&mut self, pair: Pair<'_, Rule>) -> Protocol {
        let sp = span(&pair);
        let mut inner = pair.into_inner();
        inner.next(); // kw_protocol
        let name = self.ident(inner.next().expect("grammar: protocol name"));
        let decls = inner.map(|p| self.decl(p)).collect();
        Protocol {
            name,
            decls,
            span: sp,
        }
    }

    fn decl(&mut self, pair: Pair<'_, Rule>) -> Decl {
        let sp = span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        match rule {
            Rule::port_decl => {
                inner.next();
                let value = self.number(inner.next().expect("grammar: port number"));
                Decl::Port { value, span: sp }
            }
            Rule::framing_decl => {
                inner.next();
                Decl::Framing(self.call(inner.next().expect("grammar: framing call")))
            }
            Rule::limits_decl => {
                inner.next();
                Decl::Limits(
                    inner
                        .map(|l| {
                            let lsp = span(&l);
                            let mut li = l.into_inner();
                            let name = self.ident(li.next().expect("grammar: limit name")); // any word, keywords included
                            let value = self.size(li.next().expect("grammar: limit size"));
                            Limit {
                                name,
                                value,
                                span: lsp,
                            }
                        })
                        .collect(),
                )
            }
            Rule::timeout_decl => Decl::Timeout {
                value: self.timeouts(inner.skip(1)),
                span: sp,
            },
            Rule::pipelined_decl => Decl::Pipelined { span: sp },
            Rule::overload_decl => {
                let s = inner.nth(1).expect("grammar: overload bytes");
                Decl::Overload {
                    bytes: self.string(&s),
                    span: sp,
                }
            }
            Rule::message_decl => Decl::Message(self.message(sp, inner)),
            Rule::struct_decl => {
                inner.next(); // kw_struct
                let name = self.ident(inner.next().expect("grammar: struct name"));
                let body = inner.next().expect("grammar: struct body");
                let segments = if body.as_rule() == Rule::inline_body {
                    let bsp = span(&body);
                    let pattern = body
                        .into_inner()
                        .next()
                        .map(|p| self.pattern(p))
                        .unwrap_or_default();
                    vec![Segment::Inline { pattern, span: bsp }]
                } else {
                    self.body(body)
                };
                Decl::Struct(StructDecl {
                    name,
                    segments,
                    span: sp,
                })
            }
            Rule::choice_decl => {
                inner.next(); // kw_choice
                let name = self.ident(inner.next().expect("grammar: choice name"));
                let branches = inner
                    .filter(|p| p.as_rule() == Rule::ident)
                    .map(|p| self.ident(p))
                    .collect();
                Decl::Choice(ChoiceDecl {
                    name,
                    branches,
                    span: sp,
                })
            }
            Rule::state_decl => Decl::State(self.state(sp, inner)),
            r => unreachable!("grammar: unexpected declaration {r:?}"),
        }
    }

    fn message(&mut self, sp: Span, mut inner: pest::iterators::Pairs<'_, Rule>) -> MessageDecl {
        let role = role(inner.next().expect("grammar: role"));
        inner.next(); // kw_message
        let name = self.ident(inner.next().expect("grammar: message name"));
        let segments = self.body(inner.next().expect("grammar: message body"));
        MessageDecl {
            role,
            name,
            segments,
            span: sp,
        }
    }

    fn body(&mut self, body: Pair<'_, Rule>) -> Vec<Segment> {
        body.into_inner()
            .filter(|p| p.as_rule() != Rule::kw_then)
            .map(|p| self.segment(p))
            .collect()
    }

    fn segment(&mut self, pair: Pair<'_, Rule>) -> Segment {
        let sp = span(&pair);
        match pair.as_rule() {
            Rule::exact_seg => {
                let s = pair.into_inner().nth(1).expect("grammar: exact string");
                Segment::Exact {
                    bytes: self.string(&s),
                    span: sp,
                }
            }
            Rule::raw_seg => {
                let mut inner = pair.into_inner();
                inner.next(); // kw_raw
                let args = self.args(inner.next().expect("grammar: raw args"));
                let field = inner.find(|p| p.as_rule() == Rule::ident).map(|p| self.ident(p));
                Segment::Raw {
                    args,
                    field,
                    span: sp,
                }
            }
            Rule::framed_seg => {
                let mut inner = pair.into_inner();
                let framing = self.call(inner.next().expect("grammar: framing"));
                let pattern = inner.next().map(|p| self.pattern(p)).unwrap_or_default();
                Segment::Framed {
                    framing,
                    pattern,
                    span: sp,
                }
            }
            Rule::pattern => Segment::Default {
                pattern: self.pattern(pair),
                span: sp,
            },
            r => unreachable!("grammar: unexpected segment {r:?}"),
        }
    }

    fn pattern(&mut self, pair: Pair<'_, Rule>) -> Vec<Element> {
        pair.into_inner().map(|p| self.element(p)).collect()
    }

    fn element(&mut self, pair: Pair<'_, Rule>) -> Element {
        let sp = span(&pair);
        match pair.as_rule() {
            Rule::string => Element::Literal {
                bytes: self.string(&pair),
                label: None,
                span: sp,
            },
            Rule::labelled_string => {
                let mut inner = pair.into_inner();
                let string = inner.next().expect("grammar: labelled string");
                let label = inner.find(|p| p.as_rule() == Rule::ident).map(|l| self.ident(l));
                Element::Literal {
                    bytes: self.string(&string),
                    label,
                    span: span(&string),
                }
            }
            Rule::field => {
                let mut inner = pair.into_inner().peekable();
                let volatile = inner.next_if(|p| p.as_rule() == Rule::volatile_mark).is_some();
                let name = self.ident(inner.next().expect("grammar: field name"));
                let ty = inner.next().expect("grammar: field type");
                let ty = match ty.as_rule() {
                    Rule::group => FieldTy::Group(self.group(ty)),
                    _ => FieldTy::Call(self.call(ty)),
                };
                let mut count = None;
                let mut rest = false;
                let mut constraint = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::count => match p.into_inner().next() {
                            Some(e) if e.as_rule() == Rule::rest_mark => rest = true,
                            Some(e) => count = Some(self.expr(e)),
                            None => {}
                        },
                        Rule::constraint => constraint = Some(self.constraint(p)),
                        r => unreachable!("grammar: unexpected field part {r:?}"),
                    }
                }
                Element::Field {
                    name,
                    ty,
                    count,
                    rest,
                    constraint,
                    volatile,
                    span: sp,
                }
            }
            Rule::group => Element::Group(self.group(pair)),
            Rule::if_part => {
                let mut inner = pair.into_inner();
                inner.next(); // kw_if
                let field = self.ident(inner.next().expect("grammar: if field"));
                let mut test = None;
                let mut pattern = Vec::new();
                while let Some(p) = inner.next() {
                    match p.as_rule() {
                        Rule::cmp_op => {
                            let op = p.as_str().to_string();
                            let n = inner.next().expect("grammar: if number");
                            let nsp = span(&n);
                            test = Some(Test::Compare(op, self.int_lit(n), nsp));
                        }
                        Rule::kw_in => {
                            let (ranges, ssp) = self.int_set(inner.next().expect("grammar: if set"));
                            test = Some(Test::In(ranges, ssp));
                        }
                        Rule::pattern => pattern = self.pattern(p),
                        r => unreachable!("grammar: unexpected if part {r:?}"),
                    }
                }
                Element::If {
                    field,
                    test,
                    pattern,
                    span: sp,
                }
            }
            Rule::sized_part => {
                let mut inner = pair.into_inner();
                inner.next(); // kw_size
                let len = self.expr(inner.next().expect("grammar: size expression"));
                let pattern = inner.next().map(|p| self.pattern(p)).unwrap_or_default();
                Element::Sized {
                    len,
                    pattern,
                    span: sp,
                }
            }
            Rule::match_part => {
                let mut inner = pair.into_inner();
                inner.next(); // kw_match
                let field = self.ident(inner.next().expect("grammar: match field"));
                let arms = inner
                    .map(|arm| {
                        let asp = span(&arm);
                        let mut ai = arm.into_inner();
                        let head = ai.next().expect("grammar: match arm values");
                        let values = match head.as_rule() {
                            Rule::wildcard => None,
                            _ => Some(self.int_set(head).0),
                        };
                        let pattern = ai.next().map(|p| self.pattern(p)).unwrap_or_default();
                        MatchArm {
                            values,
                            pattern,
                            span: asp,
                        }
                    })
                    .collect();
                Element::Match {
                    field,
                    arms,
                    span: sp,
                }
            }
            Rule::bits => {
                let mut inner = pair.into_inner();
                inner.next(); // kw_bits
                let carrier = self.ident(inner.next().expect("grammar: bits carrier"));
                let slices = inner
                    .map(|slice| {
                        let ssp = span(&slice);
                        let mut si = slice.into_inner();
                        let name = self.ident(si.next().expect("grammar: slice name"));
                        let width = self.number(si.next().expect("grammar: slice width"));
                        let constraint = si.next().map(|c| self.constraint(c));
                        BitSliceDecl {
                            name,
                            width,
                            constraint,
                            span: ssp,
                        }
                    })
                    .collect();
                Element::Bits {
                    carrier,
                    slices,
                    span: sp,
                }
            }
            Rule::marked_string => {
                let (bytes, mark, lit_span) = self.marked_string(pair);
                Element::Group(Group {
                    alternatives: vec![vec![Element::Literal {
                        bytes,
                        label: None,
                        span: lit_span,
                    }]],
                    optional: mark == Mark::Optional,
                    repeat: match mark {
                        Mark::Optional => None,
                        Mark::ZeroOrMore => Some(0),
                        Mark::OneOrMore => Some(1),
                    },
                    span: sp,
                })
            }
            r => unreachable!("grammar: unexpected element {r:?}"),
        }
    }

    fn group(&mut self, pair: Pair<'_, Rule>) -> Group {
        let sp = span(&pair);
        let mut alternatives = Vec::new();
        let mut optional = false;
        let mut repeat = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::pattern => alternatives.push(self.pattern(p)),
                Rule::optional_mark => optional = true,
                Rule::repeat_mark => repeat = Some(usize::from(p.as_str() == "+")),
                r => unreachable!("grammar: unexpected group part {r:?}"),
            }
        }
        Group {
            alternatives,
            optional,
            repeat,
            span: sp,
        }
    }

    /// `" "+`: the string, its mark and the string's own span.
    fn marked_string(&mut self, pair: Pair<'_, Rule>) -> (Vec<u8>, Mark, Span) {
        let mut inner = pair.into_inner();
        let string = inner.next().expect("grammar: marked string");
        let mark = match inner.next().map(|m| m.as_str()) {
            Some("?") => Mark::Optional,
            Some("*") => Mark::ZeroOrMore,
            _ => Mark::OneOrMore,
        };
        (self.string(&string), mark, span(&string))
    }

    fn call(&mut self, pair: Pair<'_, Rule>) -> Call {
        let sp = span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: call name"));
        let args = inner.next().map(|a| self.args(a)).unwrap_or_default();
        Call { name, args, span: sp }
    }

    fn args(&mut self, pair: Pair<'_, Rule>) -> Vec<Arg> {
        pair.into_inner()
            .map(|arg| {
                let sp = span(&arg);
                let parts: Vec<_> = arg.into_inner().collect();
                let (name, value) = match parts.len() {
                    2 => (Some(self.ident(parts[0].clone())), parts[1].clone()),
                    _ => (None, parts[0].clone()),
                };
                Arg {
                    name,
                    value: self.value(value),
                    span: sp,
                }
            })
            .collect()
    }

    fn value(&mut self, pair: Pair<'_, Rule>) -> Value {
        match pair.as_rule() {
            Rule::string => Value::Str(self.string(&pair)),
            Rule::marked_string => {
                let (bytes, mark, _) = self.marked_string(pair);
                Value::MarkedStr(bytes, mark)
            }
            Rule::string_alternatives => Value::Strs(pair.into_inner().map(|s| self.string(&s)).collect()),
            Rule::duration => Value::Duration(self.duration(pair)),
            Rule::size => Value::Size(self.size(pair)),
            Rule::call => Value::Call(self.call(pair)),
            Rule::arith => Value::Expr(self.expr(pair.into_inner().next().expect("grammar: arith expr"))),
            r => unreachable!("grammar: unexpected value {r:?}"),
        }
    }

    fn constraint(&mut self, pair: Pair<'_, Rule>) -> Constraint {
        let mut inner = pair.into_inner();
        let first = inner.next().expect("grammar: constraint");
        match first.as_rule() {
            Rule::expr => Constraint::Equals(self.expr(first)),
            _ => {
                let (ranges, sp) = self.int_set(inner.next().expect("grammar: value set"));
                Constraint::In(ranges, sp)
            }
        }
    }

    /// `1..=125 | 0xff00`: the ranges, and where the set is written.
    fn int_set(&mut self, set: Pair<'_, Rule>) -> (Vec<(i128, i128)>, Span) {
        let sp = span(&set);
        let ranges = set
            .into_inner()
            .map(|r| {
                let mut ends = r.into_inner();
                let lo = self.int_lit(ends.next().expect("grammar: range start"));
                let hi = ends.next().map_or(lo, |h| self.int_lit(h));
                (lo, hi)
            })
            .collect();
        (ranges, sp)
    }

    /// `a + b * 2`: left-associative sums of products.
    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let sp = span(&pair);
        match pair.as_rule() {
            Rule::expr | Rule::expr_term => {
                let mut inner = pair.into_inner();
                let mut acc = self.expr(inner.next().expect("grammar: operand"));
                while let (Some(op), Some(rhs)) = (inner.next(), inner.next()) {
                    let op = match op.as_str() {
                        "+" => Op::Add,
                        "-" => Op::Sub,
                        "*" => Op::Mul,
                        _ => Op::Div,
                    };
                    let rhs = self.expr(rhs);
                    let span = Span::new(acc.span.start as usize, rhs.span.end as usize);
                    acc = Expr {
                        kind: ExprKind::Binary(op, Box::new(acc), Box::new(rhs)),
                        span,
                    };
                }
                acc
            }
            Rule::int_lit => Expr {
                kind: ExprKind::Int(self.int_lit(pair)),
                span: sp,
            },
            Rule::ident => Expr {
                kind: ExprKind::Name(self.ident(pair)),
                span: sp,
            },
            r => unreachable!("grammar: unexpected expression {r:?}"),
        }
    }

    /// `0x8f`, `-1`, `1_000` (at most 64 bits of magnitude).
    fn int_lit(&mut self, pair: Pair<'_, Rule>) -> i128 {
        let text: String = pair.as_str().chars().filter(|c| *c != '_').collect();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let parsed = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => digits.parse::<u64>(),
        };
        match parsed {
            Ok(v) if negative => -(v as i128),
            Ok(v) => v as i128,
            Err(_) => {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadLiteral,
                        span(&pair),
                        format!("integer `{}` is too large", pair.as_str()),
                    )
                    .label("does not fit in 64 bits")
                    .help("integers in expressions and value sets hold at most 64 bits"),
                );
                0
            }
        }
    }

    fn state(&mut self, sp: Span, inner: pest::iterators::Pairs<'_, Rule>) -> StateDecl {
        let mut initial = false;
        let mut name = None;
        let mut items = Vec::new();
        for p in inner {
            match p.as_rule() {
                Rule::initial_mark => initial = true,
                Rule::kw_state => {}
                Rule::ident => name = Some(self.ident(p)),
                _ => items.push(self.state_item(p)),
            }
        }
        StateDecl {
            initial,
            name: name.expect("grammar: state name"),
            items,
            span: sp,
        }
    }

    fn state_item(&mut self, pair: Pair<'_, Rule>) -> StateItem {
        let sp = span(&pair);
        let rule = pair.as_rule();
        let parts: Vec<_> = pair.into_inner().collect();
        let find = |r: Rule| parts.iter().find(|p| p.as_rule() == r).cloned();
        let role_of = || role(find(Rule::role).expect("grammar: role"));
        let condition =
            find(Rule::condition).map(|c| self.ident(c.into_inner().nth(1).expect("grammar: condition")));
        match rule {
            Rule::sends_rule => StateItem::Sends {
                role: role_of(),
                message: self.ident(find(Rule::ident).expect("grammar: message")),
                condition,
                target: self.target(find(Rule::target).expect("grammar: target")),
                span: sp,
            },
            Rule::exchange_rule => StateItem::Exchange {
                request: self.ident(find(Rule::ident).expect("grammar: request")),
                condition,
                reply: self.reply(find(Rule::reply).expect("grammar: reply")),
                span: sp,
            },
            Rule::otherwise_rule => StateItem::Otherwise {
                message: find(Rule::ident).map(|m| self.ident(m)),
                condition,
                reply: self.reply(find(Rule::reply).expect("grammar: reply")),
                span: sp,
            },
            Rule::closes_rule => StateItem::Closes {
                role: role_of(),
                span: sp,
            },
            Rule::half_closes_rule => StateItem::HalfCloses {
                role: role_of(),
                target: find(Rule::target).map(|t| self.target(t)),
                span: sp,
            },
            Rule::ignore_rule => StateItem::Ignore {
                role: role_of(),
                span: sp,
            },
            Rule::duplex_rule => StateItem::Duplex { span: sp },
            Rule::timeout_decl => StateItem::Timeout {
                value: self.timeouts(parts.iter().skip(1).cloned()),
                span: sp,
            },
            r => unreachable!("grammar: unexpected state item {r:?}"),
        }
    }

    fn target(&mut self, pair: Pair<'_, Rule>) -> Target {
        let inner = pair.into_inner().next().expect("grammar: target");
        match inner.as_rule() {
            Rule::close_target => Target::Close(span(&inner)),
            Rule::half_close_target => Target::HalfClose(span(&inner)),
            _ => Target::State(self.ident(inner)),
        }
    }

    fn reply(&mut self, pair: Pair<'_, Rule>) -> Reply {
        let mut alts = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::none_reply => return Reply::None(span(&p)),
                Rule::close_reply => return Reply::Close(span(&p)),
                Rule::reply_alt => {
                    let sp = span(&p);
                    let items = p
                        .into_inner()
                        .map(|item| {
                            let isp = span(&item);
                            let mut ii = item.into_inner();
                            let message = self.ident(ii.next().expect("grammar: reply message"));
                            let quantifier = match ii.next().map(|q| q.as_str()) {
                                Some("*") => Quantifier::ZeroOrMore,
                                Some("+") => Quantifier::OneOrMore,
                                Some("?") => Quantifier::Optional,
                                _ => Quantifier::One,
                            };
                            ReplyItem {
                                message,
                                quantifier,
                                span: isp,
                            }
                        })
                        .collect();
                    alts.push(ReplySeq { items, span: sp });
                }
                r => unreachable!("grammar: unexpected reply part {r:?}"),
            }
        }
        Reply::Alternatives(alts)
    }

    fn number(&mut self, pair: Pair<'_, Rule>) -> u64 {
        let digits: String = pair.as_str().chars().filter(|c| *c != '_').collect();
        digits.parse().unwrap_or_else(|_| {
            self.diags.push(
                Diagnostic::new(
                    Code::BadLiteral,
                    span(&pair),
                    format!("number `{}` is too large", pair.as_str()),
                )
                .label("does not fit in 64 bits"),
            );
            0
        })
    }

    fn size(&mut self, pair: Pair<'_, Rule>) -> u64 {
        let sp = span(&pair);
        let text = pair.as_str().to_string();
        let mut inner = pair.into_inner();
        let n = self.number(inner.next().expect("grammar: size number"));
        let mult: u64 = match inner.next().map(|u| u.as_str().to_string()).as_deref() {
            Some("KiB") => 1 << 10,
            Some("MiB") => 1 << 20,
            Some("GiB") => 1 << 30,
            _ => 1,
        };
        n.checked_mul(mult).unwrap_or_else(|| {
            self.diags.push(
                Diagnostic::new(Code::BadLiteral, sp, format!("size `{text}` is too large"))
                    .label("does not fit in 64 bits"),
            );
            0
        })
    }

    /// `30s`, or `idle = none, message = 30s`.
    fn timeouts<'i>(&mut self, parts: impl Iterator<Item = Pair<'i, Rule>>) -> Timeouts {
        let mut t = Timeouts::default();
        for part in parts {
            match part.as_rule() {
                Rule::duration => {
                    let d = self.duration(part);
                    t.idle = Some(Some(d));
                    t.message = Some(d);
                }
                Rule::timeout_part => {
                    let sp = span(&part);
                    let mut inner = part.into_inner();
                    let name = inner.next().expect("grammar: timeout name");
                    let value = inner.next().expect("grammar: timeout value");
                    let value = match value.as_rule() {
                        Rule::duration => Some(self.duration(value)),
                        _ => None,
                    };
                    let (slot_set, ok) = match (name.as_str(), value) {
                        ("idle", v) => (t.idle.replace(v).is_some(), true),
                        ("message", Some(d)) => (t.message.replace(d).is_some(), true),
                        ("message", None) => (false, false),
                        _ => {
                            self.diags.push(
                                Diagnostic::new(Code::BadConstruct, sp, format!("unknown timeout `{}`", name.as_str()))
                                    .label("not a timeout")
                                    .help("write `timeout idle = 5min, message = 30s;` (or `timeout 30s;` for both)"),
                            );
                            continue;
                        }
                    };
                    if !ok {
                        self.diags.push(
                            Diagnostic::new(Code::BadConstruct, sp, "`message` timeout cannot be `none`")
                                .label("a message that has begun must end")
                                .help("give it a duration, as in `message = 30s`; a peer that stalls mid-message would hold the connection forever"),
                        );
                    } else if slot_set {
                        self.diags.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                sp,
                                format!("timeout `{}` is given twice", name.as_str()),
                            )
                            .label("second value")
                            .help("keep one"),
                        );
                    }
                }
                Rule::semi => {}
                r => unreachable!("grammar: unexpected timeout part {r:?}"),
            }
        }
        t
    }

    fn duration(&mut self, pair: Pair<'_, Rule>) -> Duration {
        let s = pair.as_str();
        let digits_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '_'))
            .unwrap_or(s.len());
        let digits: String = s[..digits_end].chars().filter(|c| *c != '_').collect();
        let Ok(n) = digits.parse::<u64>() else {
            self.diags.push(
                Diagnostic::new(
                    Code::BadLiteral,
                    span(&pair),
                    format!("duration `{s}` is too large"),
                )
                .label("does not fit in 64 bits"),
            );
            return Duration::ZERO;
        };
        match &s[digits_end..] {
            "ms" => Duration::from_millis(n),
            "min" => Duration::from_secs(n.saturating_mul(60)),
            _ => Duration::from_secs(n),
        }
    }

    /// Decodes a string literal's escapes: `\r \n \t \0 \\ \" \xHH`.
    fn string(&mut self, pair: &Pair<'_, Rule>) -> Vec<u8> {
        let raw = pair.as_str();
        let base = pair.as_span().start() + 1;
        let (bytes, errors) = unescape(&raw[1..raw.len() - 1]);
        for e in errors {
            self.diags.push(
                Diagnostic::new(
                    Code::BadLiteral,
                    Span::new(base + e.start, base + e.end),
                    e.message,
                )
                .label(e.label)
                .help(e.help),
            );
        }
        bytes
    }
}

fn role(pair: Pair<'_, Rule>) -> Role {
    if pair.as_str() == "server" {
        Role::Server
    } else {
        Role::Client
    }
}

/// A bad escape in a string literal, at byte offsets of the literal's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscapeError {
    pub start: usize,
    pub end: usize,
    pub message: String,
    pub label: &'static str,
    pub help: &'static str,
}

/// Decodes a string literal's body: `\r \n \t \0 \\ \" \xHH`. Specs and
/// transcripts share these escapes; every bad one is reported.
pub fn unescape(body: &str) -> (Vec<u8>, Vec<EscapeError>) {
    let mut out = Vec::with_capacity(body.len());
    let mut errors = Vec::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some((_, 'r')) => out.push(b'\r'),
            Some((_, 'n')) => out.push(b'\n'),
            Some((_, 't')) => out.push(b'\t'),
            Some((_, '0')) => out.push(0),
            Some((_, '\\')) => out.push(b'\\'),
            Some((_, '"')) => out.push(b'"'),
            Some((_, 'x')) => {
                let hex: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(b) if hex.len() == 2 => out.push(b),
                    _ => errors.push(EscapeError {
                        start: i,
                        end: i + 2 + hex.len(),
                        message: "invalid `\\x` escape".into(),
                        label: "expected two hex digits",
                        help: "write a byte as `\\x0d`",
                    }),
                }
            }
            Some((j, other)) => errors.push(EscapeError {
                start: i,
                end: j + other.len_utf8(),
                message: format!("unknown escape `\\{}`", other.escape_debug()),
                label: "not an escape",
                help: "the escapes are `\\r`, `\\n`, `\\t`, `\\0`, `\\\\`, `\\\"` and `\\xHH`",
            }),
            None => {}
        }
    }
    (out, errors)
}
