//! Plain framing codecs: lines with any delimiter and length prefixes. The
//! engine reads its frames with these, and they implement
//! `tokio_util::codec::{Decoder, Encoder}` for use on their own in `Framed`.
//!
//! Both are resumable: a line scan remembers where it stopped, so bytes that
//! drip in are never rescanned; a declared length above the max is rejected
//! before anything is allocated.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::layout::LengthPrefix;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("line exceeds {max} bytes without a delimiter")]
    LineTooLong { max: usize },
    #[error("declared length {len} exceeds the limit of {max} bytes")]
    LengthTooLong { len: u64, max: usize },
    #[error("varint length prefix is longer than 10 bytes or overflows 64 bits")]
    BadVarint,
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    EncodeTooLong { len: usize, max: usize },
    #[error("frame content contains its own delimiter, or ends in its first bytes")]
    EncodeDelimiter,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The most a decoder reserves for bytes a peer has declared but not sent
/// yet. A declaration costs the peer a few bytes, so past this the buffer
/// grows only as the bytes arrive; 1 MiB still takes the shipped specs'
/// largest frames in one allocation.
pub const MAX_RESERVE: usize = 1 << 20;

/// Makes room for `missing` more bytes of a frame, up to [`MAX_RESERVE`].
pub(crate) fn reserve_ahead(buf: &mut BytesMut, missing: u64) {
    buf.reserve(usize::try_from(missing).map_or(MAX_RESERVE, |m| m.min(MAX_RESERVE)));
}

/// Finds a delimiter in a growing buffer without rescanning what it already
/// searched.
#[derive(Debug, Clone, Default)]
pub struct LineScanner {
    /// Bytes at the front of the buffer already known to hold no delimiter start.
    scanned: usize,
}

impl LineScanner {
    /// Takes one line (content and delimiter) off the front of `buf` and
    /// returns the content, or `None` if the delimiter has not arrived.
    #[inline]
    pub fn next_line(
        &mut self,
        buf: &mut BytesMut,
        delimiter: &[u8],
        max: usize,
    ) -> Result<Option<(Bytes, usize)>, FrameError> {
        let dlen = delimiter.len().max(1);
        // The delimiter may straddle the old end: step back to catch it.
        let from = self.scanned.saturating_sub(dlen - 1);
        match line_end(buf, 0, from, delimiter, max)? {
            Some(i) => {
                self.scanned = 0;
                let mut frame = buf.split_to(i + dlen).freeze();
                let consumed = frame.len();
                frame.truncate(i);
                Ok(Some((frame, consumed)))
            }
            None => {
                self.scanned = buf.len();
                Ok(None)
            }
        }
    }

    /// [`LineScanner::next_line`] for a line that may end in any of several
    /// delimiters (`"\r\n"` or `"\n"`): the shortest is searched for, and
    /// the longest that the bytes before it complete is taken off with it.
    /// The ends must meet [`line_ends_are_decidable`]; `max` counts the
    /// content, which may be up to the longest end's extra bytes over `max`
    /// when returned (the caller checks it).
    pub fn next_line_any(
        &mut self,
        buf: &mut BytesMut,
        delimiter: &[u8],
        also: &[Vec<u8>],
        max: usize,
    ) -> Result<Option<(Bytes, usize)>, FrameError> {
        let key = also
            .iter()
            .map(Vec::as_slice)
            .chain([delimiter])
            .min_by_key(|d| d.len())
            .unwrap_or(delimiter);
        let longest = also
            .iter()
            .map(Vec::len)
            .chain([delimiter.len()])
            .max()
            .unwrap_or(0);
        let slack = longest - key.len();
        let Some((mut content, consumed)) = self.next_line(buf, key, max.saturating_add(slack))? else {
            return Ok(None);
        };
        let end = also
            .iter()
            .map(Vec::as_slice)
            .chain([delimiter])
            .filter(|d| content.ends_with(&d[..d.len() - key.len()]))
            .map(|d| d.len() - key.len())
            .max()
            .unwrap_or(0);
        content.truncate(content.len() - end);
        Ok(Some((content, consumed)))
    }

    /// Calls `f` with the content of each complete line at the front of
    /// `buf`, borrowed from the buffer, then takes them all off in one step:
    /// no `Bytes`, and so no reference count, per line. A partial line stays
    /// buffered for the next call. Returns how many lines `f` was given.
    ///
    /// On a line over `max`, the lines before it have been given to `f` and
    /// taken off, and the rest stays in `buf`.
    pub fn drain_lines(
        &mut self,
        buf: &mut BytesMut,
        delimiter: &[u8],
        max: usize,
        mut f: impl FnMut(&[u8]),
    ) -> Result<usize, FrameError> {
        let dlen = delimiter.len().max(1);
        let (mut start, mut lines) = (0usize, 0);
        // Only the first line may have been partly searched by an earlier call.
        let mut from = self.scanned.saturating_sub(dlen - 1);
        let result = loop {
            match line_end(buf, start, from, delimiter, max) {
                Ok(Some(i)) => {
                    f(&buf[start..i]);
                    lines += 1;
                    start = i + dlen;
                    from = start;
                }
                Ok(None) => break Ok(lines),
                Err(e) => break Err(e),
            }
        };
        buf.advance(start);
        self.scanned = if result.is_ok() { buf.len() } else { 0 };
        result
    }

    /// Forgets the scan position (the buffer was replaced).
    pub fn reset(&mut self) {
        self.scanned = 0;
    }
}

/// Where the line that begins at `start` ends (the index of its delimiter),
/// searching from `from` (bytes before it are known to hold no delimiter
/// start); `None` until the delimiter comes, an error once `max` bytes of
/// content have come without one.
#[inline]
fn line_end(
    buf: &[u8],
    start: usize,
    from: usize,
    delimiter: &[u8],
    max: usize,
) -> Result<Option<usize>, FrameError> {
    let dlen = delimiter.len().max(1);
    let limit = start.saturating_add(max).saturating_add(dlen).min(buf.len());
    let found = if from < limit {
        find(&buf[from..limit], delimiter).map(|i| i + from)
    } else {
        None
    };
    match found {
        Some(i) => Ok(Some(i)),
        None if buf.len() - start >= max.saturating_add(dlen) => Err(FrameError::LineTooLong { max }),
        None => Ok(None),
    }
}

/// Whether a receiver can find where a line ends, given the ends it
/// accepts: the shortest is a suffix of every other end and occurs in none
/// of them before its end. (`"\r\n" | "\n"` is; `"\r" | "\n"` is not: a
/// `\r` could end a line or begin `\r\n`, which only the next read tells.)
pub fn line_ends_are_decidable(ends: &[&[u8]]) -> bool {
    let Some(key) = ends.iter().min_by_key(|d| d.len()) else {
        return true;
    };
    !key.is_empty()
        && ends
            .iter()
            .all(|d| d.ends_with(key) && find(d, key) == Some(d.len() - key.len()))
}

/// [`ends_cleanly`] for a line whose receiver also accepts `also`: besides
/// reading back through `delimiter`, the content must not hold the shortest
/// end, nor end in bytes that turn the written end into a longer one (with
/// `"\n" | "\r\n"`, `a\r` written as `a\r\n` would read back as `a`).
pub(crate) fn ends_cleanly_any(content: &[u8], delimiter: &[u8], also: &[Vec<u8>]) -> bool {
    if !ends_cleanly(content, delimiter) {
        return false;
    }
    also.iter().all(|end| {
        let shorter = end.len() <= delimiter.len();
        let clean = if shorter {
            find(content, end).is_none()
        } else {
            !(end.ends_with(delimiter) && content.ends_with(&end[..end.len() - delimiter.len()]))
        };
        clean && ends_cleanly(content, end)
    })
}

/// Whether `content` followed by `delimiter` reads back as `content`: the
/// content holds no delimiter, and its end does not begin one that the
/// appended delimiter completes (with "||", "a|" would be sent as "a|||" and
/// read back as "a", leaving a stray "|").
pub(crate) fn ends_cleanly(content: &[u8], delimiter: &[u8]) -> bool {
    if delimiter.is_empty() {
        return true;
    }
    if find(content, delimiter).is_some() {
        return false;
    }
    // An earlier occurrence would start `k` bytes before the end of the
    // content: the content ends with the delimiter's first `k` bytes, and the
    // delimiter's rest equals its own beginning.
    let d = delimiter.len();
    !(1..d.min(content.len() + 1))
        .any(|k| content.ends_with(&delimiter[..k]) && delimiter[k..] == delimiter[..d - k])
}

#[inline]
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [b] => memchr::memchr(*b, haystack),
        // Short delimiters such as "\r\n": `memmem::find` sets up a searcher
        // on every call, which costs more than the scan of a short line.
        [_, ..] if needle.len() <= 16 => find_short(haystack, needle),
        _ => memchr::memmem::find(haystack, needle),
    }
}

/// The first occurrence of a non-empty `needle`: memchr for its last byte,
/// then a comparison of the bytes before it. The first end found belongs to
/// the first occurrence, as all occurrences have the same length.
fn find_short(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&last, head) = needle.split_last()?;
    // The first index at which an occurrence can end.
    let mut end = head.len();
    while end < haystack.len() {
        let j = end + memchr::memchr(last, &haystack[end..])?;
        let start = j - head.len();
        if &haystack[start..j] == head {
            return Some(start);
        }
        end = j + 1;
    }
    None
}

/// Lines ended by any delimiter (`\r\n`, `\n`, `\r`, or any byte string),
/// content up to `max` bytes, delimiter stripped.
#[derive(Debug, Clone)]
pub struct LineCodec {
    delimiter: Vec<u8>,
    max: usize,
    scanner: LineScanner,
}

impl LineCodec {
    /// # Panics
    /// If `delimiter` is empty: a line needs something to end it.
    pub fn new(delimiter: impl Into<Vec<u8>>, max: usize) -> Self {
        let delimiter = delimiter.into();
        assert!(!delimiter.is_empty(), "a line delimiter cannot be empty");
        LineCodec {
            delimiter,
            max,
            scanner: LineScanner::default(),
        }
    }
    pub fn crlf(max: usize) -> Self {
        Self::new(b"\r\n".to_vec(), max)
    }

    /// Every complete line in `buf`, borrowed, in one pass (see
    /// [`LineScanner::drain_lines`]): for callers that parse each line where
    /// it lies and keep nothing of it, this skips the `Bytes` that
    /// [`decode`](tokio_util::codec::Decoder::decode) hands out per line.
    pub fn drain_lines(&mut self, buf: &mut BytesMut, f: impl FnMut(&[u8])) -> Result<usize, FrameError> {
        self.scanner.drain_lines(buf, &self.delimiter, self.max, f)
    }
}

impl tokio_util::codec::Decoder for LineCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        Ok(self
            .scanner
            .next_line(buf, &self.delimiter, self.max)?
            .map(|(line, _)| line))
    }
}

impl<T: AsRef<[u8]>> tokio_util::codec::Encoder<T> for LineCodec {
    type Error = FrameError;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FrameError> {
        let line = item.as_ref();
        if line.len() > self.max {
            return Err(FrameError::EncodeTooLong {
                len: line.len(),
                max: self.max,
            });
        }
        if !ends_cleanly(line, &self.delimiter) {
            return Err(FrameError::EncodeDelimiter);
        }
        dst.reserve(line.len() + self.delimiter.len());
        dst.put_slice(line);
        dst.put_slice(&self.delimiter);
        Ok(())
    }
}

/// Frames with a length prefix (Erlang's `{packet, 1|2|4}`, little-endian and
/// varint variants); `max` counts the payload, not the prefix.
#[derive(Debug, Clone)]
pub struct LengthCodec {
    prefix: LengthPrefix,
    max: usize,
}

impl LengthCodec {
    pub fn new(prefix: LengthPrefix, max: usize) -> Self {
        LengthCodec { prefix, max }
    }
}

/// Reads a length prefix from the front of `buf` without consuming it:
/// `Ok(Some((prefix_len, len)))` once the whole prefix is there.
pub fn peek_length(prefix: LengthPrefix, buf: &[u8]) -> Result<Option<(usize, u64)>, FrameError> {
    let fixed = |n: usize| buf.get(..n);
    Ok(match prefix {
        LengthPrefix::U8 => fixed(1).map(|b| (1, b[0] as u64)),
        LengthPrefix::U16Be => fixed(2).map(|b| (2, u16::from_be_bytes([b[0], b[1]]) as u64)),
        LengthPrefix::U16Le => fixed(2).map(|b| (2, u16::from_le_bytes([b[0], b[1]]) as u64)),
        LengthPrefix::U32Be => fixed(4).map(|mut b| (4, b.get_u32() as u64)),
        LengthPrefix::U32Le => fixed(4).map(|mut b| (4, b.get_u32_le() as u64)),
        LengthPrefix::U64Be => fixed(8).map(|mut b| (8, b.get_u64())),
        LengthPrefix::U64Le => fixed(8).map(|mut b| (8, b.get_u64_le())),
        LengthPrefix::Varint => {
            let mut value: u64 = 0;
            for (i, &byte) in buf.iter().enumerate().take(10) {
                let bits = (byte & 0x7f) as u64;
                if i == 9 && bits > 1 {
                    return Err(FrameError::BadVarint);
                }
                value |= bits << (7 * i);
                if byte & 0x80 == 0 {
                    return Ok(Some((i + 1, value)));
                }
            }
            if buf.len() >= 10 {
                return Err(FrameError::BadVarint);
            }
            None
        }
    })
}

/// Writes a length prefix.
pub fn put_length(prefix: LengthPrefix, len: usize, dst: &mut BytesMut) -> Result<(), FrameError> {
    let too_long = || FrameError::EncodeTooLong {
        len,
        max: prefix.max_len() as usize,
    };
    match prefix {
        LengthPrefix::U8 => dst.put_u8(u8::try_from(len).map_err(|_| too_long())?),
        LengthPrefix::U16Be => dst.put_u16(u16::try_from(len).map_err(|_| too_long())?),
        LengthPrefix::U16Le => dst.put_u16_le(u16::try_from(len).map_err(|_| too_long())?),
        LengthPrefix::U32Be => dst.put_u32(u32::try_from(len).map_err(|_| too_long())?),
        LengthPrefix::U32Le => dst.put_u32_le(u32::try_from(len).map_err(|_| too_long())?),
        LengthPrefix::U64Be => dst.put_u64(len as u64),
        LengthPrefix::U64Le => dst.put_u64_le(len as u64),
        LengthPrefix::Varint => {
            let mut v = len as u64;
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    dst.put_u8(byte);
                    break;
                }
                dst.put_u8(byte | 0x80);
            }
        }
    }
    Ok(())
}

impl tokio_util::codec::Decoder for LengthCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some((plen, len)) = peek_length(self.prefix, buf)? else {
            return Ok(None);
        };
        if len > self.max as u64 {
            return Err(FrameError::LengthTooLong { len, max: self.max });
        }
        // Compared with what has arrived rather than added to the prefix's
        // length: with a max near `usize::MAX` the sum would overflow.
        let have = (buf.len() - plen) as u64;
        if have < len {
            reserve_ahead(buf, len - have);
            return Ok(None);
        }
        buf.advance(plen);
        Ok(Some(buf.split_to(len as usize).freeze()))
    }
}

impl<T: AsRef<[u8]>> tokio_util::codec::Encoder<T> for LengthCodec {
    type Error = FrameError;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FrameError> {
        let payload = item.as_ref();
        if payload.len() > self.max {
            return Err(FrameError::EncodeTooLong {
                len: payload.len(),
                max: self.max,
            });
        }
        dst.reserve(payload.len() + 10);
        put_length(self.prefix, payload.len(), dst)?;
        dst.put_slice(payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The short-needle search finds what `memmem` finds, on a small
        /// alphabet where partial and overlapping matches are common.
        #[test]
        fn find_agrees_with_memmem(
            haystack in proptest::collection::vec(0u8..4, 0..64),
            needle in proptest::collection::vec(0u8..4, 0..20),
        ) {
            prop_assert_eq!(
                super::find(&haystack, &needle),
                memchr::memmem::find(&haystack, &needle)
            );
        }

        /// `ends_cleanly` says what appending the delimiter and searching
        /// for it again says.
        #[test]
        fn ends_cleanly_agrees_with_appending(
            content in proptest::collection::vec(0u8..3, 0..16),
            delimiter in proptest::collection::vec(0u8..3, 1..5),
        ) {
            let mut framed = content.clone();
            framed.extend_from_slice(&delimiter);
            let reads_back = memchr::memmem::find(&framed, &delimiter) == Some(content.len());
            prop_assert_eq!(super::ends_cleanly(&content, &delimiter), reads_back);
        }
    }
}
