//! Lowers `message` declarations to runtime layouts.

use std::collections::HashMap;

mod bits;
mod condition;
mod nested;
mod typed;

use protocol_runtime::layout::TypeId;
use protocol_runtime::layout::{
    FieldDef, FieldId, FieldType, Framing, IntKind, Item, ItemKind, MessageLayout, Oversize, Pattern, RawLen,
    Segment,
};
use typed::{bin_int, Applied};

use super::{frame_template, Args, Defaults, FrameTemplate, UNBOUNDED};
use crate::ast::{self, Call, Element, FieldTy, Group, Ident, Span, Value};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

pub(super) fn lower_all(
    protocol: &ast::Protocol,
    types: &TypeNames,
    defaults: &Defaults,
    diags: &mut Diagnostics,
) -> Vec<ir::Message> {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut out = Vec::new();
    for decl in &protocol.decls {
        let ast::Decl::Message(m) = decl else {
            continue;
        };
        if let Some(first) = seen.get(m.name.name.as_str()) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    m.name.span,
                    format!("message `{}` is declared twice", m.name.name),
                )
                .label("second declaration")
                .with_secondary(*first, "first declared here")
                .help("rename one of the messages"),
            );
        } else {
            seen.insert(&m.name.name, m.name.span);
        }
        if let Some((_, span, _)) = types.get(&m.name.name) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    m.name.span,
                    format!("`{}` names both a message and a type", m.name.name),
                )
                .label("message")
                .with_secondary(*span, "type declared here")
                .help("rename one: each becomes a Rust type of that name"),
            );
        }
        let layout = MessageLowerer::new(defaults, types, diags).lower(&m.name, &m.segments);
        out.push(ir::Message {
            name: m.name.name.clone(),
            span: m.name.span,
            role: m.role,
            layout,
        });
    }
    out
}

/// The named types, by name: their ids, where they are declared, and
/// whether each is a struct read in place (`struct T = { ... }`).
pub(super) type TypeNames = HashMap<String, (TypeId, Span, bool)>;

pub(super) struct MessageLowerer<'a, 'd> {
    defaults: &'a Defaults,
    types: &'a TypeNames,
    diags: &'d mut Diagnostics,
    fields: Vec<FieldDef>,
    names: HashMap<String, FieldId>,
    /// `raw(name)` references, resolved once every field is known so that a
    /// reference to a later field is told apart from an unknown name.
    raw_refs: Vec<(usize, Ident)>,
}

impl<'a, 'd> MessageLowerer<'a, 'd> {
    pub(super) fn new(defaults: &'a Defaults, types: &'a TypeNames, diags: &'d mut Diagnostics) -> Self {
        MessageLowerer {
            defaults,
            types,
            diags,
            fields: Vec::new(),
            names: HashMap::new(),
            raw_refs: Vec::new(),
        }
    }

    /// Lowers the body of a message or a struct named `name`.
    pub(super) fn lower(mut self, name: &Ident, body: &[ast::Segment]) -> MessageLayout {
        let mut segments = Vec::new();
        for seg in body {
            if let Some(s) = self.segment(seg, segments.len(), name) {
                segments.push(s);
            }
        }
        for (index, name) in std::mem::take(&mut self.raw_refs) {
            let Some(&id) = self.names.get(&name.name) else {
                let ints: Vec<String> = self
                    .fields
                    .iter()
                    .filter(|f| matches!(f.ty, FieldType::Int(_) | FieldType::Bin(_)))
                    .map(|f| format!("`{}`", f.name))
                    .collect();
                let mut d = Diagnostic::new(
                    Code::UnknownName,
                    name.span,
                    format!("unknown field `{}` in `raw`", name.name),
                )
                .label("no such field in this message");
                d = if ints.is_empty() {
                    d.help("declare an integer field before the `raw` part, as in `len: u32 then raw(len) as data`")
                } else {
                    d.help(format!(
                        "the integer fields of `{}` are {}",
                        name.name,
                        ints.join(", ")
                    ))
                };
                self.diags.push(d);
                continue;
            };
            let field = &mut self.fields[id as usize];
            field.derived = true;
            if field.volatile {
                // A derived length is never written in a transcript, so the mark
                // would silently do nothing.
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        field.span,
                        format!("`volatile` on `{}`, a length derived from the data", name.name),
                    )
                    .label("lengths are computed, never recorded")
                    .help("remove `volatile`; mark the field the length is taken from instead"),
                );
            }
            if let Framing::Raw { len, .. } = &mut segments[index].framing {
                *len = RawLen::Field(id);
            }
        }
        for seg in &segments {
            if let Framing::Line { pattern, .. }
            | Framing::Length { pattern, .. }
            | Framing::Fixed { pattern, .. }
            | Framing::Inline { pattern } = &seg.framing
            {
                self.check_sentinels(&pattern.items);
            }
        }
        MessageLayout {
            segments,
            fields: self.fields,
        }
    }

    fn segment(&mut self, seg: &ast::Segment, index: usize, message: &Ident) -> Option<Segment> {
        let span = seg.span();
        let framing = match seg {
            ast::Segment::Exact { bytes, span } => {
                if bytes.is_empty() {
                    self.diags.push(
                        Diagnostic::new(Code::BadConstruct, *span, "`exact` needs at least one byte")
                            .label("empty literal")
                            .help("remove the empty `exact` part"),
                    );
                    return None;
                }
                Framing::Exact(bytes.clone())
            }
            ast::Segment::Raw { args, field, span } => self.raw(args, field.as_ref(), *span, index)?,
            ast::Segment::Framed { framing, pattern, .. } => {
                let template = frame_template(framing, self.defaults, self.diags)?;
                self.framed(template, pattern)
            }
            ast::Segment::Inline { pattern, .. } => Framing::Inline {
                pattern: self.pattern(pattern, false, self.defaults.length.unwrap_or(UNBOUNDED)),
            },
            ast::Segment::Default { pattern, span } if self.nested_part(pattern).is_some() => {
                let part = self.nested_part(pattern)?;
                return self.nested(part, *span);
            }
            ast::Segment::Default { pattern, span } => {
                let Some(template) = self.defaults.framing.clone() else {
                    self.diags.push(
                        Diagnostic::new(Code::BadConstruct, *span, format!("message `{}` has no framing", message.name))
                            .label("framed by nothing")
                            .help("declare `framing line(\"\\r\\n\", max = 2 KiB);` in the protocol, or frame this part, as in `line(\"\\n\") { ... }`"),
                    );
                    return None;
                };
                self.framed(template, pattern)
            }
        };
        Some(Segment { framing, span })
    }

    fn framed(&mut self, template: FrameTemplate, pattern: &[Element]) -> Framing {
        match template {
            FrameTemplate::Line {
                delimiter,
                also_ends,
                max,
            } => Framing::Line {
                pattern: self.pattern(pattern, false, max),
                delimiter,
                also_ends,
                max,
            },
            FrameTemplate::Length {
                prefix,
                max,
                includes_prefix,
            } => Framing::Length {
                pattern: self.pattern(pattern, false, max),
                prefix,
                max,
                includes_prefix,
            },
            FrameTemplate::Fixed => {
                let pattern = self.pattern(pattern, false, usize::MAX);
                let width = self.fixed_width(&pattern.items);
                Framing::Fixed { width, pattern }
            }
        }
    }

    /// The width of a `fixed` frame's pattern; every item must have one.
    fn fixed_width(&mut self, items: &[Item]) -> usize {
        let mut width = 0usize;
        for item in items {
            let w = match &item.kind {
                ItemKind::Literal(l) => Some(l.len()),
                ItemKind::Field(id) => match &self.fields[*id as usize].ty {
                    FieldType::Bin(b) => Some(b.width()),
                    _ => None,
                },
                ItemKind::Bits { carrier, .. } => Some(carrier.width()),
                _ => None,
            };
            match w {
                Some(w) => width = width.saturating_add(w),
                None => self.diags.push(
                    Diagnostic::new(Code::BadConstruct, item.span, "`fixed` needs a pattern of known width")
                        .label("this part has no fixed width")
                        .help("a `fixed` frame holds literals, binary integers (`byte`, `u16be`, ...) and `bits(...)`; frame variable parts with `length(...)`, `line(...)` or a size such as `bytes(len)`"),
                ),
            }
        }
        if width == 0 {
            if let Some(first) = items.first() {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        first.span,
                        "a `fixed` frame needs at least one byte",
                    )
                    .label("zero bytes wide")
                    .help("remove the empty `fixed { }` part"),
                );
            }
        }
        width
    }

    fn raw(&mut self, args: &[ast::Arg], field: Option<&Ident>, span: Span, index: usize) -> Option<Framing> {
        let mut a = Args::from_args("raw", span, args, &["len", "max", "over"], self.diags);
        let len = a.positional_or("len").cloned();
        let max = a.size("max");
        let over = a.ident("over");
        a.finish();
        let Some(field) = field else {
            self.diags.push(
                Diagnostic::new(Code::BadConstruct, span, "a `raw` part needs a field name")
                    .label("its bytes would be dropped")
                    .help("name the bytes: `raw(len) as data`"),
            );
            return None;
        };
        let oversize = match over {
            None | Some(("reject", _)) => Oversize::Reject,
            Some(("discard", _)) => Oversize::Discard,
            Some((other, sp)) => {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        sp,
                        format!("unknown oversize policy `{other}`"),
                    )
                    .label("not a policy")
                    .help("write `over = reject` (the default) or `over = discard`"),
                );
                Oversize::Reject
            }
        };
        let id = self.add_field(field, FieldType::Bytes, false);
        let default_max = self.defaults.raw.unwrap_or(UNBOUNDED);
        // `over` only means something where a peer chooses the length.
        let field_length = matches!(&len, Some(Value::Call(c)) if c.args.is_empty() && c.name.name != "until_close" && c.name.name != "available");
        if let (Some((_, sp)), false) = (over, field_length) {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    sp,
                    "`over` applies only to `raw(len)` with a length field",
                )
                .label("no length to exceed")
                .help("remove `over`: the spec fixes this part's length, or it is bounded by `max` alone"),
            );
        }
        Some(match len {
            Some(Value::Size(n)) => {
                let n = super::to_usize(n);
                if let Some(m) = max.filter(|m| *m < n) {
                    self.diags.push(
                        Diagnostic::new(
                            Code::BadConstruct,
                            span,
                            format!("`raw({n})` has a `max` of {m}, below its own length"),
                        )
                        .label("can never be read")
                        .help("remove `max`: a fixed length is its own bound"),
                    );
                }
                Framing::Raw {
                    len: RawLen::Fixed(n),
                    max: n,
                    oversize,
                    field: id,
                }
            }
            Some(Value::Call(c)) if c.args.is_empty() && c.name.name == "until_close" => {
                Framing::UntilClose {
                    max: max.unwrap_or(default_max),
                    field: id,
                }
            }
            Some(Value::Call(c)) if c.args.is_empty() && c.name.name == "available" => Framing::Available {
                max: max.unwrap_or(default_max),
                field: id,
            },
            Some(Value::Call(c)) if c.args.is_empty() => {
                self.raw_refs.push((index, c.name.clone()));
                Framing::Raw {
                    len: RawLen::Field(FieldId::MAX),
                    max: max.unwrap_or(default_max),
                    oversize,
                    field: id,
                }
            }
            other => {
                self.diags.push(
                    Diagnostic::new(Code::BadConstruct, span, "`raw` needs a length")
                        .label(match other {
                            Some(v) => format!("{} is not a length", v.describe()),
                            None => "no length".to_string(),
                        })
                        .help("write `raw(16)`, `raw(len)` with an integer field `len` read before it, `raw(until_close)` or `raw(available)`"),
                );
                return None;
            }
        })
    }

    fn add_field(&mut self, name: &Ident, ty: FieldType, optional: bool) -> FieldId {
        if let Some(&first) = self.names.get(&name.name) {
            let first_span = self.fields[first as usize].span;
            self.diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    name.span,
                    format!("field `{}` is declared twice in this message", name.name),
                )
                .label("second declaration")
                .with_secondary(first_span, "first declared here")
                .help("rename one of the fields"),
            );
        }
        let id = FieldId::try_from(self.fields.len()).unwrap_or(FieldId::MAX - 1);
        self.fields.push(FieldDef {
            name: name.name.clone(),
            ty,
            optional,
            derived: false,
            volatile: false,
            labels: Vec::new(),
            constraint: None,
            equals: None,
            span: name.span,
        });
        self.names.entry(name.name.clone()).or_insert(id);
        id
    }

    fn pattern(&mut self, elements: &[Element], optional: bool, frame_max: usize) -> Pattern {
        let mut items = Vec::new();
        for e in elements {
            if let Element::Match { field, arms, span } = e {
                // One `if` per arm.
                for kind in self.match_part(field, arms, frame_max).unwrap_or_default() {
                    items.push(Item { kind, span: *span });
                }
                continue;
            }
            if let Some(item) = self.element(e, optional, frame_max) {
                items.push(item);
            }
        }
        Pattern { items }
    }

    fn element(&mut self, e: &Element, optional: bool, frame_max: usize) -> Option<Item> {
        let span = e.span();
        let kind = match e {
            Element::Literal { bytes, span, label } => {
                if let Some(label) = label {
                    self.diags.push(
                        Diagnostic::new(
                            Code::BadConstruct,
                            label.span,
                            format!(
                                "`as {}` names a literal that is no option of a choice",
                                label.name
                            ),
                        )
                        .label("nothing takes this name")
                        .help("name the options of a choice, as in `power: (\"0\" as Off | \"1\" as On)`"),
                    );
                }
                if bytes.is_empty() {
                    self.diags.push(
                        Diagnostic::new(Code::BadConstruct, *span, "empty literal")
                            .label("matches nothing")
                            .help("remove it"),
                    );
                    return None;
                }
                ItemKind::Literal(bytes.clone())
            }
            Element::Field {
                name,
                ty: FieldTy::Call(call),
                count,
                rest,
                constraint,
                ..
            } => {
                let mut ty = self.field_type(call, frame_max)?;
                if let Some(count) = count {
                    ty = self.array(name, ty, count, frame_max)?;
                }
                if *rest {
                    ty = self.rest(name, ty, call.span, frame_max)?;
                }
                match constraint {
                    None => ItemKind::Field(self.add_field(name, ty, optional)),
                    Some(c) => match self.constraint(name, &ty, c)? {
                        Applied::Constant(bytes) => ItemKind::Literal(bytes),
                        applied => {
                            let id = self.add_field(name, ty, optional);
                            self.apply(id, applied)
                        }
                    },
                }
            }
            Element::Field {
                name,
                ty: FieldTy::Group(group),
                ..
            } => self.named_group(name, group, optional, frame_max)?,
            Element::Group(group) => self.group(group, optional, frame_max)?,
            Element::Bits {
                carrier,
                slices,
                span,
            } => self.bits(carrier, slices, *span, optional)?,
            Element::If {
                field, test, pattern, ..
            } => self.condition(field, test.as_ref(), pattern, frame_max)?,
            Element::Sized { len, pattern, .. } => {
                let len = self.size_expr(len, "size")?;
                ItemKind::Sized {
                    len,
                    max: frame_max,
                    pattern: self.pattern(pattern, optional, frame_max),
                }
            }
            // Lowered by `pattern`, into one item per arm.
            Element::Match { .. } => return None,
        };
        if let Element::Field {
            name, volatile: true, ..
        } = e
        {
            if let Some(&id) = self.names.get(&name.name) {
                self.fields[id as usize].volatile = true;
            }
        }
        Some(Item { kind, span })
    }

    fn field_type(&mut self, call: &Call, frame_max: usize) -> Option<FieldType> {
        let name = call.name.name.as_str();
        if let Some(kind) = int_kind(name) {
            Args::new(call, &[], self.diags).finish();
            return Some(FieldType::Int(kind));
        }
        if let Some(b) = bin_int(name) {
            Args::new(call, &[], self.diags).finish();
            return Some(FieldType::Bin(b));
        }
        if name == "text" || name == "bytes" {
            if let Some(sized) = self.sized(call, frame_max)? {
                return Some(sized);
            }
        }
        if let Some(&(id, _, inline)) = self.types.get(name) {
            if inline {
                Args::new(call, &[], self.diags).finish();
                return Some(FieldType::Type(id));
            }
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    call.span,
                    format!("a value of `{name}` stands as a part of its own, not inside a frame"),
                )
                .label("inside a pattern")
                .help(format!("make it a part of the body (`then value: {name}`), or declare `{name}` with braces (`struct {name} = {{ ... }};`) to read it in place")),
            );
            return None;
        }
        if name == "domain" {
            let mut a = Args::new(call, &["mode"], self.diags);
            let mode = a.ident("mode");
            a.finish();
            let compress = match mode {
                None => false,
                Some(("compress", _)) => true,
                Some((other, span)) => {
                    self.diags.push(
                        Diagnostic::new(Code::BadConstruct, span, format!("`domain` has no mode `{other}`"))
                            .label("unknown mode")
                            .help("write `domain(compress)` to compress the names written, or `domain` to write them whole"),
                    );
                    false
                }
            };
            return Some(FieldType::Domain { compress });
        }
        Some(match name {
            "token" => {
                let mut a = Args::new(call, &["max", "except"], self.diags);
                let max = a.size("max").unwrap_or(frame_max);
                let except = a.string("except");
                a.finish();
                if except.as_ref().is_some_and(|e| e.is_empty()) {
                    self.diags.push(
                        Diagnostic::new(Code::BadConstruct, call.span, "`except` of `token` is empty")
                            .label("a token must stop somewhere")
                            .help("name the bytes that end a token, as in `token(except = \" \")`"),
                    );
                }
                FieldType::Token { max, except }
            }
            "text" => {
                Args::new(call, &[], self.diags).finish();
                FieldType::Text
            }
            "bytes" => {
                Args::new(call, &[], self.diags).finish();
                FieldType::Bytes
            }
            "list" => {
                let mut a = Args::new(call, &["item", "sep", "min", "max"], self.diags);
                let item = a.positional_or("item").cloned();
                let (separator, separator_repeats) =
                    a.string_or_run("sep").unwrap_or_else(|| (b" ".to_vec(), false));
                let min = a.size("min").unwrap_or(1);
                let max = a.size("max").or(self.defaults.repeat).unwrap_or(UNBOUNDED);
                a.finish();
                let item = match item {
                    Some(Value::Call(c)) => self.field_type(&c, frame_max)?,
                    _ => {
                        self.diags.push(
                            Diagnostic::new(Code::BadConstruct, call.span, "`list` needs an item type")
                                .label("no item type")
                                .help("write `list(token(max = 250), sep = \" \", max = 64)`"),
                        );
                        return None;
                    }
                };
                if !matches!(item, FieldType::Token { .. } | FieldType::Int(_)) {
                    self.diags.push(
                        Diagnostic::new(Code::BadConstruct, call.span, "a `list` holds tokens or integers")
                            .label("unsupported item type")
                            .help("use `token` or an integer type such as `u32` as the item"),
                    );
                    return None;
                }
                if separator.is_empty() {
                    self.diags.push(
                        Diagnostic::new(Code::BadConstruct, call.span, "the separator of `list` is empty")
                            .label("items could not be told apart")
                            .help("write `sep = \" \"`"),
                    );
                }
                if max != UNBOUNDED && min > max {
                    self.diags.push(
                        Diagnostic::new(
                            Code::BadConstruct,
                            call.span,
                            format!("`list` has `min = {min}` above `max = {max}`"),
                        )
                        .label("no number of items fits")
                        .help("make `min` at most `max`"),
                    );
                }
                if let Some(b) = separator.first().copied().filter(|b| can_hold(&item, *b)) {
                    self.diags.push(
                        Diagnostic::new(
                            Code::BadConstruct,
                            call.span,
                            format!("the separator of `list` starts with {:?}, which an item may hold", b as char),
                        )
                        .label("an item's end could not be told from a separator")
                        .help("choose a separator that starts with a byte the item type cannot hold, such as `sep = \" \"` or `sep = \",\"`"),
                    );
                }
                FieldType::List {
                    item: Box::new(item),
                    separator,
                    separator_repeats,
                    min,
                    max,
                }
            }
            other => {
                self.diags.push(
                    Diagnostic::new(Code::BadConstruct, call.name.span, format!("unknown field type `{other}`"))
                        .label("not a type")
                        .help("the field types are `token`, `text`, `bytes`, `u8`..`u64`, `i8`..`i64` (decimal), `byte`, `u16be`..`u64le`, `i16be`..`i64le` (binary) and `list(...)`"),
                );
                return None;
            }
        })
    }

    /// `cmd: ("get" | "gets")` is a choice; `noreply: (" noreply")?` is a flag.
    fn named_group(
        &mut self,
        name: &Ident,
        group: &Group,
        optional: bool,
        frame_max: usize,
    ) -> Option<ItemKind> {
        if group.repeat.is_some() {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    group.span,
                    format!("field `{}` names a repeated group", name.name),
                )
                .label("a repetition records nothing")
                .help("write the repetition unnamed, as in `\" \"+`; to keep values, use `list(...)`"),
            );
            return None;
        }
        let literals: Option<Vec<Vec<u8>>> = group
            .alternatives
            .iter()
            .map(|alt| match alt.as_slice() {
                [Element::Literal { bytes, .. }] => Some(bytes.clone()),
                _ => None,
            })
            .collect();
        let field_free = group.alternatives.iter().flatten().all(|e| !has_fields(e));
        if group.optional && group.alternatives.len() == 1 && field_free {
            let pattern = self.pattern(&group.alternatives[0], true, frame_max);
            let id = self.add_field(name, FieldType::Flag, false);
            return Some(ItemKind::Optional {
                flag: Some(id),
                pattern,
            });
        }
        match literals {
            Some(options) if options.iter().all(|o| !o.is_empty()) => {
                let id = self.add_field(name, FieldType::Choice(options), optional || group.optional);
                let labels: Vec<String> = group
                    .alternatives
                    .iter()
                    .map(|alt| match alt.as_slice() {
                        [Element::Literal { label: Some(l), .. }] => l.name.clone(),
                        _ => String::new(),
                    })
                    .collect();
                for (i, l) in labels.iter().enumerate() {
                    if !l.is_empty() && labels[..i].contains(l) {
                        self.diags.push(
                            Diagnostic::new(
                                Code::DuplicateName,
                                group.span,
                                format!("two options of `{}` are named `{l}`", name.name),
                            )
                            .label("names must differ")
                            .help("give each option its own name"),
                        );
                    }
                }
                if labels.iter().any(|l| !l.is_empty()) {
                    self.fields[id as usize].labels = labels;
                }
                let field = Item {
                    kind: ItemKind::Field(id),
                    span: group.span,
                };
                Some(if group.optional {
                    ItemKind::Optional {
                        flag: None,
                        pattern: Pattern { items: vec![field] },
                    }
                } else {
                    field.kind
                })
            }
            _ => {
                self.diags.push(
                    Diagnostic::new(Code::BadConstruct, group.span, format!("field `{}` names a group that is neither a choice nor a flag", name.name))
                        .label("unsupported named group")
                        .help("a named group is `(\"a\" | \"b\")` (a choice) or `(\" literal\")?` (a flag); to name values inside a group, name the fields inside it"),
                );
                None
            }
        }
    }

    fn group(&mut self, group: &Group, optional: bool, frame_max: usize) -> Option<ItemKind> {
        if let Some(min) = group.repeat {
            return self.repeat(group, min, optional, frame_max);
        }
        let inner_optional = optional || group.optional;
        if group.alternatives.len() == 1 {
            let pattern = self.pattern(&group.alternatives[0], inner_optional, frame_max);
            return Some(if group.optional {
                ItemKind::Optional { flag: None, pattern }
            } else {
                // A plain `( ... )` only groups: splice it as one alternative.
                ItemKind::Alternatives(vec![pattern])
            });
        }
        if let Some(e) = group.alternatives.iter().flatten().find(|e| has_fields(e)) {
            self.diags.push(
                Diagnostic::new(Code::BadConstruct, e.span(), "alternatives cannot hold fields")
                    .label("field inside an alternative")
                    .help("name the group to make a choice (`cmd: (\"get\" | \"gets\")`), or write one message per alternative"),
            );
            return None;
        }
        let alts = group
            .alternatives
            .iter()
            .map(|a| self.pattern(a, inner_optional, frame_max))
            .collect();
        let kind = ItemKind::Alternatives(alts);
        Some(if group.optional {
            ItemKind::Optional {
                flag: None,
                pattern: Pattern {
                    items: vec![Item {
                        kind,
                        span: group.span,
                    }],
                },
            }
        } else {
            kind
        })
    }
}

impl MessageLowerer<'_, '_> {
    /// `" "+`, `(" " | "\t")*`: a field-less part repeated.
    fn repeat(&mut self, group: &Group, min: usize, optional: bool, frame_max: usize) -> Option<ItemKind> {
        if let Some(e) = group.alternatives.iter().flatten().find(|e| has_fields(e)) {
            self.diags.push(
                Diagnostic::new(Code::BadConstruct, e.span(), "a repeated part cannot hold fields")
                    .label("field inside a repetition")
                    .help("repeat only literals, as in `\" \"+`; for repeated values use `list(...)`"),
            );
            return None;
        }
        if group.alternatives.iter().any(|alt| alt.iter().all(nullable)) {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    group.span,
                    "a repeated part can match no bytes",
                )
                .label("a round could be empty")
                .help("make every round hold at least one byte, as in `\" \"+` rather than `(\" \"?)+`"),
            );
            return None;
        }
        let pattern = if group.alternatives.len() == 1 {
            self.pattern(&group.alternatives[0], optional, frame_max)
        } else {
            let alts = group
                .alternatives
                .iter()
                .map(|a| self.pattern(a, optional, frame_max))
                .collect();
            Pattern {
                items: vec![Item {
                    kind: ItemKind::Alternatives(alts),
                    span: group.span,
                }],
            }
        };
        Some(ItemKind::Repeat { pattern, min })
    }
}

/// Whether an element can match no bytes at all.
fn nullable(e: &Element) -> bool {
    match e {
        Element::Literal { bytes, .. } => bytes.is_empty(),
        Element::Field { .. } | Element::Bits { .. } => false,
        Element::If { .. } | Element::Match { .. } => true,
        Element::Sized { pattern, .. } => pattern.iter().all(nullable),
        Element::Group(g) => {
            g.optional || g.repeat == Some(0) || g.alternatives.iter().any(|alt| alt.iter().all(nullable))
        }
    }
}

/// Whether an item of a list may hold byte `b` (so a separator starting with
/// it would be ambiguous).
fn can_hold(item: &FieldType, b: u8) -> bool {
    match item {
        FieldType::Token { except: None, .. } => protocol_runtime::engine::pattern::is_token_byte(b),
        FieldType::Token { except: Some(e), .. } => !e.contains(&b),
        FieldType::Int(kind) => b.is_ascii_digit() || (kind.signed && b == b'-'),
        _ => false,
    }
}

fn has_fields(e: &Element) -> bool {
    match e {
        Element::Literal { .. } => false,
        Element::Field { .. } => true,
        Element::Bits { slices, .. } => slices.iter().any(|s| s.name.name != "_"),
        Element::If { pattern, .. } | Element::Sized { pattern, .. } => pattern.iter().any(has_fields),
        Element::Match { arms, .. } => arms.iter().flat_map(|a| &a.pattern).any(has_fields),
        Element::Group(g) => g.alternatives.iter().flatten().any(has_fields),
    }
}

fn int_kind(name: &str) -> Option<IntKind> {
    let (signed, bits) = name.split_at_checked(1)?;
    let signed = match signed {
        "u" => false,
        "i" => true,
        _ => return None,
    };
    let bits = match bits {
        "8" => 8,
        "16" => 16,
        "32" => 32,
        "64" => 64,
        _ => return None,
    };
    Some(IntKind { signed, bits })
}
