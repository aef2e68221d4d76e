// A syntax error in the spec, and a missing spec file.
protocol_macros::protocol!(inline = "protocol broken { state }");
protocol_macros::protocol!("no/such/spec.proto");

fn main() {}
