//! The proc-macro's expansion, here so that `protocol-macros` only forwards.
//! It never panics: every failure becomes a spanned `compile_error!`.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::LitStr;

use crate::codegen::{self, Options};

/// `protocol!("specs/x.proto")` or `protocol!(inline = "protocol x { ... }")`.
enum Input {
    Path(LitStr),
    Inline(LitStr),
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(Input::Path(input.parse()?));
        }
        let key: syn::Ident = input.parse()?;
        if key != "inline" {
            return Err(syn::Error::new(
                key.span(),
                "expected a spec path `\"specs/x.proto\"` or `inline = \"...\"`",
            ));
        }
        input.parse::<syn::Token![=]>()?;
        Ok(Input::Inline(input.parse()?))
    }
}

/// Expands `protocol!(...)`.
pub fn expand(input: TokenStream) -> TokenStream {
    match std::panic::catch_unwind(|| expand_inner(input)) {
        Ok(tokens) => tokens,
        Err(_) => quote!(compile_error!("internal error in protocol!: please report this spec");),
    }
}

fn expand_inner(input: TokenStream) -> TokenStream {
    let input: Input = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let (compiled, lit, track) = match &input {
        Input::Path(lit) => {
            let relative = lit.value();
            let base = std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .unwrap_or_default();
            let path = base.join(&relative);
            match crate::compile_file(&path) {
                Ok(c) => {
                    // Tracks the spec: editing it rebuilds the crate on stable Rust.
                    let file = path.display().to_string();
                    (
                        c,
                        lit,
                        Some(quote!(
                            const _: &[u8] = include_bytes!(#file);
                        )),
                    )
                }
                Err(e) => {
                    let msg = format!("cannot read spec `{}`: {e}", path.display());
                    return quote_spanned!(lit.span()=> compile_error!(#msg););
                }
            }
        }
        Input::Inline(lit) => (crate::compile_str("inline", &lit.value()), lit, None),
    };
    let errors: Vec<TokenStream> = compiled
        .diagnostics
        .items
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let rendered = crate::diagnostic::render(&compiled.source, std::slice::from_ref(d), false);
            // `path:line:col: error[CODE]: message`, then the source line and caret.
            let snippet: Vec<&str> = rendered.trim_end().lines().skip(1).collect();
            let msg = format!(
                "{}: error[{}]: {}\n{}",
                compiled.source.location(d.span),
                d.code,
                d.message,
                snippet.join("\n")
            );
            quote_spanned!(lit.span()=> compile_error!(#msg);)
        })
        .collect();
    let Some(protocol) = &compiled.protocol else {
        return quote!(#(#errors)*);
    };
    let module = codegen::generate(protocol, &compiled.source, &Options::default());
    let track = track.map(|t| quote!(const _: () = { #t };));
    quote!(#module #track)
}
