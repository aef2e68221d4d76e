//! Why: the overload reply is sent to a client that expects the protocol; if
//! it is not a message the server could send, clients cannot read it.

use bytes::BytesMut;
use protocol_runtime::engine::{Context, Decoded, Decoder};
use protocol_runtime::layout::Role;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    let Some(overload) = &p.overload else { return };
    let bytes = &overload.bytes;
    for (id, m) in p.messages.iter().enumerate() {
        if m.role != Role::Server {
            continue;
        }
        let mut buf = BytesMut::from(&bytes[..]);
        let mut decoder = Decoder::new();
        let decoded = decoder.decode(p, &[id], &mut buf, &Context { state: "overload" });
        if matches!(decoded, Ok(Some(Decoded::Message(_)))) && buf.is_empty() {
            return;
        }
    }
    diags.push(
        Diagnostic::new(Code::BadConstruct, overload.span, format!("the overload reply \"{}\" is not a server message", bytes.escape_ascii()))
            .label("clients could not read it")
            .help("write the bytes of one whole server message, delimiter included, as in `overload \"ERROR busy\\r\\n\";`"),
    );
}
