//! No input makes the compiler panic or hang: random bytes, and shipped specs
//! mutated by flipping, deleting, inserting and truncating.

use proptest::prelude::*;
use protocol_dsl::compile_bytes;

fn specs() -> Vec<Vec<u8>> {
    crate::shipped_specs()
        .into_iter()
        .map(|p| std::fs::read(p).expect("readable spec"))
        .collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        (
            any::<usize>(),
            prop::collection::vec(
                prop::sample::select(b"(){}|?*+:;=\"\\ ->_az09\n\xff".to_vec()),
                1..12
            )
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut text: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        if text.is_empty() {
            break;
        }
        let len = text.len();
        match e {
            Edit::Flip(i, b) => text[i % len] = *b,
            Edit::Delete(i, n) => {
                let start = i % len;
                let end = (start + n).min(len);
                text.drain(start..end);
            }
            Edit::Insert(i, bytes) => {
                let at = i % len;
                text.splice(at..at, bytes.iter().copied());
            }
            Edit::Truncate(i) => text.truncate(i % len),
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let c = compile_bytes("random.proto", &bytes);
        let _ = c.render(false);
    }

    #[test]
    fn mutated_specs_never_panic(which in any::<usize>(), edits in prop::collection::vec(edit(), 1..6)) {
        let all = specs();
        let text = apply(all[which % all.len()].clone(), &edits);
        let c = compile_bytes("mutated.proto", &text);
        let _ = c.render(false);
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let spec = format!(
        "protocol deep {{ server message M = {}\"x\"{}; }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let c = compile_bytes("deep.proto", spec.as_bytes());
    assert!(c.diagnostics.has_errors());
    assert!(c.render(false).contains("nested too deeply"));
}

#[test]
fn huge_input_is_refused() {
    let spec = format!("protocol big {{ {} }}", "// filler\n".repeat(200_000));
    let c = compile_bytes("big.proto", spec.as_bytes());
    assert!(c.diagnostics.has_errors());
}

#[test]
fn truncations_never_panic() {
    for spec in specs() {
        for end in 0..spec.len() {
            let c = compile_bytes("truncated.proto", &spec[..end]);
            let _ = c.render(false);
        }
    }
}
