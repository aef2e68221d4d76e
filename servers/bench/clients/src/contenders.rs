//! The clients under test, each fetching a batch of keys in the way that
//! client does best, and checking what came back.

use anyhow::{bail, ensure, Context};
use clap::ValueEnum;
use servers::specs::memcached_get::{self as spec, client, dynamic, Cmd, Get, ServerMessage};
use tokio::io::BufWriter;
use tokio::net::TcpStream;

use async_memcached::AsciiProtocol;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Contender {
    /// The generated client's typestate API (`client::connect`): one `get`
    /// naming the whole batch, replies received one message at a time.
    Generated,
    /// The generated client's dynamic API (`dynamic::Client`): one `get`
    /// per key, all queued and sent in one flush, replies read in order.
    GeneratedPipelined,
    /// async-memcached 0.9: `get` for one key, `get_multi` for a batch.
    AsyncMemcached,
    /// memcache-async 0.10 (feature `with-tokio`) on a `BufWriter<TcpStream>`:
    /// `get` for one key, `get_multi` for a batch.
    MemcacheAsync,
}

impl Contender {
    pub const ALL: [Contender; 4] = [
        Contender::Generated,
        Contender::GeneratedPipelined,
        Contender::AsyncMemcached,
        Contender::MemcacheAsync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Contender::Generated => "generated (typestate, multi-key get)",
            Contender::GeneratedPipelined => "generated (dynamic, pipelined gets)",
            Contender::AsyncMemcached => "async-memcached 0.9",
            Contender::MemcacheAsync => "memcache-async 0.10",
        }
    }

    /// The crates this project is compared with (the anchors).
    pub fn is_anchor(self) -> bool {
        matches!(self, Contender::AsyncMemcached | Contender::MemcacheAsync)
    }

    pub async fn connect(self, target: &str) -> anyhow::Result<Client> {
        Ok(match self {
            Contender::Generated => Client::Generated(Some(client::connect(target).await?)),
            Contender::GeneratedPipelined => {
                Client::GeneratedPipelined(dynamic::Client::connect(target).await?)
            }
            Contender::AsyncMemcached => Client::AsyncMemcached(
                async_memcached::Client::new(format!("tcp://{target}"))
                    .await
                    .map_err(|e| anyhow::anyhow!("async-memcached: {e}"))?,
            ),
            Contender::MemcacheAsync => {
                let stream = TcpStream::connect(target).await.context("connect")?;
                stream.set_nodelay(true)?;
                Client::MemcacheAsync(memcache_async::ascii::Protocol::new(BufWriter::new(stream)))
            }
        })
    }
}

/// One connection of one contender.
pub enum Client {
    /// `None` only while a batch is in flight (the typestate API moves the
    /// connection through its states).
    Generated(Option<client::Ready>),
    GeneratedPipelined(dynamic::Client),
    AsyncMemcached(async_memcached::Client),
    MemcacheAsync(memcache_async::ascii::Protocol<BufWriter<TcpStream>>),
}

impl Client {
    /// Fetches `keys` (every one of them stored with a value of `value_size`
    /// bytes) and fails unless each came back with a value of that size.
    pub async fn fetch(&mut self, keys: &[String], value_size: usize) -> anyhow::Result<()> {
        let found = match self {
            Client::Generated(ready) => {
                let conn = ready.take().context("an earlier batch failed")?;
                let mut reply = conn
                    .get(Get {
                        cmd: Cmd::Get,
                        keys: keys.to_vec(),
                    })
                    .await?;
                let mut found = 0;
                loop {
                    reply = match reply.recv().await? {
                        client::GetReplyEvent::Value(v, next) => {
                            found += usize::from(v.data.len() == value_size);
                            next
                        }
                        client::GetReplyEvent::End(_, next) => {
                            *ready = Some(next);
                            break found;
                        }
                        other => bail!("unexpected reply: {other:?}"),
                    }
                }
            }
            Client::GeneratedPipelined(c) => {
                for key in keys {
                    c.queue(Get {
                        cmd: Cmd::Get,
                        keys: vec![key.clone()],
                    })?;
                }
                c.flush().await?;
                let (mut found, mut ends) = (0, 0);
                while ends < keys.len() {
                    match c.recv().await? {
                        dynamic::Received::Message(ServerMessage::Value(v)) => {
                            found += usize::from(v.data.len() == value_size)
                        }
                        dynamic::Received::Message(ServerMessage::End(spec::End)) => ends += 1,
                        other => bail!("unexpected reply: {other:?}"),
                    }
                }
                found
            }
            Client::AsyncMemcached(c) => {
                if let [key] = keys {
                    let v = c
                        .get(key)
                        .await
                        .map_err(|e| anyhow::anyhow!("async-memcached: {e}"))?;
                    usize::from(v.and_then(|v| v.data).is_some_and(|d| d.len() == value_size))
                } else {
                    let values = c
                        .get_multi(keys)
                        .await
                        .map_err(|e| anyhow::anyhow!("async-memcached: {e}"))?;
                    values
                        .iter()
                        .filter(|v| v.data.as_ref().is_some_and(|d| d.len() == value_size))
                        .count()
                }
            }
            Client::MemcacheAsync(c) => {
                if let [key] = keys {
                    usize::from(c.get(key).await.context("memcache-async")?.len() == value_size)
                } else {
                    let values = c.get_multi(keys).await.context("memcache-async")?;
                    values.values().filter(|d| d.len() == value_size).count()
                }
            }
        };
        ensure!(
            found == keys.len(),
            "{} of {} keys came back with their value",
            found,
            keys.len()
        );
        Ok(())
    }
}
