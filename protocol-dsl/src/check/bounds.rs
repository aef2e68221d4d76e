//! Why: a peer controls lengths, lines and repetitions; without a bound a
//! hostile or broken peer makes the receiver buffer without limit.

use protocol_runtime::layout::{FieldType, Framing};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;
use crate::lower::UNBOUNDED;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    for m in &p.messages {
        for seg in &m.layout.segments {
            let (what, example, limit) = match &seg.framing {
                Framing::Line { max, .. } if *max == UNBOUNDED => {
                    ("line", "line(\"\\r\\n\", max = 2 KiB)", "line")
                }
                Framing::Length { max, .. } if *max == UNBOUNDED => {
                    ("length-prefixed frame", "length(u32be, max = 1 MiB)", "length")
                }
                Framing::Raw { max, .. } if *max == UNBOUNDED => {
                    ("`raw` length", "raw(len, max = 1 MiB)", "raw")
                }
                Framing::UntilClose { max, .. } if *max == UNBOUNDED => {
                    ("`raw(until_close)`", "raw(until_close, max = 1 MiB)", "raw")
                }
                Framing::Available { max, .. } if *max == UNBOUNDED => {
                    ("`raw(available)`", "raw(available, max = 64 KiB)", "raw")
                }
                _ => continue,
            };
            diags.push(
                Diagnostic::new(
                    Code::Unbounded,
                    seg.span,
                    format!("the {what} of message `{}` has no bound", m.name),
                )
                .label("a peer could make this arbitrarily long")
                .help(format!(
                    "write `{example}`, or declare a default: `limits {{ {limit} = 1 MiB; }}`"
                )),
            );
        }
        for f in &m.layout.fields {
            if let FieldType::List { max, .. } = f.ty {
                if max == UNBOUNDED {
                    diags.push(
                        Diagnostic::new(Code::Unbounded, f.span, format!("list `{}` of message `{}` has no bound", f.name, m.name))
                            .label("a peer could send any number of items")
                            .help("write `list(token, sep = \" \", max = 64)`, or declare a default: `limits { repeat = 64; }`"),
                    );
                }
            }
        }
    }
}
