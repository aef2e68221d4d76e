//! Why: a message framed only by "whatever bytes are available" is cut wherever
//! TCP happened to cut the stream, so the same conversation decodes differently
//! from run to run; it is legitimate only for true streams (echo).

use protocol_runtime::layout::Framing;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    for m in p.bodies() {
        for seg in &m.layout.segments {
            if let Framing::Available { .. } = seg.framing {
                diags.push(
                    Diagnostic::new(Code::Segmentation, seg.span, format!("message `{}` is framed by whatever bytes are available", m.name))
                        .label("its boundaries depend on TCP segmentation")
                        .note("one read is not one message: the peer's writes may arrive split or merged, so each `raw(available)` chunk is arbitrary")
                        .help("frame it with `line(...)`, `length(...)` or `raw(n)` unless the protocol is a plain byte stream"),
                );
            }
        }
    }
}
