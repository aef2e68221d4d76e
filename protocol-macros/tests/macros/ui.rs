//! Moves the spec forbids do not compile, and spec errors come out as
//! `compile_error!`s naming the spec location (expected output in tests/ui).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
