// Spec errors become compile errors naming `inline:line:col`.
protocol_macros::protocol!(inline = r#"
protocol counters {
    framing line("\r\n", max = 64);
    client message Incr = "incr " key: token;
    server message Value = value: token;
    server message NotFound = "NOT_FOUND";
    state Ready {
        exchange Incr -> Value | NotFound;
        client closes;
    }
}
"#);

fn main() {}
