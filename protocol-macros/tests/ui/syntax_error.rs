// A syntax error in the spec, and a missing spec file. The missing file is
// named by an absolute path: a relative one is resolved against the test
// crate's folder, which trybuild puts under the target directory (and the
// expected message must not depend on where that is).
protocol_macros::protocol!(inline = "protocol broken { state }");
protocol_macros::protocol!("/no/such/spec.proto");

fn main() {}
