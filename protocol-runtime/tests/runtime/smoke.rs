use std::time::Instant;

use bytes::{Bytes, BytesMut};
use protocol_runtime::layout::Role;
use protocol_runtime::session::{Event, Session};
use protocol_runtime::{Message, Value};

#[test]
fn memcached_get_reply_byte_by_byte() {
    let spec = crate::spec("memcached_get");
    let now = Instant::now();
    let mut client = Session::new(spec.clone(), Role::Client, now);
    let get = spec.message("Get").unwrap();
    let mut out = BytesMut::new();
    client
        .send(
            &Message::new(get, vec![Value::Choice(0), Value::List(vec!["k".into()])]),
            &mut out,
            now,
        )
        .unwrap();
    assert_eq!(&out[..], b"get k\r\n");
    let wire = b"VALUE k 0 5\r\nhello\r\nEND\r\n";
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for &b in wire {
        buf.extend_from_slice(&[b]);
        while let Some(ev) = client.receive(&mut buf, now).unwrap() {
            events.push(ev);
        }
    }
    let value = spec.message("Value").unwrap();
    let end = spec.message("End").unwrap();
    assert_eq!(
        events,
        vec![
            Event::Message(Message::new(
                value,
                vec![
                    "k".into(),
                    Value::U64(0),
                    Value::U64(5),
                    Value::Absent,
                    Value::Bytes(Bytes::from_static(b"hello"))
                ]
            )),
            Event::Message(Message::new(end, vec![])),
        ]
    );
    assert_eq!(client.pending_replies(), 0);
}
