//! Domain names on the wire (RFC 1035 sections 3.1 and 4.1.4) and as text.
//!
//! On the wire a name is labels, each a length byte (1 to 63) and that many
//! bytes, ending with an empty label or with a two-byte compression pointer
//! (`11` then a 14-bit offset from the start of the message) to the rest of
//! the name elsewhere in the message. Pointers make a name random access
//! into its frame, so reading one is bounded three ways: a pointer must
//! point before every byte of the name read so far (which alone makes the
//! walk end), at most [`MAX_POINTERS`] are followed, and the name may take
//! at most [`MAX_DOMAIN`] bytes as if written out without pointers.
//!
//! As text a name is its labels joined by `.` and ending with `.` (the root
//! alone is `.`), written as zone files write them: `.` and `\` inside a
//! label escaped with `\`, bytes outside printable ASCII as `\DDD`.

use bytes::BufMut;

pub use crate::layout::{MAX_DOMAIN, MAX_POINTERS};

/// Why the bytes at a position are not a domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The frame ends inside the name.
    Truncated,
    /// A length byte of `01` or `10` in its top bits: label types RFC 6891
    /// retired and RFC 1035 reserves.
    LabelType,
    /// A pointer to the name's own bytes or after them: following it could
    /// loop.
    NotBackwards,
    /// More than [`MAX_POINTERS`] pointers.
    TooManyPointers,
    /// More than [`MAX_DOMAIN`] bytes once the pointers are followed.
    TooLong,
}

impl NameError {
    pub fn describe(self) -> &'static str {
        match self {
            NameError::Truncated => "a domain name that ends within the frame",
            NameError::LabelType => "a label length below 64 or a compression pointer",
            NameError::NotBackwards => {
                "a compression pointer to an earlier name (this one points forward or into itself)"
            }
            NameError::TooManyPointers => "a domain name with at most 64 compression pointers",
            NameError::TooLong => "a domain name of at most 255 bytes",
        }
    }
}

/// The name at `pos` in `frame` as text, and where it ends in place (after
/// its first pointer, or its empty label).
pub fn read(frame: &[u8], pos: usize) -> Result<(String, usize), NameError> {
    let mut text = String::new();
    // Bytes of the name written out: each label's length byte and bytes,
    // and the final empty label.
    let mut wire = 1usize;
    let mut at = pos;
    // Every byte before this has not been read as part of this name.
    let mut lowest = pos;
    let mut end = None;
    let mut pointers = 0;
    loop {
        let &b = frame.get(at).ok_or(NameError::Truncated)?;
        match b >> 6 {
            0 if b == 0 => {
                if text.is_empty() {
                    text.push('.');
                }
                return Ok((text, end.unwrap_or(at + 1)));
            }
            0 => {
                let len = b as usize;
                let label = frame.get(at + 1..at + 1 + len).ok_or(NameError::Truncated)?;
                wire += 1 + len;
                if wire > MAX_DOMAIN {
                    return Err(NameError::TooLong);
                }
                escape_label(label, &mut text);
                text.push('.');
                at += 1 + len;
            }
            3 => {
                let &low = frame.get(at + 1).ok_or(NameError::Truncated)?;
                let target = (((b & 0x3f) as usize) << 8) | low as usize;
                if target >= lowest {
                    return Err(NameError::NotBackwards);
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(NameError::TooManyPointers);
                }
                end.get_or_insert(at + 2);
                lowest = target;
                at = target;
            }
            _ => return Err(NameError::LabelType),
        }
    }
}

fn escape_label(label: &[u8], out: &mut String) {
    for &c in label {
        match c {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(c as char);
            }
            0x21..=0x7e => out.push(c as char),
            _ => {
                out.push('\\');
                out.push_str(&format!("{c:03}"));
            }
        }
    }
}

/// Why a text is not a name the encoder can write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName(pub String);

/// Writes `text` (as [`read`] gives it: absolute, ending with `.`) without
/// compression.
pub fn write(text: &str, out: &mut impl BufMut) -> Result<(), BadName> {
    let labels = parse(text)?;
    for l in &labels {
        out.put_u8(l.len() as u8);
        out.put_slice(l);
    }
    out.put_u8(0);
    Ok(())
}

/// The labels of an absolute name in text.
pub fn parse(text: &str) -> Result<Vec<Vec<u8>>, BadName> {
    if text == "." {
        return Ok(Vec::new());
    }
    let mut labels = Vec::new();
    let mut label = Vec::new();
    let mut wire = 1usize;
    let mut chars = text.bytes();
    while let Some(c) = chars.next() {
        match c {
            b'.' => {
                if label.is_empty() {
                    return Err(BadName(format!("`{text}` has an empty label")));
                }
                if label.len() > 63 {
                    return Err(BadName(format!(
                        "`{text}` has a label of {} bytes; at most 63",
                        label.len()
                    )));
                }
                wire += 1 + label.len();
                labels.push(std::mem::take(&mut label));
            }
            b'\\' => match chars.next() {
                Some(d) if d.is_ascii_digit() => {
                    let (Some(d2), Some(d3)) = (chars.next(), chars.next()) else {
                        return Err(BadName(format!("`{text}` has `\\` with fewer than three digits")));
                    };
                    let digits = [d, d2, d3];
                    let n = std::str::from_utf8(&digits)
                        .ok()
                        .and_then(|s| s.parse::<u8>().ok())
                        .ok_or_else(|| BadName(format!("`{text}` has an escape `\\DDD` above 255")))?;
                    label.push(n);
                }
                Some(other) => label.push(other),
                None => return Err(BadName(format!("`{text}` ends with `\\`"))),
            },
            other => label.push(other),
        }
    }
    if !label.is_empty() || labels.is_empty() {
        return Err(BadName(format!(
            "`{text}` is not absolute: write it with its final dot, as `{text}.`"
        )));
    }
    if wire > MAX_DOMAIN {
        return Err(BadName(format!(
            "`{text}` takes {wire} bytes; a name takes at most 255"
        )));
    }
    Ok(labels)
}

/// The bytes `text` takes when written by [`write`].
pub fn wire_len(text: &str) -> Result<usize, BadName> {
    Ok(parse(text)?.iter().map(|l| 1 + l.len()).sum::<usize>() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text() {
        for name in [
            ".",
            "a.",
            "www.example.test.",
            "a\\.b.c.",
            "x\\\\y.",
            "sp\\032ace.",
            "\\255\\000.",
        ] {
            let mut out = Vec::new();
            write(name, &mut out).unwrap();
            assert_eq!(read(&out, 0).unwrap(), (name.to_string(), out.len()), "{name}");
        }
    }

    #[test]
    fn pointers_are_followed_backwards_only() {
        // "test." at 0, then "alpha" + pointer to 0 at 6.
        let frame = b"\x04test\x00\x05alpha\xc0\x00";
        assert_eq!(read(frame, 6).unwrap(), ("alpha.test.".to_string(), 14));
        // A pointer to itself, and one forward.
        assert_eq!(read(b"\xc0\x00", 0), Err(NameError::NotBackwards));
        assert_eq!(read(b"\xc0\x02\x00", 0), Err(NameError::NotBackwards));
        // Two pointers to each other: the second is not before the first's target.
        assert_eq!(read(b"\x01a\xc0\x04\xc0\x00", 4), Err(NameError::NotBackwards));
        assert_eq!(read(b"\x05ab", 0), Err(NameError::Truncated));
        assert_eq!(read(b"\x40", 0), Err(NameError::LabelType));
    }

    #[test]
    fn long_names_are_refused() {
        let mut frame = Vec::new();
        for _ in 0..5 {
            frame.push(63);
            frame.extend_from_slice(&[b'a'; 63]);
        }
        frame.push(0);
        assert_eq!(read(&frame, 0), Err(NameError::TooLong));
        let text = format!("{}.", vec!["a".repeat(63); 4].join("."));
        assert!(write(&text, &mut Vec::new()).is_err());
        assert!(write("a..b.", &mut Vec::new()).is_err());
        assert!(write("relative", &mut Vec::new()).is_err());
    }
}
