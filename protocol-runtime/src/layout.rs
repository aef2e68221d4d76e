//! Message layouts: the compact, resolved form of one message's bytes.
//!
//! The compiler (`protocol-dsl`) lowers every message of a spec to a
//! [`MessageLayout`]; generated code and the conformance runner hand layouts to
//! the same engine, so the two cannot disagree about the bytes. Layouts are
//! plain data: they say *what* the bytes are, never how to read a socket.

use std::fmt;

/// Index of a field in [`MessageLayout::fields`].
pub type FieldId = u16;

/// Index of a named type (`struct` or `choice`) in the protocol's `types`.
pub type TypeId = usize;

/// A byte range in the spec source the layout came from (for error messages).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        // Spec files are bounded well below 4 GiB by the compiler's input limit.
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Who sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message: its segments in wire order and the fields they fill.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageLayout {
    pub segments: Vec<Segment>,
    pub fields: Vec<FieldDef>,
}

/// A field of a message, as the user of generated code sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    pub name: String,
    pub ty: FieldType,
    /// Present only when an optional part of the message is.
    pub optional: bool,
    /// A length that a later `raw(field)` uses: computed when encoding, never
    /// supplied by the user.
    pub derived: bool,
    /// Marked `volatile` in the spec: its value differs from run to run (a
    /// timestamp, a cas unique), so a recorded transcript writes a capture or
    /// a pattern for it rather than the value seen.
    pub volatile: bool,
    /// For a choice, the names the spec gives its options (`"0" as Off`),
    /// one per option, empty where it gives none; empty otherwise. Only
    /// generated code uses them.
    pub labels: Vec<String>,
    /// `in 1..=125 | 0xff00`: the values an integer field may take. A value
    /// outside does not match when decoding and is refused when encoding.
    pub constraint: Option<ValueSet>,
    /// `byte_count: byte = qty * 2`: the value an earlier field fixes. The
    /// decoder checks it, the encoder writes it (the field is derived);
    /// division rounds down (`(qty + 7) / 8`).
    pub equals: Option<Linear>,
    pub span: Span,
}

/// A set of integers, as sorted disjoint inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ValueSet(pub Vec<(i128, i128)>);

impl ValueSet {
    /// The set of the given ranges (in any order, possibly overlapping).
    pub fn new(mut ranges: Vec<(i128, i128)>) -> Self {
        ranges.retain(|(lo, hi)| lo <= hi);
        ranges.sort_unstable();
        let mut out: Vec<(i128, i128)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        ValueSet(out)
    }
    pub fn contains(&self, v: i128) -> bool {
        self.0.iter().any(|(lo, hi)| *lo <= v && v <= *hi)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn min(&self) -> Option<i128> {
        self.0.first().map(|r| r.0)
    }
    pub fn max(&self) -> Option<i128> {
        self.0.last().map(|r| r.1)
    }
}

impl fmt::Display for ValueSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}..={hi}")?;
            }
        }
        Ok(())
    }
}

/// A binary integer: two's complement for signed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BinInt {
    pub signed: bool,
    /// 8, 16, 32 or 64.
    pub bits: u8,
    pub little_endian: bool,
}

impl BinInt {
    pub fn width(self) -> usize {
        self.bits as usize / 8
    }
    pub fn kind(self) -> IntKind {
        IntKind {
            signed: self.signed,
            bits: self.bits,
        }
    }
    /// The spec's spelling: `byte`, `u16be`, `i32le`.
    pub fn name(self) -> String {
        if self.bits == 8 {
            return if self.signed { "i8be" } else { "byte" }.to_string();
        }
        format!(
            "{}{}{}",
            if self.signed { 'i' } else { 'u' },
            self.bits,
            if self.little_endian { "le" } else { "be" }
        )
    }
    /// The value at the front of `bytes` (which holds at least `width()`).
    pub fn read(self, bytes: &[u8]) -> i128 {
        let w = self.width();
        let mut raw: u64 = 0;
        for i in 0..w {
            let b = if self.little_endian {
                bytes[w - 1 - i]
            } else {
                bytes[i]
            };
            raw = (raw << 8) | b as u64;
        }
        if self.signed && self.bits < 64 {
            let shift = 64 - self.bits as u32;
            (((raw << shift) as i64) >> shift) as i128
        } else if self.signed {
            raw as i64 as i128
        } else {
            raw as i128
        }
    }
    /// Appends `v`, which the caller has checked is in range.
    pub fn write(self, v: i128, out: &mut impl bytes::BufMut) {
        let w = self.width();
        let raw = v as u64;
        for i in 0..w {
            let shift = if self.little_endian { i } else { w - 1 - i } * 8;
            out.put_u8((raw >> shift) as u8);
        }
    }
}

/// One slice of a `bits(...)` item.
#[derive(Debug, Clone, PartialEq)]
pub struct BitSlice {
    pub width: u8,
    /// The field the slice fills; `None` for a constant or a `_` slice.
    pub field: Option<FieldId>,
    /// `= c`: the slice's value, checked when reading and written; `_`
    /// without one is any value when reading and 0 when writing.
    pub constant: Option<u64>,
}

impl BitSlice {
    pub fn mask(&self) -> u64 {
        if self.width >= 64 {
            u64::MAX
        } else {
            (1u64 << self.width) - 1
        }
    }
}

/// A size or count computed from a field read before it:
/// `(field * mul + add) / div`, where the division must be exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Linear {
    pub field: FieldId,
    pub mul: i64,
    pub add: i64,
    pub div: i64,
}

impl Linear {
    /// The size or count for the field's value `v`; `None` when it is not a
    /// whole number or is negative.
    pub fn eval(self, v: i128) -> Option<u64> {
        let n = v.checked_mul(self.mul as i128)?.checked_add(self.add as i128)?;
        if self.div == 0 || n % self.div as i128 != 0 {
            return None;
        }
        u64::try_from(n / self.div as i128).ok()
    }
    /// The value for the field's value `v`, division rounding down (for
    /// `= expr` fields, which are computed, never inverted).
    pub fn eval_floor(self, v: i128) -> Option<i128> {
        let n = v.checked_mul(self.mul as i128)?.checked_add(self.add as i128)?;
        (self.div != 0).then(|| n.div_euclid(self.div as i128))
    }
    /// The field's value that gives size or count `n` (for encoders).
    pub fn invert(self, n: u64) -> Option<i128> {
        let t = (n as i128)
            .checked_mul(self.div as i128)?
            .checked_sub(self.add as i128)?;
        if self.mul == 0 || t % self.mul as i128 != 0 {
            return None;
        }
        Some(t / self.mul as i128)
    }
}

impl fmt::Display for Linear {
    /// Written with `f` for the field, as `f * 2 + 1`, `f / 2` or
    /// `(f + 7) / 8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sum = String::from("f");
        if self.mul != 1 {
            sum.push_str(&format!(" * {}", self.mul));
        }
        if self.add > 0 {
            sum.push_str(&format!(" + {}", self.add));
        } else if self.add < 0 {
            sum.push_str(&format!(" - {}", -(self.add as i128)));
        }
        if self.div == 1 {
            f.write_str(&sum)
        } else if sum.contains(' ') {
            write!(f, "({sum}) / {}", self.div)
        } else {
            write!(f, "{sum} / {}", self.div)
        }
    }
}

/// How many compression pointers one domain name may follow.
pub const MAX_POINTERS: usize = 64;

/// The most bytes a domain name takes, its labels' length bytes and the
/// final empty label included (RFC 1035 section 3.1).
pub const MAX_DOMAIN: usize = 255;

/// The type of a field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    /// A run of at least one byte: with `except` `None`, bytes up to the next
    /// space or control byte, as UTF-8 text; with `Some(bytes)`
    /// (`token(except = " ")`), any bytes but those, as a byte string.
    Token { max: usize, except: Option<Vec<u8>> },
    /// UTF-8 up to the end of its frame, less the literals that follow it.
    Text,
    /// Any bytes up to the end of its frame (or all of a `raw` segment).
    Bytes,
    /// A decimal integer.
    Int(IntKind),
    /// A binary integer of fixed width (`u16be`, `byte`).
    Bin(BinInt),
    /// Exactly as many bytes as an earlier field says (`bytes(n)`,
    /// `text(len - 1)`): UTF-8 text with `text`, else a byte string.
    Sized { len: Linear, max: usize, text: bool },
    /// Items of a fixed-width type up to the end of the frame, less the
    /// literals that follow (`regs: u16be[..]`).
    Rest { item: Box<FieldType>, max: usize },
    /// Bytes up to a terminator, which is consumed and is not part of the
    /// value (`name: text(until = "\0")`, a C string): UTF-8 text with
    /// `text`. The value cannot hold the terminator.
    Terminated {
        terminator: Vec<u8>,
        max: usize,
        text: bool,
    },
    /// A slice of a `bits(...)` carrier, `width` bits wide: a flag (`bool`)
    /// when 1, an unsigned integer otherwise.
    Bit { width: u8 },
    /// A domain name (RFC 1035 section 3.1): labels of at most 63 bytes,
    /// each after its length byte, ending with an empty label or with a
    /// compression pointer to an earlier name in the same frame (section
    /// 4.1.4), which the decoder follows. The value is the name as text,
    /// `www.example.test.`, with `.`, `\` and bytes outside printable ASCII
    /// escaped as in zone files (`\.`, `\\`, `\DDD`). At most 255 bytes on
    /// the wire; every pointer must point before the bytes of the name read
    /// so far, and at most [`MAX_POINTERS`] are followed.
    ///
    /// The encoder writes names whole, unless `compress` (`domain(compress)`):
    /// then a name whose last labels were written earlier in the same
    /// length-prefixed frame (by any `domain` field, outside a `size(...)`
    /// part or inside one) ends with a pointer to them. Names inside a
    /// `size(...)` part are always written whole, so that the part's length
    /// does not depend on what came before it.
    Domain { compress: bool },
    /// A value of a named type (`struct` or `choice`), read by a
    /// [`Framing::Nested`] part of its own.
    Type(TypeId),
    /// As many items as an earlier field says: of a fixed-width type inside
    /// a frame (`regs: u16be[byte_count / 2]`), or of a named type as a part
    /// of its own (`items: Value[n]`).
    Array {
        item: Box<FieldType>,
        count: Linear,
        max: usize,
    },
    /// One of several literals (`cmd: ("get" | "gets")`).
    Choice(Vec<Vec<u8>>),
    /// Whether an optional literal part was present (`noreply: (" noreply")?`).
    Flag,
    /// Items of one scalar type with a separator between them.
    List {
        item: Box<FieldType>,
        separator: Vec<u8>,
        /// `sep = " "+`: a run of one or more separators between two items
        /// (the encoder writes one).
        separator_repeats: bool,
        min: usize,
        max: usize,
    },
}

/// Width and signedness of a decimal integer field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntKind {
    pub signed: bool,
    pub bits: u8,
}

impl IntKind {
    /// The largest value the field can hold.
    pub fn max_value(self) -> u128 {
        if self.signed {
            (1u128 << (self.bits - 1)) - 1
        } else {
            (1u128 << self.bits) - 1
        }
    }
    /// The smallest value the field can hold.
    pub fn min_value(self) -> i128 {
        if self.signed {
            -(1i128 << (self.bits - 1))
        } else {
            0
        }
    }
    pub fn name(self) -> String {
        format!("{}{}", if self.signed { 'i' } else { 'u' }, self.bits)
    }
}

/// A run of bytes with one framing.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub framing: Framing,
    pub span: Span,
}

/// How the receiver finds where a segment ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Framing {
    /// Exactly these bytes, no delimiter (`exact "HELLO?"`).
    Exact(Vec<u8>),
    /// A frame whose width its pattern fixes (`fixed { tid: u16be "\0\0" }`):
    /// every item has a known width.
    Fixed { width: usize, pattern: Pattern },
    /// Content up to a delimiter; `max` counts the content, not the delimiter.
    Line {
        /// The line end the encoder writes.
        delimiter: Vec<u8>,
        /// Other line ends the receiver accepts (`line("\r\n" | "\n")`).
        /// The shortest of all the ends is a suffix of every other and occurs
        /// in none but at its end (the compiler checks), so a receiver finds
        /// a line's end by searching for the shortest and then takes the
        /// longest end that the bytes before it complete.
        also_ends: Vec<Vec<u8>>,
        max: usize,
        pattern: Pattern,
    },
    /// A length prefix, then that many bytes of content; `max` counts the content.
    Length {
        prefix: LengthPrefix,
        max: usize,
        pattern: Pattern,
        /// `length(u32be, includes = prefix)`: the length counts the
        /// prefix's own bytes too (PostgreSQL's messages).
        includes_prefix: bool,
    },
    /// No frame of its own: the pattern of a `struct T = { ... }`, read in
    /// place inside the frame of whatever holds a value of `T`.
    Inline { pattern: Pattern },
    /// Exactly `len` bytes, stored in `field`.
    Raw {
        len: RawLen,
        max: usize,
        oversize: Oversize,
        field: FieldId,
    },
    /// A part that is a value of a named type, or a counted run of them
    /// (`then items: Value[n]`): `field`'s type says which. Each value's
    /// own parts are read in turn.
    Nested { field: FieldId },
    /// Everything until the peer closes (or half-closes) its side.
    UntilClose { max: usize, field: FieldId },
    /// Whatever bytes are buffered when the receiver looks: depends on TCP
    /// segmentation, so the compiler warns about it.
    Available { max: usize, field: FieldId },
}

/// Where the length of a `raw` segment comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawLen {
    Fixed(usize),
    Field(FieldId),
}

/// What the receiver does with a declared `raw` length above its max.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// The message is a protocol error.
    Reject,
    /// The declared bytes are skipped without buffering and reported as a
    /// discard, so the application can answer (memcached's "object too large").
    Discard,
}

/// The encoding of a length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthPrefix {
    U8,
    U16Be,
    U16Le,
    U32Be,
    U32Le,
    U64Be,
    U64Le,
    /// Unsigned LEB128, at most 10 bytes.
    Varint,
}

impl LengthPrefix {
    /// The largest length the prefix itself can express.
    pub fn max_len(self) -> u64 {
        match self {
            LengthPrefix::U8 => u8::MAX as u64,
            LengthPrefix::U16Be | LengthPrefix::U16Le => u16::MAX as u64,
            LengthPrefix::U32Be | LengthPrefix::U32Le => u32::MAX as u64,
            LengthPrefix::U64Be | LengthPrefix::U64Le | LengthPrefix::Varint => u64::MAX,
        }
    }
    /// The prefix's own bytes; `None` for a varint, whose width depends on
    /// its value.
    pub fn width(self) -> Option<usize> {
        match self {
            LengthPrefix::U8 => Some(1),
            LengthPrefix::U16Be | LengthPrefix::U16Le => Some(2),
            LengthPrefix::U32Be | LengthPrefix::U32Le => Some(4),
            LengthPrefix::U64Be | LengthPrefix::U64Le => Some(8),
            LengthPrefix::Varint => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            LengthPrefix::U8 => "u8",
            LengthPrefix::U16Be => "u16be",
            LengthPrefix::U16Le => "u16le",
            LengthPrefix::U32Be => "u32be",
            LengthPrefix::U32Le => "u32le",
            LengthPrefix::U64Be => "u64be",
            LengthPrefix::U64Le => "u64le",
            LengthPrefix::Varint => "varint",
        }
    }
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "u8" => LengthPrefix::U8,
            "u16be" | "u16" => LengthPrefix::U16Be,
            "u16le" => LengthPrefix::U16Le,
            "u32be" | "u32" => LengthPrefix::U32Be,
            "u32le" => LengthPrefix::U32Le,
            "u64be" | "u64" => LengthPrefix::U64Be,
            "u64le" => LengthPrefix::U64Le,
            "varint" => LengthPrefix::Varint,
            _ => return None,
        })
    }
}

/// The content of a delimited or length-prefixed frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pattern {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub kind: ItemKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ItemKind {
    /// Fixed bytes.
    Literal(Vec<u8>),
    /// A field's value, read as its [`FieldType`] says.
    Field(FieldId),
    /// A part that may be absent; present when its first bytes match.
    /// `flag` names a [`FieldType::Flag`] field recording presence.
    Optional { flag: Option<FieldId>, pattern: Pattern },
    /// One of several field-less parts, longest match first.
    Alternatives(Vec<Pattern>),
    /// `if qos != 0 { packet_id: u16be }`: a part present exactly when a
    /// field read before holds a value of `set` (a flag or one-bit slice
    /// counts as 1 when set). Its fields are optional.
    If {
        field: FieldId,
        set: ValueSet,
        pattern: Pattern,
    },
    /// `bits(byte) { kind: 4, flags: 4 }`: a binary integer cut into
    /// slices from its most significant bit down, in the order written.
    Bits { carrier: BinInt, slices: Vec<BitSlice> },
    /// `size(rdlen) { ... }`: a part exactly as long as an earlier field of
    /// the same frame says, its pattern matched inside those bytes. The
    /// length field is derived from the part's encoding.
    Sized {
        len: Linear,
        max: usize,
        pattern: Pattern,
    },
    /// A field-less part repeated: `" "+` (`min` 1) or `" "*` (`min` 0).
    /// The decoder takes as many rounds as let the rest of the frame match,
    /// most first; the encoder writes `min` rounds.
    Repeat { pattern: Pattern, min: usize },
}
