// In `Answer` the server must send `Welcome`; there is nothing to receive.
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

async fn serve(answer: greeting::server::Answer) {
    let _ = answer.recv().await;
}

fn main() {
    let _ = serve;
}
