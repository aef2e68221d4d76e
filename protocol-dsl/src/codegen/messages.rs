//! Message structs, choice enums and the per-role message enums.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use protocol_runtime::layout::{FieldDef, FieldType, Role};

use super::names::{option_names, type_ident, value_ident};
use super::Context;
use crate::ir::Message;

/// The Rust type of a field, and how its value converts.
pub(super) struct FieldCode {
    pub name: proc_macro2::Ident,
    pub ty: TokenStream,
    pub to_value: TokenStream,
    pub from_value: TokenStream,
}

pub(super) fn field_code(cx: &Context, message: &Message, index: usize, f: &FieldDef) -> FieldCode {
    let name = value_ident(&f.name);
    let (mname, fname) = (&message.name, &f.name);
    let i = index;
    let take = quote!(rt::typed::take(&mut values, #i));
    if let FieldType::Choice(_) = &f.ty {
        let enum_ty = choice_enum_name(cx, message, f);
        return if f.optional {
            FieldCode {
                ty: quote!(::std::option::Option<#enum_ty>),
                to_value: quote!(self.#name.map_or(rt::Value::Absent, rt::typed::choice_to_value)),
                from_value: quote!(rt::typed::opt_choice_from_value(#take, #mname, #fname)?),
                name,
            }
        } else {
            FieldCode {
                ty: quote!(#enum_ty),
                to_value: quote!(rt::typed::choice_to_value(self.#name)),
                from_value: quote!(rt::typed::choice_from_value(#take, #mname, #fname)?),
                name,
            }
        };
    }
    // A struct holding a value of its own type (through others) boxes it;
    // messages are no types, and never need to.
    let container = cx.protocol.types.iter().position(|t| t.name == message.name);
    let base = rust_type(cx, &f.ty, container);
    let ty = if f.optional {
        quote!(::std::option::Option<#base>)
    } else {
        base
    };
    FieldCode {
        to_value: quote!(rt::typed::FieldValue::to_value(self.#name)),
        from_value: quote!(<#ty as rt::typed::FieldValue>::from_value(#take, #mname, #fname)?),
        ty,
        name,
    }
}

fn rust_type(cx: &Context, t: &FieldType, container: Option<usize>) -> TokenStream {
    match t {
        FieldType::Type(id) => {
            let name = type_ident(&cx.protocol.types[*id].name);
            if container.is_some_and(|c| *id == c || super::types::reaches(cx.protocol, *id, c)) {
                // A value holding itself directly would have no size.
                quote!(::std::boxed::Box<#name>)
            } else {
                quote!(#name)
            }
        }
        FieldType::Array { item, .. } if matches!(**item, FieldType::Type(_)) => {
            let FieldType::Type(id) = **item else {
                unreachable!()
            };
            let name = type_ident(&cx.protocol.types[id].name);
            quote!(::std::vec::Vec<#name>)
        }
        FieldType::Token { except: None, .. } | FieldType::Text | FieldType::Domain { .. } => {
            quote!(::std::string::String)
        }
        FieldType::Token { except: Some(_), .. } | FieldType::Bytes => quote!(rt::bytes::Bytes),
        FieldType::Int(k) => {
            let ty = format_ident!("{}{}", if k.signed { "i" } else { "u" }, k.bits);
            quote!(#ty)
        }
        FieldType::Bin(b) => {
            let ty = format_ident!("{}{}", if b.signed { "i" } else { "u" }, b.bits);
            quote!(#ty)
        }
        FieldType::Bit { width: 1 } => quote!(bool),
        FieldType::Bit { width } => match width {
            2..=8 => quote!(u8),
            9..=16 => quote!(u16),
            17..=32 => quote!(u32),
            _ => quote!(u64),
        },
        FieldType::Sized { text: true, .. } | FieldType::Terminated { text: true, .. } => {
            quote!(::std::string::String)
        }
        FieldType::Terminated { text: false, .. } => quote!(rt::bytes::Bytes),
        FieldType::Sized { text: false, .. } => quote!(rt::bytes::Bytes),
        FieldType::Flag => quote!(bool),
        FieldType::Array { item, .. } | FieldType::List { item, .. } | FieldType::Rest { item, .. } => {
            let item = rust_type(cx, item, container);
            quote!(::std::vec::Vec<#item>)
        }
        // Choices get an enum of their own (see `field_code`).
        FieldType::Choice(_) => quote!(usize),
    }
}

/// A choice's type is named after its field (`power` → `Power`) where no
/// other choice field has that name and no message or generated type takes
/// it; otherwise after its message and field (`SetCmd`).
pub(super) fn choice_enum_name(cx: &Context, message: &Message, f: &FieldDef) -> proc_macro2::Ident {
    let short = super::names::camel(&f.name);
    let p = cx.protocol;
    let struct_fields = p
        .types
        .iter()
        .filter_map(|t| t.layout())
        .flat_map(|l| l.fields.iter());
    let shared = p
        .messages
        .iter()
        .flat_map(|m| m.layout.fields.iter())
        .chain(struct_fields)
        .filter(|g| matches!(g.ty, FieldType::Choice(_)) && super::names::camel(&g.name) == short)
        .count()
        > 1;
    let taken = p.messages.iter().any(|m| super::names::camel(&m.name) == short)
        || p.types.iter().any(|t| super::names::camel(&t.name) == short)
        || ["ClientMessage", "ServerMessage", "Client", "Server"].contains(&short.as_str());
    if shared || taken || short.is_empty() {
        type_ident(&format!("{}_{}", message.name, f.name))
    } else {
        type_ident(&short)
    }
}

pub(super) fn generate(cx: &Context) -> TokenStream {
    let mut out = TokenStream::new();
    for (id, m) in cx.protocol.messages.iter().enumerate() {
        out.extend(message(cx, id, m));
    }
    out.extend(role_enum(cx, Role::Client));
    out.extend(role_enum(cx, Role::Server));
    out
}

/// A struct's fields as the message code does them: its type, the
/// enums of its choice fields, and its conversions to and from values.
pub(super) struct BodyCode {
    pub enums: TokenStream,
    pub body: TokenStream,
    pub to_values: Vec<TokenStream>,
    pub construct: TokenStream,
    pub values_param: TokenStream,
}

pub(super) fn body_code(cx: &Context, m: &Message, name: &proc_macro2::Ident) -> BodyCode {
    let mut enums = TokenStream::new();
    let mut fields = Vec::new();
    let mut to_values = Vec::new();
    let mut from_values = Vec::new();
    for (i, f) in m.layout.fields.iter().enumerate() {
        if f.derived {
            to_values.push(quote!(rt::Value::Absent));
            continue;
        }
        if let FieldType::Choice(options) = &f.ty {
            enums.extend(choice_enum(cx, m, f, options));
        }
        let code = field_code(cx, m, i, f);
        let fdoc = format!("`{}` ({}).", f.name, cx.location(f.span));
        let (fname, ty) = (&code.name, &code.ty);
        fields.push(quote!(#[doc = #fdoc] pub #fname: #ty));
        to_values.push(code.to_value);
        let from = code.from_value;
        from_values.push(quote!(#fname: #from));
    }
    let body = if fields.is_empty() {
        quote!(;)
    } else {
        quote!({ #(#fields),* })
    };
    let construct = if from_values.is_empty() {
        quote!(::std::result::Result::Ok(#name))
    } else {
        quote!(::std::result::Result::Ok(#name { #(#from_values),* }))
    };
    let values_param = if from_values.is_empty() {
        quote!(_values)
    } else {
        quote!(mut values)
    };
    BodyCode {
        enums,
        body,
        to_values,
        construct,
        values_param,
    }
}

fn message(cx: &Context, id: usize, m: &Message) -> TokenStream {
    let name = type_ident(&m.name);
    let mname = &m.name;
    let doc = format!(
        "The {} message `{}`, from {}:\n\n```text\n{}\n```",
        m.role,
        m.name,
        cx.location(m.span),
        cx.declaration(m.span)
    );
    let BodyCode {
        enums,
        body,
        to_values,
        construct,
        values_param,
    } = body_code(cx, m, &name);
    quote! {
        #enums
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct #name #body

        impl rt::typed::TypedMessage for #name {
            const ID: usize = #id;
            const NAME: &'static str = #mname;
            fn into_values(self) -> ::std::vec::Vec<rt::Value> {
                ::std::vec![#(#to_values),*]
            }
            fn from_values(#values_param: ::std::vec::Vec<rt::Value>) -> ::std::result::Result<Self, rt::Error> {
                #construct
            }
        }
    }
}

pub(super) fn choice_enum(cx: &Context, m: &Message, f: &FieldDef, options: &[Vec<u8>]) -> TokenStream {
    let name = choice_enum_name(cx, m, f);
    let variants = option_names(options, &f.labels);
    let docs = options.iter().map(|o| format!("`\"{}\"`", o.escape_ascii()));
    let indices = 0..options.len();
    let indices2 = 0..options.len();
    let doc = format!(
        "The options of field `{}` of `{}` ({}).",
        f.name,
        m.name,
        cx.location(f.span)
    );
    let first = &variants[0];
    let rest = &variants[1..];
    let first_doc = docs.clone().next().unwrap_or_default();
    let rest_docs = docs.skip(1);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum #name {
            #[doc = #first_doc]
            #[default]
            #first,
            #(#[doc = #rest_docs] #rest,)*
        }

        impl rt::typed::Choice for #name {
            fn index(&self) -> usize {
                match self { #(Self::#variants => #indices,)* }
            }
            fn from_index(i: usize) -> ::std::option::Option<Self> {
                match i { #(#indices2 => ::std::option::Option::Some(Self::#variants),)* _ => ::std::option::Option::None }
            }
        }
    }
}

fn role_enum(cx: &Context, role: Role) -> TokenStream {
    let name = match role {
        Role::Client => quote!(ClientMessage),
        Role::Server => quote!(ServerMessage),
    };
    let doc = format!("Any message the {role} sends.");
    let msgs: Vec<_> = cx.protocol.messages.iter().filter(|m| m.role == role).collect();
    let variants: Vec<_> = msgs.iter().map(|m| type_ident(&m.name)).collect();
    if variants.is_empty() {
        return quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq, Eq)]
            pub enum #name {}
            impl #name {
                /// Converts to the engine's message value.
                pub fn into_message(self) -> rt::Message {
                    match self {}
                }
                /// Converts from the engine's message value.
                pub fn from_message(m: rt::Message) -> ::std::result::Result<Self, rt::Error> {
                    ::std::result::Result::Err(rt::Error::Misuse(::std::format!("no message #{} is sent by this role", m.id)))
                }
            }
        };
    }
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum #name {
            #(#[allow(missing_docs)] #variants(#variants),)*
        }

        impl #name {
            /// Converts to the engine's message value.
            pub fn into_message(self) -> rt::Message {
                match self {
                    #(Self::#variants(m) => rt::typed::TypedMessage::into_message(m),)*
                }
            }
            /// Converts from the engine's message value.
            pub fn from_message(m: rt::Message) -> ::std::result::Result<Self, rt::Error> {
                #(
                    if m.id == <#variants as rt::typed::TypedMessage>::ID {
                        return ::std::result::Result::Ok(Self::#variants(<#variants as rt::typed::TypedMessage>::from_values(m.fields)?));
                    }
                )*
                ::std::result::Result::Err(rt::Error::Misuse(::std::format!("message #{} is not sent by this role", m.id)))
            }
        }

        #(
            impl ::std::convert::From<#variants> for #name {
                fn from(m: #variants) -> Self {
                    Self::#variants(m)
                }
            }
        )*
    }
}
