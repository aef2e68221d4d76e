//! Helpers shared by the fuzz targets.

/// Cuts `data` into chunks whose sizes come from `seed`, so that one input
/// byte decides how a stream drips in: 0 delivers it whole, other values pick
/// a largest chunk size and a pseudo-random sequence of sizes up to it.
pub struct Chunks<'a> {
    data: &'a [u8],
    state: u32,
    largest: usize,
}

/// Largest chunk sizes a seed's low four bits choose from: single bytes to
/// catch every resumption point, sizes around common delimiters and prefixes,
/// and larger ones that hold several frames at once.
const LARGEST: [usize; 16] = [1, 1, 2, 2, 3, 3, 4, 5, 7, 8, 9, 16, 17, 64, 255, 4096];

impl<'a> Chunks<'a> {
    pub fn new(data: &'a [u8], seed: u8) -> Self {
        let largest = if seed == 0 {
            usize::MAX
        } else {
            LARGEST[(seed & 0x0f) as usize]
        };
        Chunks {
            data,
            // Never zero: xorshift stays at zero once there.
            state: u32::from(seed).wrapping_mul(0x9e37_79b9) | 1,
            largest,
        }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.data.is_empty() {
            return None;
        }
        let size = if self.largest == usize::MAX {
            self.data.len()
        } else {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 17;
            self.state ^= self.state << 5;
            1 + self.state as usize % self.largest
        };
        let (chunk, rest) = self.data.split_at(size.min(self.data.len()));
        self.data = rest;
        Some(chunk)
    }
}

/// `values` of a message or struct laid out as `layout`, with every derived
/// field (a length, a count, an `= expr` value) absent, nested values
/// included: what a message says, as opposed to how its bytes were framed.
/// A decoded DNS answer and the same answer re-encoded differ in their
/// record data lengths when the first compressed its names and the encoder
/// writes them whole; what they say is the same.
pub fn given(
    types: &[protocol_runtime::spec::TypeDef],
    layout: &protocol_runtime::layout::MessageLayout,
    values: &[protocol_runtime::Value],
) -> Vec<protocol_runtime::Value> {
    use protocol_runtime::layout::FieldType;
    use protocol_runtime::spec::TypeKind;
    use protocol_runtime::Value;

    fn typed(types: &[protocol_runtime::spec::TypeDef], ty: &FieldType, v: &Value) -> Value {
        match (ty, v) {
            (FieldType::Type(t), v) => match (types.get(*t).map(|d| &d.kind), v) {
                (Some(TypeKind::Struct(l)), Value::Struct(fields)) => Value::Struct(given(types, l, fields)),
                (Some(TypeKind::Choice(branches)), Value::Variant(b, inner)) => match branches.get(*b) {
                    Some(t) => Value::Variant(*b, Box::new(typed(types, &FieldType::Type(*t), inner))),
                    None => v.clone(),
                },
                _ => v.clone(),
            },
            (FieldType::Array { item, .. } | FieldType::Rest { item, .. }, Value::List(items)) => {
                Value::List(items.iter().map(|i| typed(types, item, i)).collect())
            }
            _ => v.clone(),
        }
    }
    layout
        .fields
        .iter()
        .zip(values)
        .map(|(d, v)| {
            if d.derived {
                Value::Absent
            } else {
                typed(types, &d.ty, v)
            }
        })
        .collect()
}
