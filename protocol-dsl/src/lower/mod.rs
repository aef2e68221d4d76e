//! Stage 2: AST → IR. Resolves names to indices, validates each construct's
//! arguments and lowers messages to runtime layouts. It reports what it
//! cannot resolve (unknown and duplicate names, wrong roles, bad arguments)
//! and leaves every other judgement to `check`, so it lowers as much of a
//! broken spec as it can and later checks still find their errors.

mod expr;
mod message;
mod state;
mod types;

use std::collections::HashMap;

use protocol_runtime::layout::LengthPrefix;

use crate::ast::{self, Arg, Call, Decl, Span, Value};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

/// Stands for "no bound was written" in a layout's `max`; the bounds check
/// rejects it, so a checked IR never holds it.
pub const UNBOUNDED: usize = usize::MAX;

/// Protocol-wide defaults declared with `framing`, `limits` and `timeout`.
#[derive(Debug, Clone, Default)]
struct Defaults {
    framing: Option<FrameTemplate>,
    line: Option<usize>,
    length: Option<usize>,
    raw: Option<usize>,
    repeat: Option<usize>,
    depth: Option<usize>,
    timeout: Option<crate::ast::Timeouts>,
}

/// A framing that wraps a pattern, before the pattern is known.
#[derive(Debug, Clone)]
enum FrameTemplate {
    Line {
        delimiter: Vec<u8>,
        also_ends: Vec<Vec<u8>>,
        max: usize,
    },
    Length {
        prefix: LengthPrefix,
        max: usize,
        /// `includes = prefix`: the length counts the prefix's bytes too.
        includes_prefix: bool,
    },
    /// `fixed { ... }`: as wide as its pattern.
    Fixed,
}

pub fn lower(protocol: &ast::Protocol, diags: &mut Diagnostics) -> ir::Protocol {
    let mut port = None;
    let mut pipelined = false;
    let mut overload: Option<ir::Overload> = None;
    let mut defaults = Defaults::default();
    let mut framing_decls = Vec::new();

    for decl in &protocol.decls {
        match decl {
            Decl::Port { value, span } => match u16::try_from(*value) {
                Ok(p) if p > 0 => {
                    if port.is_some() {
                        diags.push(duplicate_decl("port", *span));
                    }
                    port = Some(p);
                }
                _ => diags.push(
                    Diagnostic::new(Code::BadLiteral, *span, format!("port `{value}` is out of range"))
                        .label("not a TCP port")
                        .help("a port is between 1 and 65535"),
                ),
            },
            Decl::Pipelined { .. } => pipelined = true,
            Decl::Overload { bytes, span } => {
                if overload.is_some() {
                    diags.push(duplicate_decl("overload", *span));
                }
                if bytes.is_empty() {
                    diags.push(
                        Diagnostic::new(Code::BadConstruct, *span, "`overload` needs at least one byte")
                            .label("empty reply")
                            .help("write the bytes a full server sends, as in `overload \"ERROR Too many open connections\\r\\n\";`"),
                    );
                }
                overload = Some(ir::Overload {
                    bytes: bytes.clone(),
                    span: *span,
                });
            }
            Decl::Timeout { value, span } => {
                if defaults.timeout.is_some() {
                    diags.push(duplicate_decl("timeout", *span));
                }
                defaults.timeout = Some(*value);
            }
            Decl::Limits(limits) => {
                for limit in limits {
                    let slot = match limit.name.name.as_str() {
                        "line" => &mut defaults.line,
                        "length" => &mut defaults.length,
                        "raw" => &mut defaults.raw,
                        "repeat" => &mut defaults.repeat,
                        "depth" => &mut defaults.depth,
                        other => {
                            diags.push(
                                Diagnostic::new(
                                    Code::BadConstruct,
                                    limit.name.span,
                                    format!("unknown limit `{other}`"),
                                )
                                .label("not a limit")
                                .help("the limits are `line`, `length`, `raw`, `repeat` and `depth`"),
                            );
                            continue;
                        }
                    };
                    if slot.is_some() {
                        diags.push(duplicate_decl(
                            &format!("limit `{}`", limit.name.name),
                            limit.span,
                        ));
                    }
                    *slot = Some(to_usize(limit.value));
                }
            }
            Decl::Framing(call) => framing_decls.push(call),
            Decl::Message(_) | Decl::Struct(_) | Decl::Choice(_) | Decl::State(_) => {}
        }
    }
    // The default framing may use the limits, wherever they are declared.
    for (i, call) in framing_decls.into_iter().enumerate() {
        if i > 0 {
            diags.push(duplicate_decl("framing", call.span));
        }
        defaults.framing = frame_template(call, &defaults, diags);
    }

    let type_names = types::names(protocol, diags);
    let types = types::lower_all(protocol, &type_names, &defaults, diags);
    let messages = message::lower_all(protocol, &type_names, &defaults, diags);
    let (states, initial) = state::lower_all(protocol, &messages, &defaults, diags);

    ir::Protocol {
        name: protocol.name.name.clone(),
        span: protocol.span,
        port,
        pipelined,
        overload,
        messages,
        types,
        max_depth: defaults.depth.unwrap_or(UNBOUNDED),
        states,
        initial,
        derived: Default::default(),
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(UNBOUNDED - 1)
}

fn duplicate_decl(what: &str, span: Span) -> Diagnostic {
    Diagnostic::new(Code::DuplicateName, span, format!("{what} is declared twice"))
        .label("second declaration")
        .help("keep one declaration")
}

/// Lowers `line("\r\n", max = N)` or `length(u16be, max = N)`.
fn frame_template(call: &Call, defaults: &Defaults, diags: &mut Diagnostics) -> Option<FrameTemplate> {
    match call.name.name.as_str() {
        "line" => {
            let mut args = Args::new(call, &["delimiter", "max"], diags);
            let (delimiter, also_ends) = match args.positional_or("delimiter") {
                Some(Value::Str(s)) if !s.is_empty() => (s.clone(), Vec::new()),
                Some(Value::Strs(ends)) if ends.iter().all(|e| !e.is_empty()) => {
                    let refs: Vec<&[u8]> = ends.iter().map(Vec::as_slice).collect();
                    if !protocol_runtime::codec::line_ends_are_decidable(&refs) {
                        args.diags.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                call.span,
                                "the line ends of `line` cannot be told apart as bytes arrive",
                            )
                            .label("the shortest end must end every other, and occur in none of them before its end")
                            .help("write ends that share their last bytes, as in `line(\"\\r\\n\" | \"\\n\")`; with `\"\\r\" | \"\\n\"`, a `\\r` could end a line or begin `\\r\\n`"),
                        );
                        return None;
                    }
                    (ends[0].clone(), ends[1..].to_vec())
                }
                Some(v) => {
                    let span = args.span_of("delimiter");
                    args.diags.push(
                        Diagnostic::new(
                            Code::BadConstruct,
                            span,
                            format!(
                                "the delimiter of `line` must be a non-empty string, not {}",
                                v.describe()
                            ),
                        )
                        .label("not a delimiter")
                        .help("write `line(\"\\r\\n\")`, `line(\"\\n\")` or any other byte string"),
                    );
                    return None;
                }
                None => {
                    args.diags.push(
                        Diagnostic::new(Code::BadConstruct, call.span, "`line` needs a delimiter")
                            .label("no delimiter")
                            .help("write `line(\"\\r\\n\", max = 2 KiB)`"),
                    );
                    return None;
                }
            };
            let max = args.size("max").or(defaults.line).unwrap_or(UNBOUNDED);
            args.finish();
            Some(FrameTemplate::Line {
                delimiter,
                also_ends,
                max,
            })
        }
        "length" => {
            let mut args = Args::new(call, &["prefix", "max", "includes"], diags);
            let prefix = match args.positional_or("prefix") {
                Some(Value::Call(c)) if c.args.is_empty() => LengthPrefix::from_name(&c.name.name),
                _ => None,
            };
            let Some(prefix) = prefix else {
                let span = args.span_of("prefix");
                args.diags.push(
                    Diagnostic::new(Code::BadConstruct, span, "`length` needs a prefix type")
                        .label("not a prefix type")
                        .help("the prefixes are `u8`, `u16be`, `u16le`, `u32be`, `u32le`, `u64be`, `u64le` and `varint`"),
                );
                return None;
            };
            let max = args.size("max").or(defaults.length).unwrap_or(UNBOUNDED);
            let includes_prefix = match args.ident("includes") {
                None | Some(("content", _)) => false,
                Some(("prefix", _)) if prefix.width().is_some() => true,
                Some(("prefix", sp)) => {
                    args.diags.push(
                        Diagnostic::new(Code::BadConstruct, sp, "a `varint` length cannot count itself")
                            .label("its width depends on the length")
                            .help("remove `includes = prefix`, or use a fixed-width prefix such as `u32be`"),
                    );
                    return None;
                }
                Some((other, sp)) => {
                    args.diags.push(
                        Diagnostic::new(
                            Code::BadConstruct,
                            sp,
                            format!("`includes = {other}`: a length counts its content, or its prefix too"),
                        )
                        .label("not `content` or `prefix`")
                        .help("write `includes = prefix` for a length that counts its own bytes (PostgreSQL's), or leave it out"),
                    );
                    return None;
                }
            };
            args.finish();
            Some(FrameTemplate::Length {
                prefix,
                max,
                includes_prefix,
            })
        }
        "fixed" => {
            Args::new(call, &[], diags).finish();
            Some(FrameTemplate::Fixed)
        }
        other => {
            diags.push(
                Diagnostic::new(Code::BadConstruct, call.name.span, format!("unknown framing `{other}`"))
                    .label("not a framing")
                    .help("frame a part with `line(...) { ... }`, `length(...) { ... }` or `fixed { ... }`, or use `exact \"...\"` or `raw(...) as name`"),
            );
            None
        }
    }
}

/// The arguments of one call, taken by name or position, with a diagnostic
/// for every argument left over or given twice.
struct Args<'a, 'd> {
    call_span: Span,
    what: String,
    params: &'static [&'static str],
    given: HashMap<&'static str, &'a Arg>,
    diags: &'d mut Diagnostics,
}

impl<'a, 'd> Args<'a, 'd> {
    fn new(call: &'a Call, params: &'static [&'static str], diags: &'d mut Diagnostics) -> Self {
        Self::from_args(&call.name.name, call.span, &call.args, params, diags)
    }

    fn from_args(
        what: &str,
        call_span: Span,
        args: &'a [Arg],
        params: &'static [&'static str],
        diags: &'d mut Diagnostics,
    ) -> Self {
        let mut given = HashMap::new();
        let mut position = 0;
        for arg in args {
            let param = match &arg.name {
                Some(name) => match params.iter().find(|p| **p == name.name) {
                    Some(p) => *p,
                    None => {
                        diags.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                name.span,
                                format!("`{what}` has no argument `{}`", name.name),
                            )
                            .label("unknown argument")
                            .help(format!("`{what}` takes {}", list_names(params))),
                        );
                        continue;
                    }
                },
                None => {
                    // Positional arguments fill the parameters in order; only
                    // leading parameters may be given by position.
                    match params.get(position) {
                        Some(p) if *p != "max" && *p != "sep" && *p != "min" && *p != "over" => {
                            position += 1;
                            *p
                        }
                        _ => {
                            diags.push(
                                Diagnostic::new(
                                    Code::BadConstruct,
                                    arg.span,
                                    format!("too many arguments to `{what}`"),
                                )
                                .label("unexpected argument")
                                .help(format!(
                                    "`{what}` takes {}; name the optional ones, as in `max = 1 KiB`",
                                    list_names(params)
                                )),
                            );
                            continue;
                        }
                    }
                }
            };
            if given.insert(param, arg).is_some() {
                diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        arg.span,
                        format!("argument `{param}` of `{what}` is given twice"),
                    )
                    .label("second value")
                    .help("give each argument once"),
                );
            }
        }
        Args {
            call_span,
            what: what.to_string(),
            params,
            given,
            diags,
        }
    }

    fn positional_or(&mut self, param: &'static str) -> Option<&'a Value> {
        self.given.remove(param).map(|a| &a.value)
    }

    fn span_of(&self, _param: &str) -> Span {
        self.call_span
    }

    fn size(&mut self, param: &'static str) -> Option<usize> {
        let arg = self.given.remove(param)?;
        match &arg.value {
            Value::Size(n) => Some(to_usize(*n)),
            other => {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        arg.span,
                        format!(
                            "`{param}` of `{}` must be a number, not {}",
                            self.what,
                            other.describe()
                        ),
                    )
                    .label("not a number")
                    .help(format!("write `{param} = 1 KiB` or another size")),
                );
                None
            }
        }
    }

    fn string(&mut self, param: &'static str) -> Option<Vec<u8>> {
        let arg = self.given.remove(param)?;
        match &arg.value {
            Value::Str(s) => Some(s.clone()),
            other => {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        arg.span,
                        format!(
                            "`{param}` of `{}` must be a string, not {}",
                            self.what,
                            other.describe()
                        ),
                    )
                    .label("not a string")
                    .help(format!("write `{param} = \" \"`")),
                );
                None
            }
        }
    }

    /// A string, or a run of it: `sep = ","` or `sep = " "+` (`true`).
    fn string_or_run(&mut self, param: &'static str) -> Option<(Vec<u8>, bool)> {
        let run = matches!(
            self.given.get(param).map(|a| &a.value),
            Some(Value::MarkedStr(_, crate::ast::Mark::OneOrMore))
        );
        if run {
            let arg = self.given.remove(param)?;
            if let Value::MarkedStr(s, _) = &arg.value {
                return Some((s.clone(), true));
            }
        }
        self.string(param).map(|s| (s, false))
    }

    fn ident(&mut self, param: &'static str) -> Option<(&'a str, Span)> {
        let arg = self.given.remove(param)?;
        match &arg.value {
            Value::Call(c) if c.args.is_empty() => Some((c.name.name.as_str(), c.span)),
            other => {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        arg.span,
                        format!(
                            "`{param}` of `{}` must be a name, not {}",
                            self.what,
                            other.describe()
                        ),
                    )
                    .label("not a name"),
                );
                None
            }
        }
    }

    /// Reports arguments that were accepted by name but that this use of the
    /// construct does not read.
    fn finish(self) {
        let _ = self.params;
        for (param, arg) in self.given {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    arg.span,
                    format!("argument `{param}` has no meaning for `{}` here", self.what),
                )
                .label("unused argument")
                .help("remove it"),
            );
        }
    }
}

fn list_names(params: &[&str]) -> String {
    let quoted: Vec<String> = params.iter().map(|p| format!("`{p}`")).collect();
    match quoted.split_last() {
        None => "no arguments".to_string(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}
