//! The spec itself as Rust: a function that builds the IR the engine runs,
//! so generated code needs no compiler at run time.

use proc_macro2::TokenStream;
use quote::quote;

use protocol_runtime::layout as rt_layout;
use protocol_runtime::layout::{
    FieldDef, FieldType, Framing, Item, ItemKind, LengthPrefix, MessageLayout, Oversize, Pattern, RawLen,
    Role, Segment, Span,
};
use protocol_runtime::spec as rt_spec;

use crate::ir::{Condition, Protocol, Repeat, Reply, Rule, RuleKind, State, Target};

pub fn build_fn(p: &Protocol) -> TokenStream {
    let name = &p.name;
    let span = span(p.span);
    let port = match p.port {
        Some(port) => quote!(::std::option::Option::Some(#port)),
        None => quote!(::std::option::Option::None),
    };
    let pipelined = p.pipelined;
    let overload = match &p.overload {
        Some(o) => {
            let (b, s) = (bytes(&o.bytes), span_tokens(o.span));
            quote!(::std::option::Option::Some(rt::spec::Overload { bytes: #b, span: #s }))
        }
        None => quote!(::std::option::Option::None),
    };
    let messages = p.messages.iter().map(|m| {
        let (name, span, role, layout) = (&m.name, span_tokens(m.span), role(m.role), layout(&m.layout));
        quote!(rt::spec::Message { name: #name.into(), span: #span, role: #role, layout: #layout })
    });
    let types = p.types.iter().map(|t| {
        let (name, span) = (&t.name, span_tokens(t.span));
        let kind = match &t.kind {
            rt_spec::TypeKind::Struct(l) => {
                let l = layout(l);
                quote!(rt::spec::TypeKind::Struct(#l))
            }
            rt_spec::TypeKind::Choice(bs) => quote!(rt::spec::TypeKind::Choice(::std::vec![#(#bs),*])),
        };
        quote!(rt::spec::TypeDef { name: #name.into(), span: #span, kind: #kind })
    });
    let max_depth = p.max_depth;
    let states = p.states.iter().map(state);
    let initial = p.initial;
    let names = p.messages.iter().map(|m| &m.name);
    quote! {
        /// The name of message `id` as the spec writes it.
        pub fn message_name(id: rt::spec::MessageId) -> &'static str {
            const NAMES: &[&str] = &[#(#names),*];
            NAMES.get(id).copied().unwrap_or("?")
        }

        /// The spec this module was generated from, as the engine runs it
        /// (built once, shared by every connection).
        pub fn spec() -> ::std::sync::Arc<rt::spec::Protocol> {
            static SPEC: ::std::sync::OnceLock<::std::sync::Arc<rt::spec::Protocol>> = ::std::sync::OnceLock::new();
            SPEC.get_or_init(|| {
                ::std::sync::Arc::new(rt::spec::Protocol {
                    name: #name.into(),
                    span: #span,
                    port: #port,
                    pipelined: #pipelined,
                    overload: #overload,
                    messages: ::std::vec![#(#messages),*],
                    types: ::std::vec![#(#types),*],
                    max_depth: #max_depth,
                    states: ::std::vec![#(#states),*],
                    initial: #initial,
                    derived: ::std::default::Default::default(),
                })
            })
            .clone()
        }
    }
}

fn span(s: Span) -> TokenStream {
    span_tokens(s)
}

fn span_tokens(s: Span) -> TokenStream {
    let (start, end) = (s.start, s.end);
    quote!(rt::layout::Span { start: #start, end: #end })
}

fn role(r: Role) -> TokenStream {
    match r {
        Role::Client => quote!(rt::layout::Role::Client),
        Role::Server => quote!(rt::layout::Role::Server),
    }
}

fn bytes(b: &[u8]) -> TokenStream {
    let lit = proc_macro2::Literal::byte_string(b);
    quote!(#lit.to_vec())
}

fn layout(l: &MessageLayout) -> TokenStream {
    let segments = l.segments.iter().map(segment);
    let fields = l.fields.iter().map(field);
    quote!(rt::layout::MessageLayout {
        segments: ::std::vec![#(#segments),*],
        fields: ::std::vec![#(#fields),*]
    })
}

fn field(f: &FieldDef) -> TokenStream {
    let (name, ty, optional, derived, volatile, span) = (
        &f.name,
        field_type(&f.ty),
        f.optional,
        f.derived,
        f.volatile,
        span(f.span),
    );
    let labels = f.labels.iter();
    let constraint = optional_value_set(&f.constraint);
    let equals = match f.equals {
        Some(l) => {
            let l = linear(l);
            quote!(::std::option::Option::Some(#l))
        }
        None => quote!(::std::option::Option::None),
    };
    quote!(rt::layout::FieldDef {
        name: #name.into(), ty: #ty, optional: #optional, derived: #derived, volatile: #volatile,
        labels: ::std::vec![#(::std::string::String::from(#labels)),*],
        constraint: #constraint, equals: #equals, span: #span
    })
}

fn field_type(t: &FieldType) -> TokenStream {
    match t {
        FieldType::Token { max, except } => {
            let except = match except {
                Some(e) => {
                    let e = bytes(e);
                    quote!(::std::option::Option::Some(#e))
                }
                None => quote!(::std::option::Option::None),
            };
            quote!(rt::layout::FieldType::Token { max: #max, except: #except })
        }
        FieldType::Text => quote!(rt::layout::FieldType::Text),
        FieldType::Bytes => quote!(rt::layout::FieldType::Bytes),
        FieldType::Int(k) => {
            let (signed, bits) = (k.signed, k.bits);
            quote!(rt::layout::FieldType::Int(rt::layout::IntKind { signed: #signed, bits: #bits }))
        }
        FieldType::Bin(b) => {
            let b = bin_int(*b);
            quote!(rt::layout::FieldType::Bin(#b))
        }
        FieldType::Type(t) => quote!(rt::layout::FieldType::Type(#t)),
        FieldType::Domain { compress } => quote!(rt::layout::FieldType::Domain { compress: #compress }),
        FieldType::Bit { width } => quote!(rt::layout::FieldType::Bit { width: #width }),
        FieldType::Rest { item, max } => {
            let item = field_type(item);
            quote!(rt::layout::FieldType::Rest { item: ::std::boxed::Box::new(#item), max: #max })
        }
        FieldType::Terminated {
            terminator,
            max,
            text,
        } => {
            let terminator = bytes(terminator);
            quote!(rt::layout::FieldType::Terminated { terminator: #terminator, max: #max, text: #text })
        }
        FieldType::Sized { len, max, text } => {
            let len = linear(*len);
            quote!(rt::layout::FieldType::Sized { len: #len, max: #max, text: #text })
        }
        FieldType::Array { item, count, max } => {
            let (item, count) = (field_type(item), linear(*count));
            quote!(rt::layout::FieldType::Array { item: ::std::boxed::Box::new(#item), count: #count, max: #max })
        }
        FieldType::Choice(options) => {
            let options = options.iter().map(|o| bytes(o));
            quote!(rt::layout::FieldType::Choice(::std::vec![#(#options),*]))
        }
        FieldType::Flag => quote!(rt::layout::FieldType::Flag),
        FieldType::List {
            item,
            separator,
            separator_repeats,
            min,
            max,
        } => {
            let (item, separator) = (field_type(item), bytes(separator));
            quote!(rt::layout::FieldType::List { item: ::std::boxed::Box::new(#item), separator: #separator, separator_repeats: #separator_repeats, min: #min, max: #max })
        }
    }
}

fn bin_int(b: rt_layout::BinInt) -> TokenStream {
    let (signed, bits, little_endian) = (b.signed, b.bits, b.little_endian);
    quote!(rt::layout::BinInt { signed: #signed, bits: #bits, little_endian: #little_endian })
}

fn linear(l: rt_layout::Linear) -> TokenStream {
    let (field, mul, add, div) = (l.field, l.mul, l.add, l.div);
    quote!(rt::layout::Linear { field: #field, mul: #mul, add: #add, div: #div })
}

fn value_set(set: &rt_layout::ValueSet) -> TokenStream {
    let ranges = set.0.iter().map(|(lo, hi)| quote!((#lo, #hi)));
    quote!(rt::layout::ValueSet(::std::vec![#(#ranges),*]))
}

fn optional_value_set(set: &Option<rt_layout::ValueSet>) -> TokenStream {
    match set {
        None => quote!(::std::option::Option::None),
        Some(set) => {
            let set = value_set(set);
            quote!(::std::option::Option::Some(#set))
        }
    }
}

fn segment(s: &Segment) -> TokenStream {
    let span = span(s.span);
    let framing = match &s.framing {
        Framing::Exact(b) => {
            let b = bytes(b);
            quote!(rt::layout::Framing::Exact(#b))
        }
        Framing::Nested { field } => quote!(rt::layout::Framing::Nested { field: #field }),
        Framing::Fixed { width, pattern: p } => {
            let p = pattern(p);
            quote!(rt::layout::Framing::Fixed { width: #width, pattern: #p })
        }
        Framing::Line {
            delimiter,
            also_ends,
            max,
            pattern: p,
        } => {
            let (d, p) = (bytes(delimiter), pattern(p));
            let also = also_ends.iter().map(|e| bytes(e));
            quote!(rt::layout::Framing::Line { delimiter: #d, also_ends: ::std::vec![#(#also),*], max: #max, pattern: #p })
        }
        Framing::Length {
            prefix,
            max,
            pattern: p,
            includes_prefix,
        } => {
            let (prefix, p) = (length_prefix(*prefix), pattern(p));
            quote!(rt::layout::Framing::Length { prefix: #prefix, max: #max, pattern: #p, includes_prefix: #includes_prefix })
        }
        Framing::Inline { pattern: p } => {
            let p = pattern(p);
            quote!(rt::layout::Framing::Inline { pattern: #p })
        }
        Framing::Raw {
            len,
            max,
            oversize,
            field,
        } => {
            let len = match len {
                RawLen::Fixed(n) => quote!(rt::layout::RawLen::Fixed(#n)),
                RawLen::Field(f) => quote!(rt::layout::RawLen::Field(#f)),
            };
            let oversize = match oversize {
                Oversize::Reject => quote!(rt::layout::Oversize::Reject),
                Oversize::Discard => quote!(rt::layout::Oversize::Discard),
            };
            quote!(rt::layout::Framing::Raw { len: #len, max: #max, oversize: #oversize, field: #field })
        }
        Framing::UntilClose { max, field } => {
            quote!(rt::layout::Framing::UntilClose { max: #max, field: #field })
        }
        Framing::Available { max, field } => {
            quote!(rt::layout::Framing::Available { max: #max, field: #field })
        }
    };
    quote!(rt::layout::Segment { framing: #framing, span: #span })
}

fn length_prefix(p: LengthPrefix) -> TokenStream {
    match p {
        LengthPrefix::U8 => quote!(rt::layout::LengthPrefix::U8),
        LengthPrefix::U16Be => quote!(rt::layout::LengthPrefix::U16Be),
        LengthPrefix::U16Le => quote!(rt::layout::LengthPrefix::U16Le),
        LengthPrefix::U32Be => quote!(rt::layout::LengthPrefix::U32Be),
        LengthPrefix::U32Le => quote!(rt::layout::LengthPrefix::U32Le),
        LengthPrefix::U64Be => quote!(rt::layout::LengthPrefix::U64Be),
        LengthPrefix::U64Le => quote!(rt::layout::LengthPrefix::U64Le),
        LengthPrefix::Varint => quote!(rt::layout::LengthPrefix::Varint),
    }
}

fn pattern(p: &Pattern) -> TokenStream {
    let items = p.items.iter().map(item);
    quote!(rt::layout::Pattern {
        items: ::std::vec![#(#items),*]
    })
}

fn item(i: &Item) -> TokenStream {
    let span = span(i.span);
    let kind = match &i.kind {
        ItemKind::Literal(b) => {
            let b = bytes(b);
            quote!(rt::layout::ItemKind::Literal(#b))
        }
        ItemKind::Field(f) => quote!(rt::layout::ItemKind::Field(#f)),
        ItemKind::Optional { flag, pattern: p } => {
            let flag = match flag {
                Some(f) => quote!(::std::option::Option::Some(#f)),
                None => quote!(::std::option::Option::None),
            };
            let p = pattern(p);
            quote!(rt::layout::ItemKind::Optional { flag: #flag, pattern: #p })
        }
        ItemKind::Alternatives(alts) => {
            let alts = alts.iter().map(pattern);
            quote!(rt::layout::ItemKind::Alternatives(::std::vec![#(#alts),*]))
        }
        ItemKind::If {
            field,
            set,
            pattern: p,
        } => {
            let (set, p) = (value_set(set), pattern(p));
            quote!(rt::layout::ItemKind::If { field: #field, set: #set, pattern: #p })
        }
        ItemKind::Sized { len, max, pattern: p } => {
            let (len, p) = (linear(*len), pattern(p));
            quote!(rt::layout::ItemKind::Sized { len: #len, max: #max, pattern: #p })
        }
        ItemKind::Bits { carrier, slices } => {
            let carrier = bin_int(*carrier);
            let slices = slices.iter().map(|s| {
                let width = s.width;
                let field = match s.field {
                    Some(f) => quote!(::std::option::Option::Some(#f)),
                    None => quote!(::std::option::Option::None),
                };
                let constant = match s.constant {
                    Some(c) => quote!(::std::option::Option::Some(#c)),
                    None => quote!(::std::option::Option::None),
                };
                quote!(rt::layout::BitSlice { width: #width, field: #field, constant: #constant })
            });
            quote!(rt::layout::ItemKind::Bits { carrier: #carrier, slices: ::std::vec![#(#slices),*] })
        }
        ItemKind::Repeat { pattern: p, min } => {
            let p = pattern(p);
            quote!(rt::layout::ItemKind::Repeat { pattern: #p, min: #min })
        }
    };
    quote!(rt::layout::Item { kind: #kind, span: #span })
}

fn state(s: &State) -> TokenStream {
    let otherwise_span = span(s.otherwise_span);
    let (name, span, rules) = (&s.name, span(s.span), s.rules.iter().map(rule));
    let secs = s.timeout.as_secs();
    let nanos = s.timeout.subsec_nanos();
    let otherwise = match &s.otherwise {
        Some(r) => {
            let r = reply(r);
            quote!(::std::option::Option::Some(#r))
        }
        None => quote!(::std::option::Option::None),
    };
    let ignore = match s.ignore {
        Some(r) => {
            let r = role(r);
            quote!(::std::option::Option::Some(#r))
        }
        None => quote!(::std::option::Option::None),
    };
    let (duplex, incomplete) = (s.duplex, s.incomplete);
    let idle = match s.idle_timeout {
        Some(d) => {
            let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
            quote!(::std::option::Option::Some(::std::time::Duration::new(#secs, #nanos)))
        }
        None => quote!(::std::option::Option::None),
    };
    quote!(rt::spec::State {
        name: #name.into(),
        span: #span,
        timeout: ::std::time::Duration::new(#secs, #nanos),
        idle_timeout: #idle,
        rules: ::std::vec![#(#rules),*],
        otherwise: #otherwise,
        otherwise_span: #otherwise_span,
        ignore: #ignore,
        duplex: #duplex,
        incomplete: #incomplete,
    })
}

fn condition(c: &Option<Condition>) -> TokenStream {
    match c {
        Some(c) => {
            let (field, name, span) = (c.field, &c.name, span(c.span));
            quote!(::std::option::Option::Some(rt::spec::Condition { field: #field, name: #name.into(), span: #span }))
        }
        None => quote!(::std::option::Option::None),
    }
}

fn target(t: &Target) -> TokenStream {
    match t {
        Target::State(s) => quote!(rt::spec::Target::State(#s)),
        Target::Close => quote!(rt::spec::Target::Close),
        Target::HalfClose => quote!(rt::spec::Target::HalfClose),
    }
}

fn rule(r: &Rule) -> TokenStream {
    let span = span(r.span);
    let kind = match &r.kind {
        RuleKind::Send {
            role: ro,
            message,
            condition: c,
            target: t,
        } => {
            let (ro, c, t) = (role(*ro), condition(c), target(t));
            quote!(rt::spec::RuleKind::Send { role: #ro, message: #message, condition: #c, target: #t })
        }
        RuleKind::Exchange {
            request,
            condition: c,
            reply: r,
        } => {
            let (c, r) = (condition(c), reply(r));
            quote!(rt::spec::RuleKind::Exchange { request: #request, condition: #c, reply: #r })
        }
        RuleKind::Close { role: ro } => {
            let ro = role(*ro);
            quote!(rt::spec::RuleKind::Close { role: #ro })
        }
        RuleKind::HalfClose { role: ro, target: t } => {
            let (ro, t) = (role(*ro), target(t));
            quote!(rt::spec::RuleKind::HalfClose { role: #ro, target: #t })
        }
    };
    let fallback = r.fallback;
    quote!(rt::spec::Rule { kind: #kind, span: #span, fallback: #fallback })
}

fn reply(r: &Reply) -> TokenStream {
    match r {
        Reply::None { span: s } => {
            let s = span(*s);
            quote!(rt::spec::Reply::None { span: #s })
        }
        Reply::Close { span: s } => {
            let s = span(*s);
            quote!(rt::spec::Reply::Close { span: #s })
        }
        Reply::Sequences(seqs) => {
            let seqs = seqs.iter().map(|seq| {
                let s = span(seq.span);
                let items = seq.items.iter().map(|i| {
                    let (m, s) = (i.message, span(i.span));
                    let rep = match i.repeat {
                        Repeat::One => quote!(rt::spec::Repeat::One),
                        Repeat::Optional => quote!(rt::spec::Repeat::Optional),
                        Repeat::ZeroOrMore => quote!(rt::spec::Repeat::ZeroOrMore),
                        Repeat::OneOrMore => quote!(rt::spec::Repeat::OneOrMore),
                    };
                    quote!(rt::spec::ReplyItem { message: #m, repeat: #rep, span: #s })
                });
                quote!(rt::spec::ReplySeq { items: ::std::vec![#(#items),*], span: #s })
            });
            quote!(rt::spec::Reply::Sequences(::std::vec![#(#seqs),*]))
        }
    }
}
