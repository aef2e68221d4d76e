//! Matching a frame's content against a pattern, and writing a pattern back.
//!
//! Matching backtracks, like a regular expression with greedy quantifiers:
//! a frame matches when *some* reading of it fits the pattern, so the decoder
//! accepts exactly the language the compiler's checks reason about. Among
//! the readings the preferred one is taken: an optional part present, the
//! longest token, the longest choice, the most rounds of a repetition, the
//! most items of a list. Free `text` and `bytes` run to the end of the frame
//! less the literals that follow them (the compiler checks that only
//! literals follow).

use bytes::Bytes;
use smallvec::SmallVec;

use crate::domain;
use crate::layout::{
    BinInt, BitSlice, FieldDef, FieldId, FieldType, Framing, IntKind, Item, ItemKind, Linear, MessageLayout,
    Pattern, TypeId, ValueSet,
};
use crate::spec::{Protocol, TypeDef, TypeKind};
use crate::value::Value;

/// The named types a pattern's fields may have (`struct T = { ... }`
/// values are read in place), and how deep values may nest.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub types: &'a [TypeDef],
    pub max_depth: usize,
}

impl<'a> Scope<'a> {
    pub fn of(spec: &'a Protocol) -> Self {
        Scope {
            types: &spec.types,
            max_depth: spec.max_depth,
        }
    }
}

/// Where and why a frame did not match, at the furthest point reached.
/// What was expected is kept as references into the spec and written out
/// only if the frame matches no candidate: trying the candidates of a state
/// one by one is the common path, and must not format anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch<'a> {
    pub offset: usize,
    pub expected: Expect<'a>,
}

/// What a pattern wanted where it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    EndOfFrame,
    Literal(&'a [u8]),
    Token(&'a str),
    TokenOfAtMost {
        name: &'a str,
        max: usize,
        len: usize,
    },
    Utf8Token(&'a str),
    Field(&'a str),
    Utf8Text(&'a str),
    Int {
        what: &'static str,
        name: &'a str,
    },
    OneOf(&'a [Vec<u8>]),
    AtMostItems {
        max: usize,
        name: &'a str,
    },
    AtLeastItems {
        min: usize,
        name: &'a str,
    },
    /// The frame took too many tries to match (a pathological pattern).
    TooAmbiguous,
    /// `n` more bytes for a fixed-width or sized field.
    Bytes {
        n: u64,
        name: &'a str,
    },
    /// A value of the field's declared set.
    InSet {
        name: &'a str,
        set: &'a ValueSet,
    },
    /// The value an `= expr` field must have.
    Derived {
        name: &'a str,
    },
    /// A constant slice of a `bits(...)` carrier.
    BitsConstant,
    /// A size or count the field's value gives is not whole, negative or over max.
    Size {
        name: &'a str,
        from: &'a str,
    },
    /// A domain name, and why the bytes are not one.
    Domain {
        name: &'a str,
        why: domain::NameError,
    },
    /// Values nested deeper than the protocol's `depth` limit.
    Depth(usize),
}

impl std::fmt::Display for Expect<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::EndOfFrame => f.write_str("the end of the frame"),
            Expect::Literal(lit) => write!(f, "\"{}\"", lit.escape_ascii()),
            Expect::Token(name) => write!(f, "token `{name}`"),
            Expect::TokenOfAtMost { name, max, len } => {
                write!(f, "token `{name}` of at most {max} bytes (got {len} or more)")
            }
            Expect::Utf8Token(name) => write!(f, "UTF-8 token `{name}`"),
            Expect::Field(name) => write!(f, "`{name}`"),
            Expect::Utf8Text(name) => write!(f, "UTF-8 text `{name}`"),
            Expect::Int { what, name } => write!(f, "{what} `{name}`"),
            Expect::OneOf(options) => {
                f.write_str("one of ")?;
                for (i, o) in options.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "\"{}\"", o.escape_ascii())?;
                }
                Ok(())
            }
            Expect::AtMostItems { max, name } => write!(f, "at most {max} items in `{name}`"),
            Expect::AtLeastItems { min, name } => write!(f, "at least {min} items in `{name}`"),
            Expect::TooAmbiguous => f.write_str("a frame that matches in fewer tries"),
            Expect::Bytes { n, name } => write!(f, "{n} bytes of `{name}`"),
            Expect::Derived { name } => write!(f, "`{name}` as its declaration computes it"),
            Expect::BitsConstant => f.write_str("the constant bits of a `bits` field"),
            Expect::InSet { name, set } => write!(f, "`{name}` in {set}"),
            Expect::Size { name, from } => {
                write!(f, "a size of `{name}` within its max (from `{from}`)")
            }
            Expect::Domain { name, why } => write!(f, "{} in `{name}`", why.describe()),
            Expect::Depth(limit) => write!(f, "values nested at most {limit} deep"),
        }
    }
}

pub(crate) struct Matcher<'a, 'v> {
    scope: Scope<'a>,
    layout: &'a MessageLayout,
    input: &'v Bytes,
    pub values: &'v mut [Value],
    furthest: Option<Mismatch<'a>>,
    /// Items tried so far, against `budget`.
    steps: usize,
    /// How many items one frame may try. Backtracking is linear for the
    /// patterns specs write (a token's shorter lengths fail at once on the
    /// literal after it); a pathological pattern on hostile input stops
    /// here with an error instead of taking quadratic time or worse.
    budget: usize,
    /// Values of named types this frame's pattern is inside.
    depth: usize,
}

type Step = Result<usize, ()>;

/// What must follow the item being matched, up to the end of the frame: the
/// rest of its sequence, then the rest of each enclosing one. Matching passes
/// it down (continuation-passing), so that a choice made early (how long a
/// token is, whether an optional part is present, how many rounds a
/// repetition takes) is revisited when what follows cannot match. A chain on
/// the stack, one link per nested item: its depth is the spec's nesting,
/// never the input's length.
#[derive(Clone, Copy)]
enum Cont<'a, 't> {
    /// The frame must end here.
    End,
    /// Whatever follows: the part matched so far is a round of a repetition
    /// or an alternative measured on its own.
    Any,
    /// These items, then `next`.
    Items {
        rest: &'a [Item],
        next: &'t Cont<'a, 't>,
    },
}

impl<'a, 'v> Matcher<'a, 'v> {
    pub fn new(
        scope: Scope<'a>,
        layout: &'a MessageLayout,
        input: &'v Bytes,
        values: &'v mut [Value],
    ) -> Self {
        Matcher {
            scope,
            layout,
            input,
            values,
            furthest: None,
            steps: 0,
            budget: 64 * input.len() + 1024,
            depth: 0,
        }
    }

    /// A matcher for part of `outer`'s input (`input` is a prefix of it,
    /// so offsets, and the pointers of domain names, stay the same) with
    /// another layout's values, sharing the budget.
    fn inner<'w>(
        outer: (Scope<'a>, usize, usize),
        layout: &'a MessageLayout,
        input: &'w Bytes,
        values: &'w mut [Value],
        depth: usize,
    ) -> Matcher<'a, 'w> {
        let (scope, steps, budget) = outer;
        Matcher {
            scope,
            layout,
            input,
            values,
            furthest: None,
            steps,
            budget,
            depth,
        }
    }

    fn outer(&self) -> (Scope<'a>, usize, usize) {
        (self.scope, self.steps, self.budget)
    }

    /// Takes back what an inner matcher spent and the furthest it reached.
    fn absorb(&mut self, steps: usize, furthest: Option<Mismatch<'a>>) {
        self.steps = steps;
        if let Some(f) = furthest {
            self.fail(f.offset, f.expected);
        }
    }

    /// Matches the whole input against `pattern`.
    pub fn whole(&mut self, pattern: &'a Pattern) -> Result<(), Mismatch<'a>> {
        match self.seq(&pattern.items, 0, &Cont::End) {
            Ok(_) => Ok(()),
            Err(()) => Err(self.furthest.unwrap_or(Mismatch {
                offset: 0,
                expected: Expect::EndOfFrame,
            })),
        }
    }

    fn fail(&mut self, offset: usize, expected: Expect<'a>) {
        if self.furthest.is_none_or(|f| offset >= f.offset) {
            self.furthest = Some(Mismatch { offset, expected });
        }
    }

    /// Matches `items` from `pos`, then `k`.
    fn seq(&mut self, items: &'a [Item], pos: usize, k: &Cont<'a, '_>) -> Step {
        match items.split_first() {
            None => self.resume(pos, k),
            Some((item, rest)) => self.item(item, pos, &Cont::Items { rest, next: k }),
        }
    }

    /// Goes on with `k` from `pos`.
    fn resume(&mut self, pos: usize, k: &Cont<'a, '_>) -> Step {
        match *k {
            Cont::End if pos == self.input.len() => Ok(pos),
            Cont::End => {
                self.fail(pos, Expect::EndOfFrame);
                Err(())
            }
            Cont::Any => Ok(pos),
            Cont::Items { rest, next } => self.seq(rest, pos, next),
        }
    }

    fn item(&mut self, item: &'a Item, pos: usize, k: &Cont<'a, '_>) -> Step {
        self.steps += 1;
        if self.steps > self.budget {
            self.fail(self.input.len(), Expect::TooAmbiguous);
            return Err(());
        }
        match &item.kind {
            ItemKind::Literal(lit) => {
                if self.input[pos..].starts_with(lit) {
                    self.resume(pos + lit.len(), k)
                } else {
                    self.fail(pos, Expect::Literal(lit));
                    Err(())
                }
            }
            ItemKind::Field(id) => self.field(*id, pos, k),
            ItemKind::Optional { flag, pattern } => {
                // Present if the rest can match with it, else absent.
                if let Ok(end) = self.seq(&pattern.items, pos, k) {
                    if let Some(f) = flag {
                        self.values[*f as usize] = Value::Bool(true);
                    }
                    return Ok(end);
                }
                clear(&pattern.items, self.values);
                if let Some(f) = flag {
                    self.values[*f as usize] = Value::Bool(false);
                }
                self.resume(pos, k)
            }
            ItemKind::Alternatives(alts) => {
                // Field-less parts (the compiler allows no fields in them):
                // the longest match first, as for choices.
                let mut ends: SmallVec<[usize; 8]> = SmallVec::new();
                for alt in alts {
                    if let Ok(end) = self.seq(&alt.items, pos, &Cont::Any) {
                        ends.push(end);
                    }
                }
                ends.sort_unstable_by(|a, b| b.cmp(a));
                ends.dedup();
                for end in ends {
                    if let Ok(done) = self.resume(end, k) {
                        return Ok(done);
                    }
                }
                Err(())
            }
            ItemKind::Repeat { pattern, min } => self.repeat(pattern, *min, pos, k),
            ItemKind::Bits { carrier, slices } => self.bits(*carrier, slices, pos, k),
            ItemKind::Sized { len, max, pattern } => {
                let Some(n) = self.size(*len, *max, "size", pos) else {
                    return Err(());
                };
                if ((self.input.len() - pos) as u64) < n {
                    self.fail(pos, Expect::Bytes { n, name: "size" });
                    return Err(());
                }
                // Matched inside its bytes alone: its extent is fixed, so
                // what follows never makes it read otherwise.
                let end = pos + n as usize;
                let part = self.input.slice(..end);
                let mut inner =
                    Matcher::inner(self.outer(), self.layout, &part, &mut *self.values, self.depth);
                let r = inner.seq(&pattern.items, pos, &Cont::End);
                let (steps, furthest) = (inner.steps, inner.furthest);
                self.absorb(steps, furthest);
                r?;
                self.resume(end, k)
            }
            ItemKind::If { field, set, pattern } => {
                // Decided by a value already read, never by the bytes.
                if condition_holds(&self.values[*field as usize], set) {
                    self.seq(&pattern.items, pos, k)
                } else {
                    clear(&pattern.items, self.values);
                    self.resume(pos, k)
                }
            }
        }
    }

    /// A `bits(...)` carrier, cut into its slices. Its extent is fixed, so
    /// the slices are stored before the rest is matched.
    fn bits(&mut self, carrier: BinInt, slices: &'a [BitSlice], pos: usize, k: &Cont<'a, '_>) -> Step {
        let w = carrier.width();
        let rest = &self.input[pos..];
        if rest.len() < w {
            self.fail(
                pos,
                Expect::Bytes {
                    n: w as u64,
                    name: "bits",
                },
            );
            return Err(());
        }
        let raw = carrier.read(rest) as u64
            & if carrier.bits >= 64 {
                u64::MAX
            } else {
                (1u64 << carrier.bits) - 1
            };
        let mut shift = carrier.bits as u32;
        for s in slices {
            // The compiler makes the widths add up to the carrier's; a
            // layout built by hand that does not fails to match.
            let Some(next) = shift.checked_sub(s.width as u32) else {
                self.fail(pos, Expect::BitsConstant);
                return Err(());
            };
            shift = next;
            let v = (raw >> shift) & s.mask();
            if s.constant.is_some_and(|c| c != v) {
                self.fail(pos, Expect::BitsConstant);
                return Err(());
            }
            let Some(id) = s.field else { continue };
            let def = &self.layout.fields[id as usize];
            if let Some(set) = &def.constraint {
                if !set.contains(v as i128) {
                    self.fail(pos, Expect::InSet { name: &def.name, set });
                    return Err(());
                }
            }
            self.values[id as usize] = if s.width == 1 {
                Value::Bool(v == 1)
            } else {
                Value::U64(v)
            };
        }
        self.resume(pos + w, k)
    }

    /// A field-less part repeated: as many rounds as let the rest match,
    /// most first. Rounds are found one after another (each round's own
    /// longest match), so a long run of rounds costs no stack.
    fn repeat(&mut self, body: &'a Pattern, min: usize, pos: usize, k: &Cont<'a, '_>) -> Step {
        if let [Item {
            kind: ItemKind::Literal(lit),
            ..
        }] = body.items.as_slice()
        {
            // The common case, `" "+`: rounds without a list of their ends.
            let mut rounds = 0;
            while !lit.is_empty() && self.input[pos + rounds * lit.len()..].starts_with(lit) {
                rounds += 1;
            }
            if rounds < min {
                self.fail(pos + rounds * lit.len(), Expect::Literal(lit));
                return Err(());
            }
            for n in (min..=rounds).rev() {
                if let Ok(done) = self.resume(pos + n * lit.len(), k) {
                    return Ok(done);
                }
            }
            return Err(());
        }
        let mut ends = vec![pos];
        let mut at = pos;
        while let Ok(end) = self.seq(&body.items, at, &Cont::Any) {
            if end == at {
                break;
            }
            ends.push(end);
            at = end;
        }
        if ends.len() <= min {
            return Err(());
        }
        for &end in ends[min..].iter().rev() {
            if let Ok(done) = self.resume(end, k) {
                return Ok(done);
            }
        }
        Err(())
    }

    /// A field's value at `pos`, then `k`. The value is stored only once the
    /// rest has matched, so a length tried and given up costs no allocation.
    fn field(&mut self, id: FieldId, pos: usize, k: &Cont<'a, '_>) -> Step {
        let layout = self.layout;
        let def = &layout.fields[id as usize];
        let name = def.name.as_str();
        let rest = &self.input[pos..];
        match &def.ty {
            FieldType::Token { max, except } => {
                // Scanned no further than one byte past `max`: a repetition
                // before the token retries it at each of its rounds.
                let run = token_run(&rest[..rest.len().min(max.saturating_add(1))], except.as_deref());
                if run == 0 {
                    self.fail(pos, Expect::Token(name));
                    return Err(());
                }
                // Longest first; a shorter token is tried when the rest
                // cannot follow the longer one (`cmd: token "=OK"` on
                // `POWR=OK`).
                let top = run.min(*max);
                // A text token is checked for UTF-8 once, at its longest: a
                // shorter one is text where it ends on a character boundary.
                let text = match except {
                    Some(_) => None,
                    None => Some(utf8_prefix(&rest[..top])),
                };
                for len in (1..=top).rev() {
                    if text.is_some_and(|t| !t.is_char_boundary(len)) {
                        self.fail(pos, Expect::Utf8Token(name));
                        continue;
                    }
                    if let Ok(done) = self.resume(pos + len, k) {
                        self.values[id as usize] = match text {
                            Some(t) => Value::Str(t[..len].to_string()),
                            None => Value::Bytes(self.input.slice(pos..pos + len)),
                        };
                        return Ok(done);
                    }
                }
                if run > *max {
                    self.fail(
                        pos + max,
                        Expect::TokenOfAtMost {
                            name,
                            max: *max,
                            len: run,
                        },
                    );
                }
                Err(())
            }
            FieldType::Text | FieldType::Bytes if !only_literals_follow(k) => {
                // Repetitions follow (`words: bytes " "+ "noreply" " "*`):
                // the longest value that lets them match.
                let last = self.input.len().saturating_sub(suffix_len(k)).max(pos);
                // Text: UTF-8 up to the longest end, checked once; shorter
                // values end on its character boundaries.
                let text = match def.ty {
                    FieldType::Text => match std::str::from_utf8(&self.input[pos..last]) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            self.fail(pos + e.valid_up_to(), Expect::Utf8Text(name));
                            return Err(());
                        }
                    },
                    _ => None,
                };
                for end in (pos..=last).rev() {
                    if text.is_some_and(|t| !t.is_char_boundary(end - pos)) {
                        continue;
                    }
                    if let Ok(done) = self.resume(end, k) {
                        self.values[id as usize] = match text {
                            Some(t) => Value::Str(t[..end - pos].to_string()),
                            None => Value::Bytes(self.input.slice(pos..end)),
                        };
                        return Ok(done);
                    }
                }
                self.fail(pos, Expect::Field(name));
                Err(())
            }
            FieldType::Text | FieldType::Bytes => {
                let suffix = suffix_len(k);
                let Some(end) = self.input.len().checked_sub(suffix).filter(|e| *e >= pos) else {
                    self.fail(pos, Expect::Field(name));
                    return Err(());
                };
                let value = if def.ty == FieldType::Bytes {
                    Value::Bytes(self.input.slice(pos..end))
                } else {
                    match std::str::from_utf8(&self.input[pos..end]) {
                        Ok(s) => Value::Str(s.to_string()),
                        Err(e) => {
                            self.fail(pos + e.valid_up_to(), Expect::Utf8Text(name));
                            return Err(());
                        }
                    }
                };
                let done = self.resume(end, k)?;
                self.values[id as usize] = value;
                Ok(done)
            }
            FieldType::Int(kind) => match parse_int(rest, *kind) {
                Ok((v, len)) => {
                    if let Some(set) = &def.constraint {
                        if !set.contains(int_of(&v)) {
                            self.fail(pos, Expect::InSet { name, set });
                            return Err(());
                        }
                    }
                    if !self.agrees(def, int_of(&v)) {
                        self.fail(pos, Expect::Derived { name });
                        return Err(());
                    }
                    // Stored before the rest is matched: a size or count
                    // later in the frame reads it. An integer's extent is
                    // fixed, so no other reading of it is ever tried.
                    self.values[id as usize] = v;
                    self.resume(pos + len, k)
                }
                Err(why) => {
                    self.fail(pos, Expect::Int { what: why, name });
                    Err(())
                }
            },
            FieldType::Bin(b) => {
                let w = b.width();
                if rest.len() < w {
                    self.fail(pos, Expect::Bytes { n: w as u64, name });
                    return Err(());
                }
                let v = b.read(rest);
                if let Some(set) = &def.constraint {
                    if !set.contains(v) {
                        self.fail(pos, Expect::InSet { name, set });
                        return Err(());
                    }
                }
                if !self.agrees(def, v) {
                    self.fail(pos, Expect::Derived { name });
                    return Err(());
                }
                self.values[id as usize] = int_value(b.signed, v);
                self.resume(pos + w, k)
            }
            FieldType::Sized { len, max, text } => {
                let Some(n) = self.size(*len, *max, name, pos) else {
                    return Err(());
                };
                if (rest.len() as u64) < n {
                    self.fail(pos, Expect::Bytes { n, name });
                    return Err(());
                }
                let end = pos + n as usize;
                let value = if *text {
                    match std::str::from_utf8(&self.input[pos..end]) {
                        Ok(s) => Value::Str(s.to_string()),
                        Err(e) => {
                            self.fail(pos + e.valid_up_to(), Expect::Utf8Text(name));
                            return Err(());
                        }
                    }
                } else {
                    Value::Bytes(self.input.slice(pos..end))
                };
                let done = self.resume(end, k)?;
                self.values[id as usize] = value;
                Ok(done)
            }
            FieldType::Rest { item, max } if !matches!(**item, FieldType::Type(_)) => {
                let FieldType::Bin(b) = **item else {
                    self.fail(pos, Expect::Field(name));
                    return Err(());
                };
                let w = b.width();
                let Some(avail) = self
                    .input
                    .len()
                    .checked_sub(suffix_len(k))
                    .and_then(|e| e.checked_sub(pos))
                else {
                    self.fail(pos, Expect::Field(name));
                    return Err(());
                };
                if avail % w != 0 || avail / w > *max {
                    self.fail(pos, Expect::Field(name));
                    return Err(());
                }
                let end = pos + avail;
                let done = self.resume(end, k)?;
                let items = self.input[pos..end]
                    .chunks_exact(w)
                    .map(|c| bin_value(b, c))
                    .collect();
                self.values[id as usize] = Value::List(items);
                Ok(done)
            }
            FieldType::Terminated {
                terminator,
                max,
                text,
            } => {
                // Searched no further than the max allows.
                let window = &rest[..rest.len().min(max.saturating_add(terminator.len()))];
                let Some(len) = memchr::memmem::find(window, terminator).filter(|l| *l <= *max) else {
                    self.fail(pos, Expect::Literal(terminator));
                    return Err(());
                };
                let value = if *text {
                    match std::str::from_utf8(&rest[..len]) {
                        Ok(s) => Value::Str(s.to_string()),
                        Err(e) => {
                            self.fail(pos + e.valid_up_to(), Expect::Utf8Text(name));
                            return Err(());
                        }
                    }
                } else {
                    Value::Bytes(self.input.slice(pos..pos + len))
                };
                let done = self.resume(pos + len + terminator.len(), k)?;
                self.values[id as usize] = value;
                Ok(done)
            }
            FieldType::Domain { .. } => match domain::read(self.input, pos) {
                Ok((text, end)) => {
                    let done = self.resume(end, k)?;
                    self.values[id as usize] = Value::Str(text);
                    Ok(done)
                }
                Err(why) => {
                    self.fail(pos, Expect::Domain { name, why });
                    Err(())
                }
            },
            FieldType::Type(t) => {
                let (v, end) = self.inline(*t, pos).ok_or(())?;
                let done = self.resume(end, k)?;
                self.values[id as usize] = v;
                Ok(done)
            }
            FieldType::Array { item, count, max } if matches!(**item, FieldType::Type(_)) => {
                let FieldType::Type(t) = **item else {
                    return Err(());
                };
                let n = self.size(*count, *max, name, pos).ok_or(())?;
                // Every item takes at least a byte: a count past the bytes
                // left is refused before any is read or any memory taken.
                if n > (self.input.len() - pos) as u64 && self.takes_a_byte(t) {
                    self.fail(pos, Expect::Bytes { n, name });
                    return Err(());
                }
                let mut items = Vec::with_capacity((n as usize).min(64));
                let mut at = pos;
                for _ in 0..n {
                    let (v, end) = self.inline(t, at).ok_or(())?;
                    items.push(v);
                    at = end;
                }
                let done = self.resume(at, k)?;
                self.values[id as usize] = Value::List(items);
                Ok(done)
            }
            FieldType::Rest { item, max } => {
                let FieldType::Type(t) = **item else {
                    return Err(());
                };
                let Some(limit) = self.input.len().checked_sub(suffix_len(k)).filter(|l| *l >= pos) else {
                    self.fail(pos, Expect::Field(name));
                    return Err(());
                };
                let mut items = Vec::new();
                let mut at = pos;
                while at < limit {
                    if items.len() == *max {
                        self.fail(at, Expect::AtMostItems { max: *max, name });
                        return Err(());
                    }
                    let (v, end) = self.inline(t, at).ok_or(())?;
                    if end == at {
                        // An item of no bytes would repeat forever.
                        self.fail(at, Expect::Field(name));
                        return Err(());
                    }
                    items.push(v);
                    at = end;
                }
                if at != limit {
                    self.fail(limit, Expect::EndOfFrame);
                    return Err(());
                }
                let done = self.resume(at, k)?;
                self.values[id as usize] = Value::List(items);
                Ok(done)
            }
            FieldType::Array { item, count, max } => {
                let Some(n) = self.size(*count, *max, name, pos) else {
                    return Err(());
                };
                let FieldType::Bin(b) = **item else {
                    // The compiler allows only binary integers as items.
                    self.fail(pos, Expect::Field(name));
                    return Err(());
                };
                let w = b.width() as u64;
                if (rest.len() as u64) < n * w {
                    self.fail(pos, Expect::Bytes { n: n * w, name });
                    return Err(());
                }
                let end = pos + (n * w) as usize;
                let done = self.resume(end, k)?;
                let items = self.input[pos..end]
                    .chunks_exact(w as usize)
                    .map(|c| bin_value(b, c))
                    .collect();
                self.values[id as usize] = Value::List(items);
                Ok(done)
            }
            FieldType::Choice(options) => {
                // Inline: a choice is tried on every frame of its message.
                let mut matching: SmallVec<[usize; 8]> = (0..options.len())
                    .filter(|&i| rest.starts_with(&options[i]))
                    .collect();
                if matching.is_empty() {
                    self.fail(pos, Expect::OneOf(options));
                    return Err(());
                }
                matching.sort_by_key(|&i| std::cmp::Reverse(options[i].len()));
                for i in matching {
                    if let Ok(done) = self.resume(pos + options[i].len(), k) {
                        self.values[id as usize] = Value::Choice(i);
                        return Ok(done);
                    }
                }
                Err(())
            }
            FieldType::Flag => self.resume(pos, k),
            // Bit slices are read by their `bits` item.
            FieldType::Bit { .. } => {
                self.fail(pos, Expect::Field(name));
                Err(())
            }
            FieldType::List {
                item,
                separator,
                separator_repeats,
                min,
                max,
            } => {
                // Items are found one after another (the compiler makes sure
                // a separator cannot begin inside an item, so each item's
                // extent is its longest match); then as many items as let the
                // rest match, most first.
                let mut items = Vec::new();
                let mut ends = Vec::new();
                let mut at = pos;
                loop {
                    let Some((v, end)) = self.list_item(item, name, at) else {
                        break;
                    };
                    if items.len() == *max {
                        self.fail(at, Expect::AtMostItems { max: *max, name });
                        break;
                    }
                    items.push(v);
                    ends.push(end);
                    let mut next = end;
                    let mut seps = 0;
                    while self.input[next..].starts_with(separator) && (seps == 0 || *separator_repeats) {
                        next += separator.len();
                        seps += 1;
                    }
                    if seps == 0 {
                        break;
                    }
                    at = next;
                }
                if items.len() < *min {
                    self.fail(at, Expect::AtLeastItems { min: *min, name });
                    return Err(());
                }
                // `min = 0` lets the list be empty: the rest resumes where
                // it would have begun.
                for n in (*min..=items.len()).rev() {
                    let end = if n == 0 { pos } else { ends[n - 1] };
                    if let Ok(done) = self.resume(end, k) {
                        items.truncate(n);
                        self.values[id as usize] = Value::List(items);
                        return Ok(done);
                    }
                }
                Err(())
            }
        }
    }

    /// A value of struct `t` read in place at `pos` (its own reading: its
    /// extent is not revisited by what follows), and where it ends.
    fn inline(&mut self, t: TypeId, pos: usize) -> Option<(Value, usize)> {
        let scope = self.scope;
        let def = scope.types.get(t)?;
        let (TypeKind::Struct(layout), Some(Framing::Inline { pattern })) = (
            &def.kind,
            def.layout().and_then(|l| l.segments.first()).map(|s| &s.framing),
        ) else {
            self.fail(pos, Expect::Field(&def.name));
            return None;
        };
        if self.depth >= scope.max_depth {
            self.fail(pos, Expect::Depth(scope.max_depth));
            return None;
        }
        let mut values = Vec::with_capacity(layout.fields.len());
        values.resize_with(layout.fields.len(), || Value::Absent);
        let mut inner = Matcher::inner(self.outer(), layout, self.input, &mut values, self.depth + 1);
        let r = inner.seq(&pattern.items, pos, &Cont::Any);
        let (steps, furthest) = (inner.steps, inner.furthest);
        self.absorb(steps, furthest);
        r.ok().map(|end| (Value::Struct(values), end))
    }

    /// Whether every value of struct `t` takes at least one byte.
    fn takes_a_byte(&self, t: TypeId) -> bool {
        self.scope
            .types
            .get(t)
            .and_then(TypeDef::layout)
            .and_then(|l| l.segments.first())
            .is_some_and(|s| match &s.framing {
                Framing::Inline { pattern } => pattern.items.iter().any(|i| match &i.kind {
                    ItemKind::Literal(l) => !l.is_empty(),
                    ItemKind::Bits { .. } => true,
                    ItemKind::Field(f) => matches!(
                        s_field(self.scope.types, t, *f),
                        Some(FieldType::Bin(_) | FieldType::Domain { .. } | FieldType::Terminated { .. })
                    ),
                    _ => false,
                }),
                _ => false,
            })
    }

    /// Whether `v` is the value an `= expr` field must have.
    fn agrees(&self, def: &FieldDef, v: i128) -> bool {
        let Some(eq) = def.equals else {
            return true;
        };
        match &self.values[eq.field as usize] {
            Value::U64(_) | Value::I64(_) => {
                eq.eval_floor(int_of(&self.values[eq.field as usize])) == Some(v)
            }
            _ => false,
        }
    }

    /// A size or count from a field read before: `None` (a mismatch) when
    /// the field has no integer value, or the size is not whole, negative,
    /// or over `max`.
    fn size(&mut self, len: Linear, max: usize, name: &'a str, pos: usize) -> Option<u64> {
        let from = &self.layout.fields[len.field as usize];
        let n = match &self.values[len.field as usize] {
            Value::U64(v) => len.eval(*v as i128),
            Value::I64(v) => len.eval(*v as i128),
            _ => None,
        };
        match n {
            Some(n) if n <= max as u64 => Some(n),
            _ => {
                self.fail(
                    pos,
                    Expect::Size {
                        name,
                        from: &from.name,
                    },
                );
                None
            }
        }
    }

    /// One item of a list: its longest match.
    fn list_item(&mut self, ty: &'a FieldType, name: &'a str, pos: usize) -> Option<(Value, usize)> {
        let rest = &self.input[pos..];
        match ty {
            FieldType::Token { max, except } => {
                let len = token_run(&rest[..rest.len().min(max.saturating_add(1))], except.as_deref());
                if len == 0 {
                    self.fail(pos, Expect::Token(name));
                    return None;
                }
                if len > *max {
                    self.fail(pos, Expect::TokenOfAtMost { name, max: *max, len });
                    return None;
                }
                let value = match except {
                    Some(_) => Value::Bytes(self.input.slice(pos..pos + len)),
                    None => match std::str::from_utf8(&rest[..len]) {
                        Ok(t) => Value::Str(t.to_string()),
                        Err(_) => {
                            self.fail(pos, Expect::Utf8Token(name));
                            return None;
                        }
                    },
                };
                Some((value, pos + len))
            }
            FieldType::Int(kind) => match parse_int(rest, *kind) {
                Ok((v, len)) => Some((v, pos + len)),
                Err(why) => {
                    self.fail(pos, Expect::Int { what: why, name });
                    None
                }
            },
            // The compiler allows only tokens and integers in lists.
            _ => {
                self.fail(pos, Expect::Field(name));
                None
            }
        }
    }
}

/// Whether only literals follow (the common case: a free field's end is
/// then fixed), not repetitions of literals too.
fn only_literals_follow(k: &Cont<'_, '_>) -> bool {
    let mut link = k;
    while let Cont::Items { rest, next } = link {
        if !rest.iter().all(|i| matches!(i.kind, ItemKind::Literal(_))) {
            return false;
        }
        link = next;
    }
    true
}

/// Bytes of the literals that must follow a free field to the frame's end
/// (the compiler allows nothing but literals and repetitions of literals
/// after one).
fn suffix_len(k: &Cont<'_, '_>) -> usize {
    let mut sum = 0;
    let mut link = k;
    while let Cont::Items { rest, next } = link {
        sum += rest
            .iter()
            .map(|i| match &i.kind {
                ItemKind::Literal(l) => l.len(),
                _ => 0,
            })
            .sum::<usize>();
        link = next;
    }
    sum
}

/// The type of field `f` of struct `t`.
fn s_field(types: &[TypeDef], t: TypeId, f: FieldId) -> Option<&FieldType> {
    Some(&types.get(t)?.layout()?.fields.get(f as usize)?.ty)
}

/// Resets the fields of an optional part that did not match.
fn clear(items: &[Item], values: &mut [Value]) {
    for item in items {
        match &item.kind {
            ItemKind::Field(id) => values[*id as usize] = Value::Absent,
            ItemKind::Optional { flag, pattern } => {
                if let Some(f) = flag {
                    values[*f as usize] = Value::Bool(false);
                }
                clear(&pattern.items, values);
            }
            ItemKind::Alternatives(alts) => alts.iter().for_each(|a| clear(&a.items, values)),
            ItemKind::Repeat { pattern, .. } => clear(&pattern.items, values),
            ItemKind::Bits { slices, .. } => {
                for id in slices.iter().filter_map(|s| s.field) {
                    values[id as usize] = Value::Absent;
                }
            }
            ItemKind::If { pattern, .. } | ItemKind::Sized { pattern, .. } => clear(&pattern.items, values),
            ItemKind::Literal(_) => {}
        }
    }
}

/// Whether the value an `if` tests is in its set: an absent value never
/// is, a flag is 1 when set.
pub(crate) fn condition_holds(v: &Value, set: &ValueSet) -> bool {
    match v {
        Value::Bool(b) => set.contains(i128::from(*b)),
        Value::U64(_) | Value::I64(_) => set.contains(int_of(v)),
        _ => false,
    }
}

/// The binary integer at the front of `bytes`, as a value.
fn bin_value(b: BinInt, bytes: &[u8]) -> Value {
    int_value(b.signed, b.read(bytes))
}

/// `v` as the value of a signed or unsigned field.
pub(crate) fn int_value(signed: bool, v: i128) -> Value {
    if signed {
        Value::I64(v as i64)
    } else {
        Value::U64(v as u64)
    }
}

/// An integer value as `i128` (0 for a value that is none).
pub(crate) fn int_of(v: &Value) -> i128 {
    match v {
        Value::U64(n) => *n as i128,
        Value::I64(n) => *n as i128,
        _ => 0,
    }
}

/// The longest prefix of `bytes` that is UTF-8.
fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(t) => t,
        // Valid up to there by the error's own account.
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// How many bytes at the front of `rest` a token may take.
fn token_run(rest: &[u8], except: Option<&[u8]>) -> usize {
    let end = match except {
        None => rest.iter().position(|&b| !is_token_byte(b)),
        Some([b]) => memchr::memchr(*b, rest),
        Some(set) => rest.iter().position(|b| set.contains(b)),
    };
    end.unwrap_or(rest.len())
}

/// Token bytes: anything but space and control bytes.
pub fn is_token_byte(b: u8) -> bool {
    b > 0x20 && b != 0x7f
}

fn parse_int(rest: &[u8], kind: IntKind) -> Result<(Value, usize), &'static str> {
    let negative = kind.signed && rest.first() == Some(&b'-');
    let start = usize::from(negative);
    let digits = rest[start..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err("integer");
    }
    let mut v: u128 = 0;
    for &b in &rest[start..start + digits] {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as u128))
            .ok_or("in-range integer")?;
        if v > kind.max_value() + 1 {
            return Err("in-range integer");
        }
    }
    let len = start + digits;
    if negative {
        let n = -(v as i128);
        if n < kind.min_value() {
            return Err("in-range integer");
        }
        Ok((Value::I64(n as i64), len))
    } else if v > kind.max_value() {
        Err("in-range integer")
    } else if kind.signed {
        Ok((Value::I64(v as i64), len))
    } else {
        Ok((Value::U64(v as u64), len))
    }
}
