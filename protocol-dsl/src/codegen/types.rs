//! Named types: a `struct` becomes a Rust struct, a `choice` an enum with
//! one tuple variant per branch. Both convert to and from the engine's
//! values through `rt::typed::FieldValue`, as message fields do.

use proc_macro2::TokenStream;
use quote::quote;

use protocol_runtime::layout::{FieldType, Role};

use super::messages::{body_code, BodyCode};
use super::names::type_ident;
use super::Context;
use crate::ir::{Message, Protocol, TypeKind};

pub(super) fn generate(cx: &Context) -> TokenStream {
    let mut out = TokenStream::new();
    for t in &cx.protocol.types {
        let name = type_ident(&t.name);
        let doc = format!(
            "The {} `{}`, from {}:\n\n```text\n{}\n```",
            if matches!(t.kind, TypeKind::Struct(_)) {
                "struct"
            } else {
                "choice"
            },
            t.name,
            cx.location(t.span),
            cx.declaration(t.span)
        );
        match &t.kind {
            TypeKind::Struct(layout) => {
                // Field code is shared with messages (a struct's layout is a
                // message's); the role is never used for a struct.
                let as_message = Message {
                    name: t.name.clone(),
                    span: t.span,
                    role: Role::Client,
                    layout: layout.clone(),
                };
                let BodyCode {
                    enums,
                    body,
                    to_values,
                    construct,
                    values_param,
                } = body_code(cx, &as_message, &name);
                let tname = &t.name;
                out.extend(quote! {
                    #enums
                    #[doc = #doc]
                    #[derive(Debug, Clone, PartialEq, Eq, Default)]
                    pub struct #name #body

                    impl rt::typed::FieldValue for #name {
                        fn to_value(self) -> rt::Value {
                            rt::Value::Struct(::std::vec![#(#to_values),*])
                        }
                        fn from_value(v: rt::Value, message: &str, field: &str) -> ::std::result::Result<Self, rt::Error> {
                            let rt::Value::Struct(#values_param) = v else {
                                return ::std::result::Result::Err(rt::Error::Misuse(::std::format!(
                                    "field `{field}` of `{message}` should hold a `{}`, not {v:?}", #tname
                                )));
                            };
                            #construct
                        }
                    }
                });
            }
            TypeKind::Choice(branches) => {
                let variants: Vec<_> = branches
                    .iter()
                    .map(|b| type_ident(&cx.protocol.types[*b].name))
                    .collect();
                let indices: Vec<usize> = (0..branches.len()).collect();
                // The default is a branch that does not hold the choice
                // again (a default that did would never end).
                let me = cx
                    .protocol
                    .types
                    .iter()
                    .position(|u| u.name == t.name)
                    .unwrap_or(usize::MAX);
                let leaf = branches
                    .iter()
                    .position(|b| !reaches(cx.protocol, *b, me))
                    .unwrap_or(0);
                let first = &variants[leaf];
                let tname = &t.name;
                out.extend(quote! {
                    #[doc = #doc]
                    #[derive(Debug, Clone, PartialEq, Eq)]
                    pub enum #name {
                        #(#[allow(missing_docs)] #variants(#variants),)*
                    }

                    impl ::std::default::Default for #name {
                        fn default() -> Self {
                            Self::#first(::std::default::Default::default())
                        }
                    }

                    impl rt::typed::FieldValue for #name {
                        fn to_value(self) -> rt::Value {
                            match self {
                                #(Self::#variants(v) => rt::Value::Variant(#indices, ::std::boxed::Box::new(rt::typed::FieldValue::to_value(v))),)*
                            }
                        }
                        fn from_value(v: rt::Value, message: &str, field: &str) -> ::std::result::Result<Self, rt::Error> {
                            match v {
                                #(rt::Value::Variant(#indices, inner) => ::std::result::Result::Ok(Self::#variants(rt::typed::FieldValue::from_value(*inner, message, field)?)),)*
                                other => ::std::result::Result::Err(rt::Error::Misuse(::std::format!(
                                    "field `{field}` of `{message}` should hold a `{}`, not {other:?}", #tname
                                ))),
                            }
                        }
                    }
                });
            }
        }
    }
    out
}

/// Whether a value of type `from` may hold one of type `to`.
pub(super) fn reaches(p: &Protocol, from: usize, to: usize) -> bool {
    let contains = |u: usize| -> Vec<usize> {
        match &p.types[u].kind {
            TypeKind::Choice(bs) => bs.clone(),
            TypeKind::Struct(l) => l
                .fields
                .iter()
                .filter_map(|f| match &f.ty {
                    FieldType::Type(x) => Some(*x),
                    FieldType::Array { item, .. } => match **item {
                        FieldType::Type(x) => Some(x),
                        _ => None,
                    },
                    _ => None,
                })
                .collect(),
        }
    };
    let mut seen = vec![false; p.types.len()];
    let mut stack = contains(from);
    while let Some(u) = stack.pop() {
        if u == to {
            return true;
        }
        if !seen[u] {
            seen[u] = true;
            stack.extend(contains(u));
        }
    }
    false
}
