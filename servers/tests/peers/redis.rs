//! The RESP2 client generated from `specs/redis.proto` against redis-server
//! (the redis suite's peer).

use std::time::Duration;

use bytes::Bytes;
use libtest_mimic::Trial;
use servers::specs::redis;

use crate::harness::{self, ensure_eq, Outcome, Peer, Program};

const LIMIT: Duration = Duration::from_secs(30);

pub fn trials() -> Vec<Trial> {
    vec![harness::trial(
        "redis::generated_client_reads_nested_replies",
        REDIS,
        redis_client,
    )]
}

const REDIS: &[Program] = &[Program::RedisServer];

fn bulk(s: &str) -> redis::Bulk {
    redis::Bulk {
        data: Bytes::copy_from_slice(s.as_bytes()),
    }
}

/// The client generated from `specs/redis.proto` against redis-server: a
/// command of any arity, and replies nested two deep.
fn redis_client() -> Outcome {
    let peer = Peer::start("redis")?;
    harness::block_on(LIMIT, async {
        let ready = redis::client::connect(&peer.addr()).await?;
        let command = |args: &[&str]| redis::Command {
            args: args.iter().map(|a| bulk(a)).collect(),
        };
        let reply = ready.command(command(&["RPUSH", "gen:l", "a", "b"])).await?;
        let redis::client::CommandReplyEvent::Reply(r, ready) = reply.recv().await?;
        ensure_eq!(r.value, redis::Value::Integer(redis::Integer { value: 2 }));
        let reply = ready.command(command(&["MULTI"])).await?;
        let redis::client::CommandReplyEvent::Reply(_, ready) = reply.recv().await?;
        let reply = ready.command(command(&["LRANGE", "gen:l", "0", "-1"])).await?;
        let redis::client::CommandReplyEvent::Reply(_, ready) = reply.recv().await?;
        let reply = ready.command(command(&["EXEC"])).await?;
        let redis::client::CommandReplyEvent::Reply(r, _) = reply.recv().await?;
        let inner = redis::Value::Array(redis::Array {
            items: vec![redis::Value::Bulk(bulk("a")), redis::Value::Bulk(bulk("b"))],
        });
        ensure_eq!(r.value, redis::Value::Array(redis::Array { items: vec![inner] }));
        Ok(())
    })
}
