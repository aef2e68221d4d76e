//! A readable text form of the IR, for `conformance check --ir` and snapshot
//! tests. Each node is followed by the `line:col` it came from.

use std::fmt::Write;

use protocol_runtime::layout::{FieldType, Framing, ItemKind, MessageLayout, Oversize, Pattern, RawLen};

use crate::diagnostic::Source;
use crate::ir::{self, Repeat, Reply, RuleKind, Span, Target};

pub fn dump(p: &ir::Protocol, source: &Source) -> String {
    let at = |span: Span| {
        let (l, c) = source.line_col(span.start as usize);
        format!("@{l}:{c}")
    };
    let mut out = String::new();
    let mut header = format!("protocol {}", p.name);
    if let Some(port) = p.port {
        let _ = write!(header, " port {port}");
    }
    if p.pipelined {
        header.push_str(" pipelined");
    }
    if let Some(o) = &p.overload {
        let _ = write!(header, " overload {}", bytes(&o.bytes));
    }
    let _ = writeln!(out, "{header} {}", at(p.span));
    let mut bodies: Vec<(String, &MessageLayout)> = Vec::new();
    for t in &p.types {
        match &t.kind {
            crate::ir::TypeKind::Struct(l) => bodies.push((format!("struct {} {}", t.name, at(t.span)), l)),
            crate::ir::TypeKind::Choice(bs) => {
                let names: Vec<&str> = bs.iter().map(|b| p.types[*b].name.as_str()).collect();
                let _ = writeln!(out, "\nchoice {} = {} {}", t.name, names.join(" | "), at(t.span));
            }
        }
    }
    for m in &p.messages {
        bodies.push((format!("{} message {} {}", m.role, m.name, at(m.span)), &m.layout));
    }
    if p.max_depth != crate::lower::UNBOUNDED {
        let _ = writeln!(out, "\nlimit depth {}", p.max_depth);
    }
    for (title, layout) in bodies {
        let m = Body { layout };
        let _ = writeln!(out, "\n{title}");
        for f in &m.layout.fields {
            let mut flags = String::new();
            if f.optional {
                flags.push_str(" optional");
            }
            if f.derived {
                flags.push_str(" derived");
            }
            if f.volatile {
                flags.push_str(" volatile");
            }
            let mut names = if f.labels.is_empty() {
                String::new()
            } else {
                format!(" named {}", f.labels.join(" | "))
            };
            if let Some(set) = &f.constraint {
                let _ = write!(names, " in {set}");
            }
            if let Some(eq) = f.equals {
                let _ = write!(names, " = {}", linear(eq, m.layout));
            }
            let _ = writeln!(
                out,
                "  field {}: {}{names}{flags} {}",
                f.name,
                type_names(with_names(ty(&f.ty), &f.ty, m.layout), p),
                at(f.span)
            );
        }
        for seg in &m.layout.segments {
            let _ = writeln!(out, "  {} {}", framing(&seg.framing, m.layout), at(seg.span));
        }
    }
    for (id, s) in p.states.iter().enumerate() {
        let initial = if id == p.initial { "initial " } else { "" };
        let timeout = match s.idle_timeout {
            Some(idle) if idle == s.timeout => format!("{:?}", s.timeout),
            Some(idle) => format!("idle {idle:?}, message {:?}", s.timeout),
            None => format!("idle none, message {:?}", s.timeout),
        };
        let _ = writeln!(
            out,
            "\n{initial}state {} timeout {timeout} {}",
            s.name,
            at(s.span)
        );
        if s.duplex {
            let _ = writeln!(out, "  duplex");
        }
        if let Some(role) = s.ignore {
            let _ = writeln!(out, "  ignore {role}");
        }
        for r in &s.rules {
            let line = rule_text(p, r);
            let _ = writeln!(out, "  {line} {}", at(r.span));
        }
        if let Some(reply) = &s.otherwise {
            let _ = writeln!(out, "  otherwise -> {}", reply_text(p, reply));
        }
    }
    out
}

fn target_name(p: &ir::Protocol, t: &Target) -> String {
    match t {
        Target::State(s) => p.states[*s].name.clone(),
        Target::Close => "close".into(),
        Target::HalfClose => "half-close".into(),
    }
}

/// A reply grammar as the spec writes it: `Value* End | Error`, `none`, `close`.
pub fn reply_text(p: &ir::Protocol, r: &Reply) -> String {
    match r {
        Reply::None { .. } => "none".into(),
        Reply::Close { .. } => "close".into(),
        Reply::Sequences(seqs) => seqs
            .iter()
            .map(|s| {
                s.items
                    .iter()
                    .map(|i| {
                        let q = match i.repeat {
                            Repeat::One => "",
                            Repeat::Optional => "?",
                            Repeat::ZeroOrMore => "*",
                            Repeat::OneOrMore => "+",
                        };
                        format!("{}{q}", p.messages[i.message].name)
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" | "),
    }
}

fn bytes(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

struct Body<'a> {
    layout: &'a MessageLayout,
}

/// `type#3` written as the type's name.
fn type_names(text: String, p: &crate::ir::Protocol) -> String {
    let mut out = text;
    for (i, t) in p.types.iter().enumerate().rev() {
        out = out.replace(&format!("type#{i}"), &t.name);
    }
    out
}

/// A size or count written with its field's name: `byte_count / 2`.
fn linear(l: protocol_runtime::layout::Linear, layout: &MessageLayout) -> String {
    let name = layout
        .fields
        .get(l.field as usize)
        .map_or("?", |f| f.name.as_str());
    let text = l.to_string();
    match (text.strip_prefix("(f"), text.strip_prefix('f')) {
        (Some(rest), _) => format!("({name}{rest}"),
        (None, Some(rest)) => format!("{name}{rest}"),
        (None, None) => text,
    }
}

/// `ty`'s text with the field a size or count comes from named.
fn with_names(text: String, t: &FieldType, layout: &MessageLayout) -> String {
    match t {
        FieldType::Sized { len: l, .. } | FieldType::Array { count: l, .. } => {
            text.replacen(&l.to_string(), &linear(*l, layout), 1)
        }
        _ => text,
    }
}

fn ty(t: &FieldType) -> String {
    match t {
        FieldType::Token { max, except: None } => format!("token(max {max})"),
        FieldType::Token { max, except: Some(e) } => format!("token(max {max}, except {})", bytes(e)),
        FieldType::Text => "text".into(),
        FieldType::Bytes => "bytes".into(),
        FieldType::Int(k) => k.name(),
        FieldType::Bin(b) => b.name(),
        FieldType::Type(t) => format!("type#{t}"),
        FieldType::Domain { compress: false } => "domain".into(),
        FieldType::Domain { compress: true } => "domain(compress)".into(),
        FieldType::Bit { width } => format!("bit({width})"),
        FieldType::Rest { item, max } => format!("{}[.., max {max}]", ty(item)),
        FieldType::Terminated {
            terminator,
            max,
            text,
        } => format!(
            "{}(until {}, max {max})",
            if *text { "text" } else { "bytes" },
            bytes(terminator)
        ),
        FieldType::Sized { len, max, text } => {
            format!("{}({len}, max {max})", if *text { "text" } else { "bytes" })
        }
        FieldType::Array { item, count, max } => format!("{}[{count}, max {max}]", ty(item)),
        FieldType::Choice(options) => {
            format!(
                "choice({})",
                options.iter().map(|o| bytes(o)).collect::<Vec<_>>().join(" | ")
            )
        }
        FieldType::Flag => "flag".into(),
        FieldType::List {
            item,
            separator,
            separator_repeats,
            min,
            max,
        } => {
            let run = if *separator_repeats { "+" } else { "" };
            format!("list({}, sep {}{run}, {min}..={max})", ty(item), bytes(separator))
        }
    }
}

fn framing(f: &Framing, layout: &MessageLayout) -> String {
    let name = |id: u16| {
        layout
            .fields
            .get(id as usize)
            .map_or("?".to_string(), |f| f.name.clone())
    };
    match f {
        Framing::Exact(b) => format!("exact {}", bytes(b)),
        Framing::Nested { field } => format!("nested {}", name(*field)),
        Framing::Fixed { width, pattern } => {
            format!("fixed({width}) {{ {} }}", pattern_text(pattern, layout))
        }
        Framing::Line {
            delimiter,
            also_ends,
            max,
            pattern,
        } => {
            let ends: String = also_ends.iter().map(|e| format!(" | {}", bytes(e))).collect();
            format!(
                "line({}{ends}, max {max}) {{ {} }}",
                bytes(delimiter),
                pattern_text(pattern, layout)
            )
        }
        Framing::Length {
            prefix,
            max,
            pattern,
            includes_prefix,
        } => {
            format!(
                "length({}, max {max}{}) {{ {} }}",
                prefix.name(),
                if *includes_prefix { ", includes prefix" } else { "" },
                pattern_text(pattern, layout)
            )
        }
        Framing::Inline { pattern } => format!("{{ {} }}", pattern_text(pattern, layout)),
        Framing::Raw {
            len,
            max,
            oversize,
            field,
        } => {
            let len = match len {
                RawLen::Fixed(n) => n.to_string(),
                RawLen::Field(id) => name(*id),
            };
            let over = if *oversize == Oversize::Discard {
                ", over discard"
            } else {
                ""
            };
            format!("raw({len}, max {max}{over}) as {}", name(*field))
        }
        Framing::UntilClose { max, field } => {
            format!("raw(until_close, max {max}) as {}", name(*field))
        }
        Framing::Available { max, field } => {
            format!("raw(available, max {max}) as {}", name(*field))
        }
    }
}

fn pattern_text(p: &Pattern, layout: &MessageLayout) -> String {
    p.items
        .iter()
        .map(|i| match &i.kind {
            ItemKind::Literal(b) => bytes(b),
            ItemKind::Field(id) => layout
                .fields
                .get(*id as usize)
                .map_or("?".into(), |f| f.name.clone()),
            ItemKind::Optional { flag, pattern } => {
                let inner = format!("({})?", pattern_text(pattern, layout));
                match flag {
                    Some(id) => format!(
                        "{}: {inner}",
                        layout.fields.get(*id as usize).map_or("?", |f| f.name.as_str())
                    ),
                    None => inner,
                }
            }
            ItemKind::Sized { len, max, pattern } => format!(
                "size({}, max {max}) {{ {} }}",
                linear(*len, layout),
                pattern_text(pattern, layout)
            ),
            ItemKind::If { field, set, pattern } => format!(
                "if {} in {set} {{ {} }}",
                layout
                    .fields
                    .get(*field as usize)
                    .map_or("?", |f| f.name.as_str()),
                pattern_text(pattern, layout)
            ),
            ItemKind::Bits { carrier, slices } => {
                let parts: Vec<String> = slices
                    .iter()
                    .map(|s| {
                        let name = s
                            .field
                            .and_then(|id| layout.fields.get(id as usize))
                            .map_or("_", |f| f.name.as_str());
                        match s.constant {
                            Some(c) => format!("{name}: {} = {c}", s.width),
                            None => format!("{name}: {}", s.width),
                        }
                    })
                    .collect();
                format!("bits({}) {{ {} }}", carrier.name(), parts.join(", "))
            }
            ItemKind::Repeat { pattern, min } => {
                format!(
                    "({}){}",
                    pattern_text(pattern, layout),
                    if *min == 0 { "*" } else { "+" }
                )
            }
            ItemKind::Alternatives(alts) => {
                format!(
                    "({})",
                    alts.iter()
                        .map(|a| pattern_text(a, layout))
                        .collect::<Vec<_>>()
                        .join(" | ")
                )
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A rule as the spec writes it: `client sends Name -> Answer`,
/// `exchange Get -> Value* End`, `client closes`.
pub fn rule_text(p: &ir::Protocol, r: &ir::Rule) -> String {
    match &r.kind {
        RuleKind::Send {
            role,
            message,
            condition,
            target,
        } => format!(
            "{role} sends {}{} -> {}",
            p.messages[*message].name,
            condition
                .as_ref()
                .map(|c| format!(" where {}", c.name))
                .unwrap_or_default(),
            target_name(p, target)
        ),
        RuleKind::Exchange {
            request,
            condition,
            reply,
        } => format!(
            "{} {}{} -> {}",
            if r.fallback { "otherwise" } else { "exchange" },
            p.messages[*request].name,
            condition
                .as_ref()
                .map(|c| format!(" where {}", c.name))
                .unwrap_or_default(),
            reply_text(p, reply)
        ),
        RuleKind::Close { role } => format!("{role} closes"),
        RuleKind::HalfClose { role, target } => {
            format!("{role} half-closes -> {}", target_name(p, target))
        }
    }
}
