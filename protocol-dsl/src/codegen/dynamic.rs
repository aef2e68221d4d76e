//! The dynamic API: `send(msg)` / `recv()` checked at run time, for quick
//! scripts, and the pipelining handle (queue several requests, flush once,
//! receive the replies in order).

use proc_macro2::TokenStream;
use quote::quote;

pub(super) fn generate() -> TokenStream {
    let client = side(
        quote!(Client),
        quote!(ClientMessage),
        quote!(ServerMessage),
        quote!(Client),
        "client",
    );
    let server = side(
        quote!(Server),
        quote!(ServerMessage),
        quote!(ClientMessage),
        quote!(Server),
        "server",
    );
    quote! {
        /// The dynamic API: any message of the role, checked against the spec
        /// when sent or received.
        pub mod dynamic {
            use super::rt;

            /// What came from the peer.
            #[derive(Debug)]
            pub enum Received<M> {
                /// A message.
                Message(M),
                /// A message whose oversize data was skipped, as the spec
                /// declares (`over = discard`); the data field is empty.
                Discarded(M, u64),
                /// Input that matches no message, answered by the state's
                /// `otherwise` reply (servers only).
                Unrecognized(rt::bytes::Bytes),
                /// A request (named) whose first part matched and a later
                /// part did not, with the bytes found there (consumed),
                /// answered by the state's `otherwise` reply (servers only).
                Malformed(&'static str, rt::bytes::Bytes),
                /// The peer closed (or half-closed) where the spec allows it.
                Closed,
            }

            #client
            #server
        }
    }
}

fn side(
    name: TokenStream,
    ours: TokenStream,
    theirs: TokenStream,
    role: TokenStream,
    role_name: &str,
) -> TokenStream {
    let doc = format!("The {role_name} side of a connection, checked at run time.");
    let connect = if role_name == "client" {
        quote! {
            /// Connects to `addr` (`host:port` or `unix:/path`).
            pub async fn connect(addr: &str) -> Result<Self, rt::Error> {
                let addr: rt::transport::Address = addr.parse().map_err(rt::Error::Misuse)?;
                Ok(Self::from_stream(rt::transport::Stream::connect(&addr, None).await?))
            }
        }
    } else {
        quote!()
    };
    quote! {
        #[doc = #doc]
        pub struct #name {
            conn: rt::connection::Connection<rt::transport::Stream>,
        }

        impl #name {
            #connect

            /// Starts on a connected stream, in the spec's initial state.
            pub fn from_stream(stream: rt::transport::Stream) -> Self {
                Self::from_connection(rt::connection::Connection::new(stream, super::spec(), rt::layout::Role::#role))
            }

            /// Continues a conversation the typestate API started.
            pub fn from_connection(conn: rt::connection::Connection<rt::transport::Stream>) -> Self {
                Self { conn }
            }

            /// The connection underneath.
            pub fn connection(&self) -> &rt::connection::Connection<rt::transport::Stream> {
                &self.conn
            }

            /// Sends one message now.
            pub async fn send(&mut self, msg: impl Into<super::#ours>) -> Result<(), rt::Error> {
                self.conn.send(&msg.into().into_message()).await
            }

            /// Queues a message without sending it: pipelined requests (or a
            /// batch of replies) go out together on the next `flush`.
            pub fn queue(&mut self, msg: impl Into<super::#ours>) -> Result<(), rt::Error> {
                self.conn.queue(&msg.into().into_message())
            }

            /// Sends everything queued.
            pub async fn flush(&mut self) -> Result<(), rt::Error> {
                self.conn.flush().await
            }

            /// Sends bytes written by hand, keeping the conversation in step:
            /// they are read as the peer will read them, each whole message
            /// taken as sent and, from a client, a line the state's
            /// `otherwise` answers makes that reply owed (to see how a server
            /// answers an unknown command). Bytes that end mid-message or that
            /// the spec does not allow here are refused (misuse) and nothing
            /// is written.
            pub async fn send_bytes(&mut self, bytes: &[u8]) -> Result<::std::vec::Vec<rt::session::Sent>, rt::Error> {
                self.conn.send_bytes(bytes).await
            }

            /// Replies still owed on this connection (pipelined requests
            /// whose replies have not all arrived, or not all been sent).
            pub fn pending_replies(&self) -> usize {
                self.conn.session().pending_replies()
            }

            /// Receives the next message (cancel-safe).
            pub async fn recv(&mut self) -> Result<Received<super::#theirs>, rt::Error> {
                loop {
                    return match self.conn.recv().await? {
                        rt::session::Event::Message(m) => Ok(Received::Message(super::#theirs::from_message(m)?)),
                        rt::session::Event::Discarded { message, mut fields, bytes } => {
                            for f in fields.iter_mut() {
                                if *f == rt::Value::Absent {
                                    *f = rt::Value::Bytes(Default::default());
                                }
                            }
                            let m = rt::Message::new(message, fields);
                            Ok(Received::Discarded(super::#theirs::from_message(m)?, bytes))
                        }
                        rt::session::Event::Unrecognized { frame } => Ok(Received::Unrecognized(frame)),
                        rt::session::Event::Malformed { message, found } => {
                            Ok(Received::Malformed(super::message_name(message), found))
                        }
                        rt::session::Event::Closed => Ok(Received::Closed),
                        rt::session::Event::Ignored { .. } => continue,
                    };
                }
            }

            /// Consumes the connection as a stream of what the peer sends
            /// ("active" consumption, where `recv` is pull-style). The stream
            /// ends after `Closed` or the first error.
            pub fn into_stream(
                self,
            ) -> impl rt::futures_util::Stream<Item = ::std::result::Result<Received<super::#theirs>, rt::Error>> {
                rt::futures_util::stream::unfold(::std::option::Option::Some(self), |state| async move {
                    let mut this = state?;
                    match this.recv().await {
                        ::std::result::Result::Ok(Received::Closed) => {
                            ::std::option::Option::Some((::std::result::Result::Ok(Received::Closed), ::std::option::Option::None))
                        }
                        ::std::result::Result::Ok(r) => {
                            ::std::option::Option::Some((::std::result::Result::Ok(r), ::std::option::Option::Some(this)))
                        }
                        ::std::result::Result::Err(e) => {
                            ::std::option::Option::Some((::std::result::Result::Err(e), ::std::option::Option::None))
                        }
                    }
                })
            }

            /// Shuts down the writing side, if the spec allows it here.
            pub async fn shutdown_write(&mut self) -> Result<(), rt::Error> {
                self.conn.shutdown_write().await
            }

            /// Flushes and closes.
            pub async fn close(self) -> Result<(), rt::Error> {
                self.conn.close().await
            }
        }
    }
}
