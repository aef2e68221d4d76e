//! Rust names for spec names: types in CamelCase, methods in snake_case,
//! keywords escaped.

use proc_macro2::{Ident, Span};

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try", "typeof",
    "unsized", "virtual", "yield",
];

/// An identifier, raw if it is a keyword (`r#type`).
pub fn ident(name: &str) -> Ident {
    if KEYWORDS.contains(&name) {
        if matches!(name, "self" | "Self" | "super" | "crate") {
            return Ident::new(&format!("{name}_"), Span::call_site());
        }
        return Ident::new_raw(name, Span::call_site());
    }
    Ident::new(name, Span::call_site())
}

/// `flush_all` → `FlushAll`, `get` → `Get`, `" noreply"` → `Noreply`.
pub fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        } else {
            upper = true;
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// `FlushAll` → `flush_all`, `VersionReply` → `version_reply`.
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if i > 0 && !out.ends_with('_') && (prev_lower || next_lower && chars[i - 1].is_ascii_uppercase())
            {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// A type name as an identifier.
pub fn type_ident(name: &str) -> Ident {
    ident(&camel(name))
}

/// A method or field name as an identifier.
pub fn value_ident(name: &str) -> Ident {
    ident(&snake(name))
}

/// Names for a choice's options: the name the spec gives (`"0" as Off`),
/// else the literal in CamelCase (`"gets"` → `Gets`, `"1"` → `V1`), made
/// unique.
pub fn option_names(options: &[Vec<u8>], labels: &[String]) -> Vec<Ident> {
    let mut names: Vec<String> = Vec::new();
    for (i, o) in options.iter().enumerate() {
        let mut n = match labels.get(i).filter(|l| !l.is_empty()) {
            Some(l) => l.clone(),
            None => camel(&String::from_utf8_lossy(o)),
        };
        if n.is_empty() {
            n = format!("Option{i}");
        }
        while names.contains(&n) {
            n.push_str(&i.to_string());
        }
        names.push(n);
    }
    names.iter().map(|n| ident(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(camel("flush_all"), "FlushAll");
        assert_eq!(camel(" noreply"), "Noreply");
        assert_eq!(snake("FlushAll"), "flush_all");
        assert_eq!(snake("VersionReply"), "version_reply");
        assert_eq!(snake("HTTPRequest"), "http_request");
        assert_eq!(snake("Get"), "get");
        assert_eq!(ident("type").to_string(), "r#type");
    }
}
