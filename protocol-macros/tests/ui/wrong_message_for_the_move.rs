// `send_prompt` takes a `Prompt`, not a `Welcome`.
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

async fn serve(start: greeting::server::Start) {
    let _ = start.send_prompt(greeting::Welcome { name: "x".into() }).await;
}

fn main() {
    let _ = serve;
}
