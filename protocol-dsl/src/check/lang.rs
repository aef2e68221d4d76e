//! Byte languages of message beginnings, as small NFAs, for the checks that
//! must decide whether two messages can start with the same bytes.
//!
//! Every construct of a frame's pattern is a regular language over bytes
//! (literals, tokens, integers, text up to the delimiter, optional parts,
//! alternatives, lists), so "can the receiver tell these apart?" has an exact
//! answer: search the product of two automata for a common string.

use std::collections::{HashMap, VecDeque};

use protocol_runtime::layout::{BinInt, FieldType, Framing, ItemKind, MessageLayout, Pattern, ValueSet};

/// A set of bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    pub fn empty() -> Self {
        ByteSet([0; 4])
    }
    pub fn all() -> Self {
        ByteSet([u64::MAX; 4])
    }
    pub fn byte(b: u8) -> Self {
        let mut s = Self::empty();
        s.insert(b);
        s
    }
    pub fn insert(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1 << (b & 63);
    }
    pub fn remove(&mut self, b: u8) {
        self.0[(b >> 6) as usize] &= !(1 << (b & 63));
    }
    pub fn contains(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }
    fn range(lo: u8, hi: u8) -> Self {
        let mut s = Self::empty();
        for b in lo..=hi {
            s.insert(b);
        }
        s
    }
}

/// A token: no space, no control byte.
pub fn token_bytes() -> ByteSet {
    let mut s = ByteSet::range(0x21, 0xff);
    s.remove(0x7f);
    s
}

/// A Thompson NFA whose edges carry byte sets.
#[derive(Default)]
pub struct Nfa {
    edges: Vec<Vec<(Option<ByteSet>, usize)>>,
    start: usize,
    accept: usize,
}

impl Nfa {
    fn node(&mut self) -> usize {
        self.edges.push(Vec::new());
        self.edges.len() - 1
    }
    fn eps(&mut self, from: usize, to: usize) {
        self.edges[from].push((None, to));
    }
    fn on(&mut self, from: usize, set: ByteSet, to: usize) {
        self.edges[from].push((Some(set), to));
    }
    fn literal(&mut self, from: usize, bytes: &[u8]) -> usize {
        let mut at = from;
        for &b in bytes {
            let next = self.node();
            self.on(at, ByteSet::byte(b), next);
            at = next;
        }
        at
    }
    fn one_or_more(&mut self, from: usize, set: ByteSet) -> usize {
        let to = self.node();
        self.on(from, set, to);
        self.on(to, set, to);
        to
    }
    fn zero_or_more(&mut self, from: usize, set: ByteSet) -> usize {
        self.on(from, set, from);
        from
    }

    fn closure(&self, set: &mut Vec<usize>) {
        let mut stack = set.clone();
        while let Some(n) = stack.pop() {
            for (label, to) in &self.edges[n] {
                if label.is_none() && !set.contains(to) {
                    set.push(*to);
                    stack.push(*to);
                }
            }
        }
        set.sort_unstable();
    }

    fn step(&self, set: &[usize], b: u8) -> Vec<usize> {
        let mut out = Vec::new();
        for &n in set {
            for (label, to) in &self.edges[n] {
                if label.is_some_and(|l| l.contains(b)) && !out.contains(to) {
                    out.push(*to);
                }
            }
        }
        self.closure(&mut out);
        out
    }
}

/// The language of the bytes a message starts with: its first segment whole
/// (for a line, content then delimiter).
pub fn first_segment(layout: &MessageLayout) -> Option<Nfa> {
    segment_lang(layout, 0)
}

/// The language of segment `index` of a message, whole. Sizes are not
/// followed: a sized field is any bytes (an over-approximation, which only
/// makes the checks more cautious).
pub fn segment_lang(layout: &MessageLayout, index: usize) -> Option<Nfa> {
    let seg = layout.segments.get(index)?;
    let mut nfa = Nfa::default();
    let start = nfa.node();
    nfa.start = start;
    let end = match &seg.framing {
        Framing::Exact(bytes) => nfa.literal(start, bytes),
        Framing::Line {
            delimiter,
            also_ends,
            pattern,
            ..
        } => {
            // Content holds no byte of the shortest end (a slight
            // over-approximation for multi-byte ends, which only makes the
            // checks more cautious).
            let shortest = also_ends
                .iter()
                .chain([delimiter])
                .min_by_key(|d| d.len())
                .unwrap_or(delimiter);
            let mut content = ByteSet::all();
            for &b in shortest {
                content.remove(b);
            }
            let at = pattern_nfa(&mut nfa, start, pattern, layout, content);
            let end = nfa.node();
            for d in also_ends.iter().chain([delimiter]) {
                let e = nfa.literal(at, d);
                nfa.eps(e, end);
            }
            end
        }
        Framing::Length { pattern, .. } | Framing::Fixed { pattern, .. } => {
            pattern_nfa(&mut nfa, start, pattern, layout, ByteSet::all())
        }
        // A nested value is any bytes here: the checks compare the first
        // frames of the structs it may begin as instead (`first_frames`).
        Framing::Raw { .. }
        | Framing::UntilClose { .. }
        | Framing::Available { .. }
        | Framing::Nested { .. }
        | Framing::Inline { .. } => nfa.zero_or_more(start, ByteSet::all()),
    };
    nfa.accept = end;
    Some(nfa)
}

fn pattern_nfa(
    nfa: &mut Nfa,
    from: usize,
    pattern: &Pattern,
    layout: &MessageLayout,
    content: ByteSet,
) -> usize {
    let mut at = from;
    for item in &pattern.items {
        at = match &item.kind {
            ItemKind::Literal(bytes) => nfa.literal(at, bytes),
            ItemKind::Field(id) => match layout.fields.get(*id as usize) {
                Some(f) => match (&f.ty, &f.constraint) {
                    (FieldType::Bin(b), Some(set)) if b.bits <= 16 => bin_set_nfa(nfa, at, *b, set),
                    _ => type_nfa(nfa, at, &f.ty, content),
                },
                None => at,
            },
            ItemKind::Optional { pattern, .. } => {
                // The skip path joins a fresh node, never the part's last
                // node: that one may loop (a token, a list), and skipping
                // into the loop would add strings the part never matches.
                let inner = pattern_nfa(nfa, at, pattern, layout, content);
                let end = nfa.node();
                nfa.eps(inner, end);
                nfa.eps(at, end);
                end
            }
            // Present or not by a value read before: either, as bytes.
            ItemKind::If { pattern, .. } => {
                let inner = pattern_nfa(nfa, at, pattern, layout, content);
                let end = nfa.node();
                nfa.eps(inner, end);
                nfa.eps(at, end);
                end
            }
            ItemKind::Bits { carrier, slices } if carrier.bits <= 16 => {
                // Exact: the carrier values whose constant slices and value
                // sets hold, enumerated.
                bin_pred_nfa(nfa, at, *carrier, |raw| {
                    let mut shift = carrier.bits as u32;
                    slices.iter().all(|s| {
                        shift -= s.width as u32;
                        let v = (raw as u64 >> shift) & s.mask();
                        s.constant.is_none_or(|c| c == v)
                            && s.field
                                .and_then(|id| layout.fields.get(id as usize))
                                .and_then(|f| f.constraint.as_ref())
                                .is_none_or(|set| set.contains(v as i128))
                    })
                })
            }
            ItemKind::Bits { carrier, .. } => type_nfa(nfa, at, &FieldType::Bin(*carrier), content),
            ItemKind::Repeat { pattern, min } => {
                let round = nfa.node();
                nfa.eps(at, round);
                let done = pattern_nfa(nfa, round, pattern, layout, content);
                nfa.eps(done, round);
                let end = nfa.node();
                nfa.eps(done, end);
                if *min == 0 {
                    nfa.eps(round, end);
                }
                end
            }
            ItemKind::Alternatives(alts) => {
                let end = nfa.node();
                for alt in alts {
                    let e = pattern_nfa(nfa, at, alt, layout, content);
                    nfa.eps(e, end);
                }
                end
            }
            // Any bytes: its length is a value (an over-approximation).
            ItemKind::Sized { .. } => {
                let start = nfa.node();
                nfa.eps(at, start);
                nfa.zero_or_more(start, ByteSet::all())
            }
        };
    }
    at
}

fn type_nfa(nfa: &mut Nfa, at: usize, ty: &FieldType, content: ByteSet) -> usize {
    match ty {
        FieldType::Token { except: None, .. } => nfa.one_or_more(at, token_bytes()),
        FieldType::Token { except: Some(e), .. } => {
            let mut set = content;
            for &b in e {
                set.remove(b);
            }
            nfa.one_or_more(at, set)
        }
        FieldType::Text | FieldType::Bytes => {
            let start = nfa.node();
            nfa.eps(at, start);
            nfa.zero_or_more(start, content)
        }
        FieldType::Int(kind) => {
            let digits = ByteSet::range(b'0', b'9');
            let from = if kind.signed {
                let sign = nfa.node();
                nfa.eps(at, sign);
                nfa.on(at, ByteSet::byte(b'-'), sign);
                sign
            } else {
                at
            };
            nfa.one_or_more(from, digits)
        }
        FieldType::Choice(options) => {
            let end = nfa.node();
            for o in options {
                let e = nfa.literal(at, o);
                nfa.eps(e, end);
            }
            end
        }
        FieldType::Flag => at,
        FieldType::Bin(b) => {
            let mut at = at;
            for _ in 0..b.width() {
                let next = nfa.node();
                nfa.on(at, ByteSet::all(), next);
                at = next;
            }
            at
        }
        FieldType::Rest { .. } => {
            let start = nfa.node();
            nfa.eps(at, start);
            nfa.zero_or_more(start, ByteSet::all())
        }
        // Exact for a one-byte terminator: any other bytes, then it.
        FieldType::Terminated { terminator, .. } => {
            let mut body = if terminator.len() == 1 {
                content
            } else {
                ByteSet::all()
            };
            if let [t] = terminator.as_slice() {
                body.remove(*t);
            }
            let start = nfa.node();
            nfa.eps(at, start);
            let run = nfa.zero_or_more(start, body);
            nfa.literal(run, terminator)
        }
        // Bit slices are read by their `bits` item, which stands for them.
        FieldType::Bit { .. } => at,
        FieldType::Sized { .. } | FieldType::Array { .. } | FieldType::Type(_) | FieldType::Domain { .. } => {
            let start = nfa.node();
            nfa.eps(at, start);
            nfa.zero_or_more(start, ByteSet::all())
        }
        FieldType::List {
            item,
            separator,
            separator_repeats,
            ..
        } => {
            // `min` is at least 1 for a list that decodes anything; every
            // list begins with an item.
            let first = type_nfa(nfa, at, item, content);
            let mut sep = nfa.literal(first, separator);
            if *separator_repeats {
                let again = nfa.node();
                nfa.eps(sep, again);
                let more = nfa.literal(again, separator);
                nfa.eps(more, again);
                sep = again;
            }
            let item_again = type_nfa(nfa, sep, item, content);
            nfa.eps(item_again, first);
            let end = nfa.node();
            nfa.eps(first, end);
            end
        }
    }
}

/// The bytes of a binary integer of at most 16 bits whose value is in
/// `set`, exactly: the values are enumerated.
fn bin_set_nfa(nfa: &mut Nfa, at: usize, b: BinInt, set: &ValueSet) -> usize {
    bin_pred_nfa(nfa, at, b, |v| set.contains(v))
}

/// The bytes of a binary integer of at most 16 bits whose value `keep`
/// accepts.
fn bin_pred_nfa(nfa: &mut Nfa, at: usize, b: BinInt, keep: impl Fn(i128) -> bool) -> usize {
    let end = nfa.node();
    if b.width() == 1 {
        let mut bytes = ByteSet::empty();
        for v in 0..=255u8 {
            let value = if b.signed { v as i8 as i128 } else { v as i128 };
            if keep(value) {
                bytes.insert(v);
            }
        }
        nfa.on(at, bytes, end);
        return end;
    }
    // Two bytes: for each first byte, the set of second bytes that complete
    // a value in the set; first bytes with the same set share a node.
    let mut by_second: Vec<(ByteSet, ByteSet)> = Vec::new();
    for first in 0..=255u8 {
        let mut seconds = ByteSet::empty();
        for second in 0..=255u8 {
            let bytes = [first, second];
            if keep(b.read(&bytes)) {
                seconds.insert(second);
            }
        }
        if seconds == ByteSet::empty() {
            continue;
        }
        match by_second.iter_mut().find(|(s, _)| *s == seconds) {
            Some((_, firsts)) => firsts.insert(first),
            None => by_second.push((seconds, ByteSet::byte(first))),
        }
    }
    for (seconds, firsts) in by_second {
        let mid = nfa.node();
        nfa.on(at, firsts, mid);
        nfa.on(mid, seconds, end);
    }
    end
}

/// How two languages may collide.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// One string is in both languages.
    Same,
    /// A string of one language is a proper prefix of a string of the other:
    /// the receiver cannot tell whether to stop.
    Prefix,
}

/// Searches for bytes both languages can start with: a string in both, or a
/// string of one that begins a string of the other. Returns the shortest such
/// string (a witness for the diagnostic), or `None` when the receiver can
/// always tell the two apart. Gives up (returns `None`) past `budget` product
/// states, which only pathological specs reach.
///
/// With `framed`, both languages are whole frames cut out by the same framing
/// (a line, a length prefix), so only a common string counts.
pub fn overlap(a: &Nfa, b: &Nfa, framed: bool, budget: usize) -> Option<(Overlap, Vec<u8>)> {
    let mut sa = vec![a.start];
    a.closure(&mut sa);
    let mut sb = vec![b.start];
    b.closure(&mut sb);
    let mut seen: HashMap<(Vec<usize>, Vec<usize>), ()> = HashMap::new();
    let mut queue = VecDeque::new();
    seen.insert((sa.clone(), sb.clone()), ());
    queue.push_back((sa, sb, Vec::new()));
    while let Some((sa, sb, path)) = queue.pop_front() {
        let acc_a = sa.contains(&a.accept);
        let acc_b = sb.contains(&b.accept);
        if acc_a && acc_b {
            return Some((Overlap::Same, path));
        }
        // Every node of these automata can still reach acceptance, so a live
        // state set means "some continuation completes the message".
        if (acc_a || acc_b) && !framed {
            return Some((Overlap::Prefix, path));
        }
        if seen.len() > budget {
            return None;
        }
        for byte in 0..=255u8 {
            let na = a.step(&sa, byte);
            if na.is_empty() {
                continue;
            }
            let nb = b.step(&sb, byte);
            if nb.is_empty() {
                continue;
            }
            let key = (na, nb);
            if seen.contains_key(&key) {
                continue;
            }
            seen.insert(key.clone(), ());
            let mut p = path.clone();
            p.push(byte);
            queue.push_back((key.0, key.1, p));
        }
    }
    None
}
