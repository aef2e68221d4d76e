//! Stage 4: Rust code from the IR, one file per artifact: the spec as data
//! (`spec`), message types (`messages`), the typestate API of each role
//! (`typestate`, with `replies`) and the dynamic API (`dynamic`). The output
//! is types and typestate on top of the runtime's engine, not a copy of it.

mod dynamic;
mod messages;
pub mod names;
mod replies;
mod spec;
mod types;
mod typestate;

use proc_macro2::TokenStream;
use quote::quote;

use crate::diagnostic::Source;
use crate::ir::{Protocol, Span};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub client: bool,
    pub server: bool,
    /// The path of the runtime crate in generated code.
    pub runtime: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            client: true,
            server: true,
            runtime: "::protocol_runtime".into(),
        }
    }
}

pub(crate) struct Context<'a> {
    pub protocol: &'a Protocol,
    pub source: &'a Source,
}

impl Context<'_> {
    /// `file:line` of a span, for doc comments.
    pub fn location(&self, span: Span) -> String {
        let (line, _) = self.source.line_col(span.start as usize);
        let file = std::path::Path::new(&self.source.name)
            .file_name()
            .map_or_else(|| self.source.name.clone(), |f| f.to_string_lossy().into_owned());
        format!("`{file}:{line}`")
    }

    /// The source line a declaration starts on, trimmed.
    pub fn declaration(&self, span: Span) -> String {
        let (line, _) = self.source.line_col(span.start as usize);
        self.source
            .text
            .lines()
            .nth(line - 1)
            .unwrap_or("")
            .trim()
            .replace("```", "`")
    }
}

/// Generates the module for one checked spec: `pub mod <protocol name> { ... }`.
pub fn generate(protocol: &Protocol, source: &Source, options: &Options) -> TokenStream {
    let cx = Context { protocol, source };
    let module = names::value_ident(&protocol.name);
    let runtime: TokenStream = options
        .runtime
        .parse()
        .unwrap_or_else(|_| quote!(::protocol_runtime));
    let spec = spec::build_fn(protocol);
    let messages = messages::generate(&cx);
    let types = types::generate(&cx);
    let client = if options.client {
        typestate::generate(&cx, protocol_runtime::layout::Role::Client)
    } else {
        quote!()
    };
    let server = if options.server {
        typestate::generate(&cx, protocol_runtime::layout::Role::Server)
    } else {
        quote!()
    };
    let dynamic = dynamic::generate();
    let doc = format!(
        "Client and server for the `{}` protocol, generated from `{}`.",
        protocol.name,
        std::path::Path::new(&source.name)
            .file_name()
            .map_or_else(|| source.name.clone(), |f| f.to_string_lossy().into_owned())
    );
    let port_doc = match protocol.port {
        Some(p) => {
            quote!(#[doc = "The protocol's default port."] pub const DEFAULT_PORT: u16 = #p;)
        }
        None => quote!(),
    };
    quote! {
        #[doc = #doc]
        #[allow(dead_code)]
        pub mod #module {
            #[allow(unused_imports)]
            use #runtime as rt;
            #port_doc
            #spec
            #types
            #messages
            #client
            #server
            #dynamic
        }
    }
}

/// Generates and formats the module as source text (for `build.rs` output).
pub fn generate_file(protocol: &Protocol, source: &Source, options: &Options) -> String {
    let tokens = generate(protocol, source, options);
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    }
}
