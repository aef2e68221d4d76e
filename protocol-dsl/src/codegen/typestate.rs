//! The typestate API of one role: a type per state (and per point of a
//! reply), whose methods are exactly the moves the spec allows there.
//! Receiving returns an enum whose variants carry the next state.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use protocol_runtime::layout::{FieldType, Framing, Oversize, Role};
use protocol_runtime::spec::{Condition, MessageId, Reply, RuleKind, StateId, Target};

use super::names::{camel, snake, type_ident, value_ident};
use super::replies::{self, Next, ReplyGraph};
use super::Context;

/// Where a reply graph belongs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Exchange(StateId, usize),
    Otherwise(StateId),
}

struct Graph {
    owner: Owner,
    base: String,
    graph: ReplyGraph,
}

pub(super) fn generate(cx: &Context, role: Role) -> TokenStream {
    let graphs = graphs(cx);
    let g = Gen { cx, role, graphs };
    let mut items = TokenStream::new();
    for sid in 0..cx.protocol.states.len() {
        items.extend(g.state(sid));
    }
    for (gi, graph) in g.graphs.iter().enumerate() {
        for point in 0..graph.graph.edges.len() {
            items.extend(g.reply_point(gi, point));
        }
    }
    let (module, doc, entry) = match role {
        Role::Client => (quote!(client), "The client's typestate API.", g.client_entry()),
        Role::Server => (quote!(server), "The server's typestate API.", g.server_entry()),
    };
    quote! {
        #[doc = #doc]
        pub mod #module {
            use super::rt;
            #entry
            #items
        }
    }
}

/// Every reply graph of the spec, with unique type names.
fn graphs(cx: &Context) -> Vec<Graph> {
    let p = cx.protocol;
    let mut out: Vec<Graph> = Vec::new();
    for (sid, st) in p.states.iter().enumerate() {
        let otherwise = match &st.otherwise {
            Some(Reply::Sequences(_)) => {
                let graph = replies::build(p, sid, None, None);
                out.push(Graph {
                    owner: Owner::Otherwise(sid),
                    base: format!("{}Otherwise", camel(&st.name)),
                    graph,
                });
                out.last().map(|g| g.graph.clone())
            }
            _ => None,
        };
        for (ri, rule) in st.rules.iter().enumerate() {
            let RuleKind::Exchange {
                request,
                condition,
                reply: Reply::Sequences(_),
            } = &rule.kind
            else {
                continue;
            };
            let graph = replies::build(p, sid, Some(ri), otherwise.as_ref());
            let cond = condition.as_ref().map(|c| camel(&c.name)).unwrap_or_default();
            let base = format!("{}{cond}Reply", camel(&p.messages[*request].name));
            out.push(Graph {
                owner: Owner::Exchange(sid, ri),
                base,
                graph,
            });
        }
    }
    // The same request in several states: prefix the state's name.
    let bases: Vec<String> = out.iter().map(|g| g.base.clone()).collect();
    for g in &mut out {
        if bases.iter().filter(|b| **b == g.base).count() > 1 {
            if let Owner::Exchange(sid, _) = g.owner {
                g.base = format!("{}{}", camel(&p.states[sid].name), g.base);
            }
        }
    }
    out
}

struct Gen<'a> {
    cx: &'a Context<'a>,
    role: Role,
    graphs: Vec<Graph>,
}

/// One variant of a receive enum: a message (or close) and where it leads.
struct Variant {
    name: Ident,
    doc: String,
    /// `Some((message, condition check))` for message events.
    message: Option<(MessageId, TokenStream)>,
    /// Discarded (oversize `raw` skipped): the data field to fill with nothing.
    discarded: Option<u16>,
    next: Option<TokenStream>,
}

impl Gen<'_> {
    fn state_ty(&self, sid: StateId) -> Ident {
        type_ident(&self.cx.protocol.states[sid].name)
    }

    fn point_ty(&self, gi: usize, point: usize) -> Ident {
        let base = &self.graphs[gi].base;
        if point == 0 {
            format_ident!("{}", base)
        } else {
            format_ident!("{}{}", base, point)
        }
    }

    fn graph_of(&self, owner: Owner) -> Option<usize> {
        self.graphs.iter().position(|g| g.owner == owner)
    }

    fn message_ty(&self, m: MessageId) -> TokenStream {
        let t = type_ident(&self.cx.protocol.messages[m].name);
        quote!(super::#t)
    }

    fn dynamic_ty(&self) -> TokenStream {
        match self.role {
            Role::Client => quote!(super::dynamic::Client),
            Role::Server => quote!(super::dynamic::Server),
        }
    }

    /// The struct every state and reply point shares.
    fn handle(&self, name: &Ident, doc: &str) -> TokenStream {
        let dynamic = self.dynamic_ty();
        quote! {
            #[doc = #doc]
            #[must_use = "a conversation state does nothing unless a move is made"]
            pub struct #name {
                // Boxed: a conversation state is moved by every step it takes.
                conn: ::std::boxed::Box<rt::connection::Connection<rt::transport::Stream>>,
            }

            impl ::std::fmt::Debug for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.debug_struct(stringify!(#name)).field("state", &self.conn.session().state_name()).finish()
                }
            }

            impl #name {
                /// The connection underneath: its session, state and buffered bytes.
                pub fn connection(&self) -> &rt::connection::Connection<rt::transport::Stream> {
                    &self.conn
                }
                /// Leaves the typestate API for the dynamic one (checked at run time).
                pub fn into_dynamic(self) -> #dynamic {
                    #dynamic::from_connection(*self.conn)
                }
            }
        }
    }

    /// The expression for moving into a target.
    fn target_next(&self, sid: StateId, target: &Target) -> Option<TokenStream> {
        match target {
            Target::State(t) => {
                let ty = self.state_ty(*t);
                Some(quote!(#ty))
            }
            Target::HalfClose => {
                let ty = self.state_ty(sid);
                Some(quote!(#ty))
            }
            Target::Close => None,
        }
    }

    /// Code that sets or checks a rule's condition on an outgoing message.
    fn condition_fix(&self, message: MessageId, condition: Option<&Condition>, sid: StateId) -> TokenStream {
        let p = self.cx.protocol;
        // The condition fields any rule for this message in this state uses.
        let mut out = TokenStream::new();
        for rule in &p.states[sid].rules {
            let (m, c) = match &rule.kind {
                RuleKind::Send {
                    message, condition, ..
                } => (*message, condition),
                RuleKind::Exchange {
                    request, condition, ..
                } => (*request, condition),
                _ => continue,
            };
            let Some(c) = c.as_ref().filter(|_| m == message) else {
                continue;
            };
            let want = condition.is_some_and(|mine| mine.field == c.field);
            let f = c.field as usize;
            let field_ty = &p.messages[message].layout.fields[f].ty;
            if *field_ty == FieldType::Flag {
                out.extend(quote!(m.fields[#f] = rt::Value::Bool(#want);));
            } else {
                let msg = format!(
                    "field `{}` must be {} for this move",
                    c.name,
                    if want { "present" } else { "absent" }
                );
                out.extend(quote! {
                    if m.fields[#f].is_present() != #want {
                        return Err(rt::Error::Misuse(#msg.into()));
                    }
                });
            }
        }
        out
    }

    fn send_method(
        &self,
        method: Ident,
        doc: String,
        message: MessageId,
        fix: TokenStream,
        next: Option<TokenStream>,
    ) -> TokenStream {
        let mty = self.message_ty(message);
        let (ret, tail) = match next {
            Some(ty) => (ty.clone(), quote!(Ok(#ty { conn: self.conn }))),
            None => (quote!(()), quote!(self.conn.close().await)),
        };
        let mutability = if fix.is_empty() { quote!() } else { quote!(mut) };
        quote! {
            #[doc = #doc]
            pub async fn #method(mut self, msg: #mty) -> Result<#ret, rt::Error> {
                let #mutability m = rt::typed::TypedMessage::into_message(msg);
                #fix
                self.conn.send(&m).await?;
                #tail
            }
        }
    }

    fn state(&self, sid: StateId) -> TokenStream {
        let p = self.cx.protocol;
        let st = &p.states[sid];
        let name = self.state_ty(sid);
        let peer = self.role.peer();
        let mut methods = TokenStream::new();
        let mut variants: Vec<Variant> = Vec::new();
        // Rules with a condition first: the engine gives them precedence.
        let mut order: Vec<usize> = (0..st.rules.len()).collect();
        order.sort_by_key(|&i| match &st.rules[i].kind {
            RuleKind::Send { condition, .. } | RuleKind::Exchange { condition, .. } => condition.is_none(),
            _ => true,
        });
        for ri in order {
            let rule = &st.rules[ri];
            let at = self.cx.location(rule.span);
            match &rule.kind {
                RuleKind::Send {
                    role,
                    message,
                    condition,
                    target,
                } if *role == self.role => {
                    let suffix = condition
                        .as_ref()
                        .map(|c| format!("_{}", snake(&c.name)))
                        .unwrap_or_default();
                    let method = value_ident(&format!("send_{}{suffix}", snake(&p.messages[*message].name)));
                    let doc = format!("Sends `{}` ({at}).", p.messages[*message].name);
                    let fix = self.condition_fix(*message, condition.as_ref(), sid);
                    methods.extend(self.send_method(
                        method,
                        doc,
                        *message,
                        fix,
                        self.target_next(sid, target),
                    ));
                }
                RuleKind::Send {
                    role,
                    message,
                    condition,
                    target,
                } if *role == peer => {
                    variants.push(Variant {
                        name: type_ident(&format!(
                            "{}{}",
                            p.messages[*message].name,
                            condition.as_ref().map(|c| camel(&c.name)).unwrap_or_default()
                        )),
                        doc: format!("The {peer} sent `{}` ({at}).", p.messages[*message].name),
                        message: Some((*message, recv_condition(condition.as_ref()))),
                        discarded: None,
                        next: self.target_next(sid, target),
                    });
                }
                RuleKind::Exchange {
                    request,
                    condition,
                    reply,
                } => {
                    let next = match reply {
                        Reply::None { .. } => Some({
                            let t = self.state_ty(sid);
                            quote!(#t)
                        }),
                        Reply::Close { .. } => None,
                        Reply::Sequences(_) => self.graph_of(Owner::Exchange(sid, ri)).map(|gi| {
                            let t = self.point_ty(gi, 0);
                            quote!(#t)
                        }),
                    };
                    let rname = &p.messages[*request].name;
                    let suffix = condition
                        .as_ref()
                        .map(|c| format!("_{}", snake(&c.name)))
                        .unwrap_or_default();
                    if self.role == Role::Client {
                        let method = value_ident(&format!("{}{suffix}", snake(rname)));
                        let what = match reply {
                            Reply::None { .. } => "no reply comes".to_string(),
                            Reply::Close { .. } => "the server closes the connection".to_string(),
                            Reply::Sequences(_) => "returns the reply to receive".to_string(),
                        };
                        let doc = format!("Sends the request `{rname}` ({at}); {what}.");
                        let fix = self.condition_fix(*request, condition.as_ref(), sid);
                        let tail_next = if matches!(reply, Reply::Close { .. }) {
                            None
                        } else {
                            next.clone()
                        };
                        methods.extend(self.send_method(method, doc, *request, fix, tail_next));
                    } else {
                        let cond = condition.as_ref().map(|c| camel(&c.name)).unwrap_or_default();
                        variants.push(Variant {
                            name: type_ident(&format!("{rname}{cond}")),
                            doc: format!("The client sent the request `{rname}` ({at})."),
                            message: Some((*request, recv_condition(condition.as_ref()))),
                            discarded: None,
                            next: next.clone(),
                        });
                        if let Some(data) = discard_field(self.cx, *request) {
                            variants.push(Variant {
                                name: type_ident(&format!("{rname}{cond}Discarded")),
                                doc: format!(
                                    "The client sent `{rname}` with data over its limit: the data was skipped \
                                     (its `data` is empty; the `u64` is the bytes skipped) ({at})."
                                ),
                                message: Some((*request, recv_condition(condition.as_ref()))),
                                discarded: Some(data),
                                next,
                            });
                        }
                    }
                }
                RuleKind::Close { role } if *role == self.role => {
                    let doc = format!("Ends the conversation by closing the connection ({at}).");
                    methods.extend(quote! {
                        #[doc = #doc]
                        pub async fn close(self) -> Result<(), rt::Error> {
                            self.conn.close().await
                        }
                    });
                }
                RuleKind::Close { role } if *role == peer => variants.push(Variant {
                    name: format_ident!("Closed"),
                    doc: format!("The {peer} closed the connection ({at})."),
                    message: None,
                    discarded: None,
                    next: None,
                }),
                RuleKind::HalfClose { role, target } if *role == self.role => {
                    let next = self.target_next(sid, target).unwrap_or_else(|| quote!(()));
                    let doc = format!("Shuts down the writing side (half-close) ({at}).");
                    methods.extend(quote! {
                        #[doc = #doc]
                        pub async fn half_close(mut self) -> Result<#next, rt::Error> {
                            self.conn.shutdown_write().await?;
                            Ok(#next { conn: self.conn })
                        }
                    });
                }
                RuleKind::HalfClose { role, target } if *role == peer => variants.push(Variant {
                    name: format_ident!("HalfClosed"),
                    doc: format!("The {peer} shut down its writing side ({at})."),
                    message: None,
                    discarded: None,
                    next: self.target_next(sid, target),
                }),
                _ => {}
            }
        }
        if self.role == Role::Server && matches!(st.otherwise, Some(Reply::Sequences(_))) {
            if let Some(gi) = self.graph_of(Owner::Otherwise(sid)) {
                let t = self.point_ty(gi, 0);
                variants.push(Variant {
                    name: format_ident!("Unrecognized"),
                    doc: "Input that matches no request; the `otherwise` reply answers it (the bytes are the line).".into(),
                    message: None,
                    discarded: None,
                    next: Some(quote!(#t)),
                });
                variants.push(Variant {
                    name: format_ident!("Malformed"),
                    doc: "A request (named) whose first part matched and a later part did not, with the bytes found there (consumed); the `otherwise` reply answers it.".into(),
                    message: None,
                    discarded: None,
                    next: Some(quote!(#t)),
                });
            }
        }
        // A peer's end of stream reads the same for close and half-close; the
        // engine takes the half-close (and its target) when both are allowed.
        if variants.iter().any(|v| v.name == "HalfClosed") {
            variants.retain(|v| v.name != "Closed");
        }
        let doc = format!(
            "State `{}` ({}), as the {}.\n\n```text\n{}\n```",
            st.name,
            self.cx.location(st.span),
            self.role,
            self.cx.declaration(st.span)
        );
        let mut out = self.handle(&name, &doc);
        if !variants.is_empty() {
            let event = format_ident!("{}Event", name);
            out.extend(self.receive(&name, &event, &st.name, variants, &mut methods));
        }
        out.extend(quote!(impl #name { #methods }));
        out
    }

    /// The event enum of a state or reply point, and its `recv` method.
    fn receive(
        &self,
        owner: &Ident,
        event: &Ident,
        state_name: &str,
        variants: Vec<Variant>,
        methods: &mut TokenStream,
    ) -> TokenStream {
        let mut defs = Vec::new();
        let mut message_arms = Vec::new();
        let mut discard_arms = Vec::new();
        let mut closed_arm = None;
        let mut unrecognized_arm = None;
        let mut malformed_arm = None;
        for v in &variants {
            let (vname, doc) = (&v.name, &v.doc);
            let next_ty = v.next.clone();
            let next_val = next_ty.as_ref().map(|t| quote!(#t { conn: self.conn }));
            match (&v.message, v.discarded) {
                (Some((m, cond)), None) => {
                    let mty = self.message_ty(*m);
                    let id = *m;
                    defs.push(match &next_ty {
                        Some(t) => quote!(#[doc = #doc] #vname(#mty, #t)),
                        None => quote!(#[doc = #doc] #vname(#mty)),
                    });
                    let build = quote!(<#mty as rt::typed::TypedMessage>::from_values(m.fields)?);
                    let value = match &next_val {
                        Some(n) => quote!(#event::#vname(#build, #n)),
                        None => quote!(#event::#vname(#build)),
                    };
                    message_arms.push(quote!(if m.id == #id #cond { return Ok(#value); }));
                }
                (Some((m, cond)), Some(data)) => {
                    let mty = self.message_ty(*m);
                    let id = *m;
                    let data = data as usize;
                    defs.push(match &next_ty {
                        Some(t) => quote!(#[doc = #doc] #vname(#mty, u64, #t)),
                        None => quote!(#[doc = #doc] #vname(#mty, u64)),
                    });
                    let build = quote!({
                        let mut fields = m.fields;
                        fields[#data] = rt::Value::Bytes(Default::default());
                        <#mty as rt::typed::TypedMessage>::from_values(fields)?
                    });
                    let value = match &next_val {
                        Some(n) => quote!(#event::#vname(#build, bytes, #n)),
                        None => quote!(#event::#vname(#build, bytes)),
                    };
                    discard_arms.push(quote!(if m.id == #id #cond { return Ok(#value); }));
                }
                (None, _) if vname == "Malformed" => {
                    let n = next_val.clone().unwrap_or_default();
                    defs.push(quote!(#[doc = #doc] Malformed(&'static str, rt::bytes::Bytes, #next_ty)));
                    malformed_arm = Some(quote!(rt::session::Event::Malformed { message, found } => {
                        return Ok(#event::Malformed(super::message_name(message), found, #n));
                    }));
                }
                (None, _) if vname == "Unrecognized" => {
                    let n = next_val.clone().unwrap_or_default();
                    defs.push(quote!(#[doc = #doc] Unrecognized(rt::bytes::Bytes, #next_ty)));
                    unrecognized_arm = Some(quote!(rt::session::Event::Unrecognized { frame } => {
                        return Ok(#event::Unrecognized(frame, #n));
                    }));
                }
                (None, _) => {
                    defs.push(match &next_ty {
                        Some(t) => quote!(#[doc = #doc] #vname(#t)),
                        None => quote!(#[doc = #doc] #vname),
                    });
                    let value = match &next_val {
                        Some(n) => quote!(#event::#vname(#n)),
                        None => quote!(#event::#vname),
                    };
                    closed_arm = Some(quote!(rt::session::Event::Closed => return Ok(#value),));
                }
            }
        }
        let message_arm = if message_arms.is_empty() {
            quote!()
        } else {
            quote!(rt::session::Event::Message(m) => {
                #(#message_arms)*
                return Err(rt::typed::unexpected(#state_name, &rt::session::Event::Message(m)));
            })
        };
        let discard_arm = if discard_arms.is_empty() {
            quote!()
        } else {
            quote!(rt::session::Event::Discarded { message, fields, bytes } => {
                let m = rt::Message::new(message, fields);
                #(#discard_arms)*
                return Err(rt::typed::unexpected(#state_name, &rt::session::Event::Message(m)));
            })
        };
        let doc = format!("What may come in `{owner}`.");
        let recv_doc = format!(
            "Waits for the next move of the {}: at most until the state's timeout. Cancel-safe.",
            self.role.peer()
        );
        methods.extend(quote! {
            #[doc = #recv_doc]
            pub async fn recv(mut self) -> Result<#event, rt::Error> {
                loop {
                    match self.conn.recv().await? {
                        #message_arm
                        #discard_arm
                        #unrecognized_arm
                        #malformed_arm
                        #closed_arm
                        rt::session::Event::Ignored { .. } => continue,
                        #[allow(unreachable_patterns)]
                        other => return Err(rt::typed::unexpected(#state_name, &other)),
                    }
                }
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(Debug)]
            #[allow(clippy::large_enum_variant)]
            pub enum #event {
                #(#defs),*
            }
        }
    }

    /// One point of a reply: the client receives, the server sends.
    fn reply_point(&self, gi: usize, point: usize) -> TokenStream {
        let p = self.cx.protocol;
        let graph = &self.graphs[gi];
        let (sid, what) = match graph.owner {
            Owner::Exchange(sid, ri) => {
                let RuleKind::Exchange { request, .. } = &p.states[sid].rules[ri].kind else {
                    return quote!();
                };
                (sid, format!("the reply to `{}`", p.messages[*request].name))
            }
            Owner::Otherwise(sid) => (
                sid,
                format!("the `otherwise` reply of state `{}`", p.states[sid].name),
            ),
        };
        let name = self.point_ty(gi, point);
        let doc = if point == 0 {
            format!("Awaiting {what} in state `{}`.", p.states[sid].name)
        } else {
            format!("Part way through {what} in state `{}`.", p.states[sid].name)
        };
        let mut out = self.handle(&name, &doc);
        let otherwise_gi = self.graph_of(Owner::Otherwise(sid));
        let next_ty = |next: Next| -> TokenStream {
            match next {
                Next::Point(k) => {
                    let t = self.point_ty(gi, k);
                    quote!(#t)
                }
                Next::Done => {
                    let t = self.state_ty(sid);
                    quote!(#t)
                }
                Next::Otherwise(k) => {
                    let t = otherwise_gi.map_or_else(|| self.state_ty(sid), |o| self.point_ty(o, k));
                    quote!(#t)
                }
            }
        };
        let mut methods = TokenStream::new();
        let edges = &graph.graph.edges[point];
        match self.role {
            Role::Server => {
                for &(m, next) in edges {
                    let method = value_ident(&format!("send_{}", snake(&p.messages[m].name)));
                    let doc = format!("Sends `{}` as part of {what}.", p.messages[m].name);
                    methods.extend(self.send_method(method, doc, m, quote!(), Some(next_ty(next))));
                }
            }
            Role::Client => {
                let variants = edges
                    .iter()
                    .map(|&(m, next)| Variant {
                        name: type_ident(&p.messages[m].name),
                        doc: format!("The server sent `{}`.", p.messages[m].name),
                        message: Some((m, quote!())),
                        discarded: None,
                        next: Some(next_ty(next)),
                    })
                    .collect();
                let event = format_ident!("{}Event", name);
                out.extend(self.receive(&name, &event, &p.states[sid].name, variants, &mut methods));
            }
        }
        out.extend(quote!(impl #name { #methods }));
        out
    }

    fn client_entry(&self) -> TokenStream {
        let initial = self.state_ty(self.cx.protocol.initial);
        quote! {
            /// Connects to `addr` (`host:port` or `unix:/path`); the
            /// conversation starts in its initial state.
            pub async fn connect(addr: &str) -> Result<#initial, rt::Error> {
                let addr: rt::transport::Address = addr.parse().map_err(rt::Error::Misuse)?;
                let stream = rt::transport::Stream::connect(&addr, None).await?;
                Ok(from_stream(stream))
            }
            /// Connects over TLS.
            pub async fn connect_tls(addr: &str, tls: &rt::transport::TlsClient) -> Result<#initial, rt::Error> {
                let addr: rt::transport::Address = addr.parse().map_err(rt::Error::Misuse)?;
                let stream = rt::transport::Stream::connect(&addr, Some(tls)).await?;
                Ok(from_stream(stream))
            }
            /// Starts the conversation on a stream already connected (any
            /// transport, the in-memory one included).
            pub fn from_stream(stream: rt::transport::Stream) -> #initial {
                #initial { conn: ::std::boxed::Box::new(rt::connection::Connection::new(stream, super::spec(), rt::layout::Role::Client)) }
            }
        }
    }

    fn server_entry(&self) -> TokenStream {
        let initial = self.state_ty(self.cx.protocol.initial);
        quote! {
            /// Starts the server side of a conversation on an accepted stream.
            pub fn from_stream(stream: rt::transport::Stream) -> #initial {
                #initial { conn: ::std::boxed::Box::new(rt::connection::Connection::new(stream, super::spec(), rt::layout::Role::Server)) }
            }
            /// Serves connections from `listener` (a [`rt::transport::Listener`],
            /// or any [`rt::server::Accept`]) until `shutdown` completes,
            /// calling `handler` with each connection in the initial state.
            /// See [`rt::server::serve`] for limits and shutdown.
            pub async fn serve<A, H, F>(
                listener: A,
                config: rt::server::ServerConfig,
                stats: ::std::sync::Arc<rt::server::ServerStats>,
                handler: H,
                shutdown: impl ::std::future::Future<Output = ()>,
            ) -> ::std::io::Result<()>
            where
                A: rt::server::Accept,
                H: Fn(#initial) -> F + Send + Sync + 'static,
                F: ::std::future::Future<Output = Result<(), rt::Error>> + Send + 'static,
            {
                rt::server::serve(listener, super::spec(), config, stats, move |conn| handler(#initial { conn: ::std::boxed::Box::new(conn) }), shutdown).await
            }
        }
    }
}

fn recv_condition(c: Option<&Condition>) -> TokenStream {
    match c {
        Some(c) => {
            let f = c.field as usize;
            quote!(&& m.fields[#f].is_present())
        }
        None => quote!(),
    }
}

/// The data field of a request whose oversize `raw` part is discarded.
fn discard_field(cx: &Context, m: MessageId) -> Option<u16> {
    cx.protocol.messages[m]
        .layout
        .segments
        .iter()
        .find_map(|s| match &s.framing {
            Framing::Raw {
                oversize: Oversize::Discard,
                field,
                ..
            } => Some(*field),
            _ => None,
        })
}
