// The greeting client may not send its name before the server's prompt:
// state `Start` has no `send_name`.
protocol_macros::protocol!(inline = r#"
protocol greeting {
    framing line("\r\n", max = 256);
    server message Prompt = exact "HELLO?";
    client message Name = line("\r\n", max = 248) { name: text };
    server message Welcome = "Hello, " name: text "!";
    state Start { server sends Prompt -> Asking; }
    state Asking { client sends Name -> Answer; client closes; }
    state Answer { server sends Welcome -> close; }
}
"#);

async fn talk(stream: protocol_runtime::transport::Stream) {
    let start = greeting::client::from_stream(stream);
    let _ = start.send_name(greeting::Name { name: "Ann".into() }).await;
}

fn main() {
    let _ = talk;
}
