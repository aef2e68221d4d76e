//! The commands about the connection and the server: `PING`, `ECHO`,
//! `SELECT`, `INFO`, `CONFIG`, `COMMAND`, `CLIENT`.

use protocol_runtime::bytes::Bytes;

use crate::specs::redis::Value as Reply;

use super::commands::*;
use super::store::glob_match;

// ---------------------------------------------------------------------------
// Connection and server

pub(super) fn ping(_: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    match a.len() {
        1 => Ok(simple("PONG")),
        2 => Ok(bulk(a[1].clone())),
        _ => Err(wrong_arity("ping")),
    }
}

pub(super) fn select(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let n = int(&a[1])?;
    if !(0..super::DATABASES as i64).contains(&n) {
        return fail("ERR DB index is out of range");
    }
    c.conn.db = n as usize;
    Ok(ok())
}

fn unknown_subcommand(a: &[Bytes]) -> Fail {
    Fail(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        shown(&a[1], 128),
        String::from_utf8_lossy(&a[0]).to_ascii_uppercase()
    ))
}

pub(super) fn info(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let about = c.about;
    let wanted = |name: &str| {
        a.len() == 1
            || a[1..]
                .iter()
                .any(|s| is(s, name) || is(s, "all") || is(s, "everything") || is(s, "default"))
    };
    let mut sections = Vec::new();
    if wanted("server") {
        let uptime = c.now.saturating_sub(about.started) / 1000;
        sections.push(format!(
            "# Server\r\nredis_version:{}\r\nredis_mode:standalone\r\nprotospec_version:{}\r\n\
             os:{}\r\narch_bits:64\r\nmultiplexing_api:tokio\r\nprocess_id:{}\r\ntcp_port:{}\r\n\
             uptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nio_threads_active:{}\r\n",
            super::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::process::id(),
            about.port,
            uptime / 86_400,
            about.threads,
        ));
    }
    if wanted("clients") {
        sections.push(format!(
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n",
            about.connected_clients, about.maxclients
        ));
    }
    if wanted("memory") {
        sections.push(format!(
            "# Memory\r\nused_memory:{}\r\nmaxmemory:{}\r\nmaxmemory_policy:noeviction\r\n",
            c.store.used_memory(),
            about.maxmemory
        ));
    }
    if wanted("stats") {
        sections.push(format!(
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n",
            about.total_connections, about.total_commands
        ));
    }
    if wanted("keyspace") {
        let mut s = "# Keyspace\r\n".to_string();
        for db in 0..super::DATABASES {
            let (keys, expires) = c.store.counts(db);
            if keys > 0 {
                s.push_str(&format!("db{db}:keys={keys},expires={expires},avg_ttl=0\r\n"));
            }
        }
        sections.push(s);
    }
    Ok(bulk(Bytes::from(sections.join("\r\n"))))
}

pub(super) fn config(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    if is(&a[1], "SET") {
        // Nothing is settable at run time.
        return match a.get(2) {
            Some(name) if a.len().is_multiple_of(2) => Err(Fail(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                shown(name, 128)
            ))),
            Some(_) => fail(SYNTAX),
            None => Err(wrong_arity("config|set")),
        };
    }
    if is(&a[1], "RESETSTAT") {
        return Ok(ok());
    }
    if !is(&a[1], "GET") {
        return Err(unknown_subcommand(a));
    }
    if a.len() < 3 {
        return Err(wrong_arity("config|get"));
    }
    let about = c.about;
    let params: [(&str, String); 10] = [
        ("appendonly", "no".into()),
        ("bind", "".into()),
        ("databases", super::DATABASES.to_string()),
        ("maxclients", about.maxclients.to_string()),
        ("maxmemory", about.maxmemory.to_string()),
        ("maxmemory-policy", "noeviction".into()),
        ("port", about.port.to_string()),
        ("proto-max-bulk-len", (512u64 << 20).to_string()),
        ("save", "".into()),
        ("timeout", "0".into()),
    ];
    let mut items = Vec::new();
    for (name, value) in &params {
        if a[2..].iter().any(|p| glob_match(p, name.as_bytes(), true)) {
            items.push(bulk_str(name));
            items.push(bulk_str(value));
        }
    }
    Ok(array(items))
}

pub(super) fn command(_: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let Some(sub) = a.get(1) else {
        // The full table is not served: clients ask it for hints only.
        return Ok(array(vec![]));
    };
    if is(sub, "COUNT") {
        if a.len() != 2 {
            return Err(wrong_arity("command|count"));
        }
        return Ok(integer(count() as i64));
    }
    if is(sub, "DOCS") {
        return Ok(array(vec![]));
    }
    if is(sub, "INFO") {
        let info = a[2..].iter().map(|name| match lookup(name) {
            None => nil(),
            Some(cmd) => {
                let mut flags = Vec::new();
                if cmd.flags & WRITE != 0 {
                    flags.push(simple("write"));
                }
                if cmd.flags & DENYOOM != 0 {
                    flags.push(simple("denyoom"));
                }
                let keyed = i64::from(!matches!(cmd.name, "ping" | "echo" | "select" | "info"));
                array(vec![
                    bulk_str(cmd.name),
                    integer(cmd.arity.into()),
                    array(flags),
                    integer(keyed),
                    integer(keyed),
                    integer(keyed),
                ])
            }
        });
        return Ok(array(info.collect()));
    }
    Err(unknown_subcommand(a))
}

pub(super) fn client(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let sub = &a[1];
    if is(sub, "SETNAME") {
        if a.len() != 3 {
            return Err(wrong_arity("client|setname"));
        }
        if a[2].iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
            return fail("ERR Client names cannot contain spaces, newlines or special characters.");
        }
        c.conn.name = (!a[2].is_empty()).then(|| a[2].clone());
        return Ok(ok());
    }
    if is(sub, "GETNAME") {
        if a.len() != 2 {
            return Err(wrong_arity("client|getname"));
        }
        return Ok(c.conn.name.clone().map_or_else(nil, bulk));
    }
    if is(sub, "ID") {
        if a.len() != 2 {
            return Err(wrong_arity("client|id"));
        }
        return Ok(integer(c.conn.id as i64));
    }
    Err(unknown_subcommand(a))
}
