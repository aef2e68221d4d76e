//! `struct` and `choice` declarations: named types that fields may have.
//! Names are collected first, so a type may refer to one declared after it
//! (and to itself, through other types: a RESP array holds any value).

use std::collections::HashMap;

use protocol_runtime::spec::{TypeDef, TypeKind};

use super::message::{MessageLowerer, TypeNames};
use super::Defaults;
use crate::ast::{self, Decl};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};

/// Every type's id, in declaration order; a name declared twice is E0102.
pub(super) fn names(protocol: &ast::Protocol, diags: &mut Diagnostics) -> TypeNames {
    let mut out: TypeNames = HashMap::new();
    let mut next = 0;
    for decl in &protocol.decls {
        let (name, inline) = match decl {
            Decl::Struct(s) => (
                &s.name,
                matches!(s.segments.as_slice(), [ast::Segment::Inline { .. }]),
            ),
            Decl::Choice(c) => (&c.name, false),
            _ => continue,
        };
        if let Some((_, first, _)) = out.get(&name.name) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    name.span,
                    format!("type `{}` is declared twice", name.name),
                )
                .label("second declaration")
                .with_secondary(*first, "first declared here")
                .help("rename one of the types"),
            );
        } else {
            out.insert(name.name.clone(), (next, name.span, inline));
        }
        next += 1;
    }
    out
}

pub(super) fn lower_all(
    protocol: &ast::Protocol,
    names: &TypeNames,
    defaults: &Defaults,
    diags: &mut Diagnostics,
) -> Vec<TypeDef> {
    let mut out = Vec::new();
    for decl in &protocol.decls {
        let def = match decl {
            Decl::Struct(s) => TypeDef {
                name: s.name.name.clone(),
                span: s.name.span,
                kind: TypeKind::Struct(
                    MessageLowerer::new(defaults, names, diags).lower(&s.name, &s.segments),
                ),
            },
            Decl::Choice(c) => TypeDef {
                name: c.name.name.clone(),
                span: c.name.span,
                kind: TypeKind::Choice(branches(protocol, c, names, diags)),
            },
            _ => continue,
        };
        out.push(def);
    }
    out
}

/// A choice's branches: structs, each once.
fn branches(
    protocol: &ast::Protocol,
    c: &ast::ChoiceDecl,
    names: &TypeNames,
    diags: &mut Diagnostics,
) -> Vec<usize> {
    let mut out = Vec::new();
    for b in &c.branches {
        let Some((id, _, inline)) = names.get(&b.name) else {
            diags.push(
                Diagnostic::new(
                    Code::UnknownName,
                    b.span,
                    format!("unknown type `{}` in choice `{}`", b.name, c.name.name),
                )
                .label("no such struct")
                .help("declare it: `struct NAME = ...;`"),
            );
            continue;
        };
        let is_choice = protocol
            .decls
            .iter()
            .any(|d| matches!(d, Decl::Choice(other) if other.name.name == b.name));
        if is_choice {
            diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    b.span,
                    format!(
                        "`{}` is a choice; the branches of `{}` are structs",
                        b.name, c.name.name
                    ),
                )
                .label("a choice inside a choice")
                .help(format!("list the branches of `{}` here instead", b.name)),
            );
            continue;
        }
        if *inline {
            // A choice's branch is decided by its first frame.
            diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    b.span,
                    format!("`{}` is read in place and has no frame to tell it apart by", b.name),
                )
                .label("a branch without a frame of its own")
                .help(format!(
                    "frame `{}` (as in `struct {} = fixed {{ ... }};`), or tell the cases apart with `match` on a field read before",
                    b.name, b.name
                )),
            );
            continue;
        }
        if out.contains(id) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    b.span,
                    format!("`{}` is a branch of `{}` twice", b.name, c.name.name),
                )
                .label("listed again")
                .help("list each branch once"),
            );
            continue;
        }
        out.push(*id);
    }
    out
}
