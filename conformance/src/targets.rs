//! The built-in targets: the project's reference server for a spec, started
//! in-process on an ephemeral loopback port, so `conformance run` works on
//! any machine with no server installed.

use protocol_runtime::server::ServerConfig;
use protocol_runtime::transport::{Address, Listener};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A reference server running in this process.
pub struct BuiltIn {
    pub address: Address,
    pub name: &'static str,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl BuiltIn {
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// The reference server that answers a spec, if there is one.
pub fn server_for(spec: &str) -> Option<&'static str> {
    Some(match spec {
        "daytime" => "daytime-server",
        "dns" => "dns-server",
        "echo" => "echo-server",
        "greeting" => "greeting-server",
        "memcached" | "memcached_get" => "memcached-server",
        "redis" => "resp-server",
        "modbus" => "modbus-server",
        _ => return None,
    })
}

/// The dns suite's hosts file, which its peer (dnsmasq) serves with TTL 3600
/// and `--cname=www.test,alpha.test`: what the built-in `dns-server` serves.
const DNS_HOSTS: &str = include_str!("../suites/dns/hosts");

/// Starts the reference server for `spec` on `127.0.0.1:0`.
pub async fn start(spec: &str) -> std::io::Result<Option<BuiltIn>> {
    let Some(name) = server_for(spec) else {
        return Ok(None);
    };
    let listener = Listener::bind(&Address::Tcp("127.0.0.1:0".into())).await?;
    let address = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    };
    let stats = servers::cli::stats();
    let config = ServerConfig::default();
    let task = match name {
        "daytime-server" => tokio::spawn(servers::daytime::serve(listener, config, stats, shutdown)),
        "echo-server" => tokio::spawn(servers::echo::serve(listener, config, stats, shutdown)),
        "greeting-server" => tokio::spawn(servers::greeting::serve(listener, config, stats, shutdown)),
        "memcached-server" => tokio::spawn(servers::memcached::serve(
            listener,
            servers::memcached::MemcachedConfig {
                server: config,
                ..Default::default()
            },
            stats,
            shutdown,
        )),
        "dns-server" => {
            let zone = servers::dns::suite_zone(DNS_HOSTS).map_err(std::io::Error::other)?;
            tokio::spawn(servers::dns::serve(
                listener,
                servers::dns::DnsConfig {
                    server: config,
                    zone: std::sync::Arc::new(zone),
                },
                stats,
                shutdown,
            ))
        }
        "resp-server" => tokio::spawn(servers::resp::serve(
            listener,
            servers::resp::RespConfig {
                server: config,
                ..Default::default()
            },
            stats,
            shutdown,
        )),
        // Seeded with the demo data the suite's peer serves.
        "modbus-server" => tokio::spawn(servers::modbus::serve(
            listener,
            servers::modbus::ModbusConfig {
                server: config,
                ..servers::modbus::ModbusConfig::seeded()
            },
            stats,
            shutdown,
        )),
        _ => return Ok(None),
    };
    Ok(Some(BuiltIn {
        address,
        name,
        stop: Some(tx),
        task,
    }))
}
