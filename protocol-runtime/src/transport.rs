//! Transports: TCP, Unix domain sockets, TLS over either, and an in-memory
//! duplex for tests. One [`Stream`] type carries all of them, so code above it
//! never changes with the transport; TLS is chosen by configuration.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Where to connect or listen: `host:port` or `unix:/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Tcp(String),
    Unix(PathBuf),
}

impl FromStr for Address {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("`unix:` needs a path, as in `unix:/tmp/app.sock`".into());
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Address::Tcp(s.to_string()))
            }
            _ => Err(format!(
                "`{s}` is not an address: write `host:port` (e.g. `127.0.0.1:11211`) or `unix:/path`"
            )),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(a) => f.write_str(a),
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A connected byte stream of any transport.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Memory(DuplexStream),
    TlsClient(Box<tokio_rustls::client::TlsStream<Stream>>),
    TlsServer(Box<tokio_rustls::server::TlsStream<Stream>>),
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Tcp(_) => "Stream::Tcp",
            Stream::Unix(_) => "Stream::Unix",
            Stream::Memory(_) => "Stream::Memory",
            Stream::TlsClient(_) => "Stream::TlsClient",
            Stream::TlsServer(_) => "Stream::TlsServer",
        })
    }
}

impl Stream {
    /// Connects to `addr`, over TLS when `tls` is given.
    pub async fn connect(addr: &Address, tls: Option<&TlsClient>) -> io::Result<Stream> {
        let plain = match addr {
            Address::Tcp(a) => {
                let s = TcpStream::connect(a.as_str()).await?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
            Address::Unix(p) => Stream::Unix(UnixStream::connect(p).await?),
        };
        match tls {
            None => Ok(plain),
            Some(tls) => {
                let name = tls.server_name_for(addr)?;
                let s = tls.connector.connect(name, plain).await?;
                Ok(Stream::TlsClient(Box::new(s)))
            }
        }
    }

    /// Two connected in-memory streams: the "dummy transport" for tests.
    pub fn memory_pair(buffer: usize) -> (Stream, Stream) {
        let (a, b) = tokio::io::duplex(buffer);
        (Stream::Memory(a), Stream::Memory(b))
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Tcp($s) => $e,
            Stream::Unix($s) => $e,
            Stream::Memory($s) => $e,
            Stream::TlsClient($s) => $e,
            Stream::TlsServer($s) => $e,
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Unix(s) => s.is_write_vectored(),
            Stream::Memory(s) => s.is_write_vectored(),
            Stream::TlsClient(s) => s.is_write_vectored(),
            Stream::TlsServer(s) => s.is_write_vectored(),
        }
    }
}

/// TLS settings of a client.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
    server_name: Option<String>,
}

impl TlsClient {
    /// Trusts the certificates in a PEM file (a private CA or a self-signed
    /// server certificate).
    pub fn from_ca_pem(pem: &[u8]) -> io::Result<Self> {
        let mut roots = RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut &pem[..]) {
            roots.add(cert?).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad CA certificate: {e}"))
            })?;
        }
        if roots.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no certificate in the CA file",
            ));
        }
        Ok(Self::from_config(
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        ))
    }

    pub fn from_config(config: ClientConfig) -> Self {
        TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
            server_name: None,
        }
    }

    /// The name to verify the server's certificate against (by default the
    /// host part of the address).
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    fn server_name_for(&self, addr: &Address) -> io::Result<ServerName<'static>> {
        let name = match (&self.server_name, addr) {
            (Some(n), _) => n.clone(),
            (None, Address::Tcp(a)) => {
                let host = a.rsplit_once(':').map_or(a.as_str(), |(h, _)| h);
                host.trim_start_matches('[').trim_end_matches(']').to_string()
            }
            (None, Address::Unix(_)) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "TLS over a Unix socket needs a server name",
                ))
            }
        };
        ServerName::try_from(name.clone()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{name}` is not a valid TLS server name"),
            )
        })
    }
}

/// TLS settings of a server.
#[derive(Clone)]
pub struct TlsServer {
    acceptor: TlsAcceptor,
}

impl TlsServer {
    /// A server certificate chain and its private key, both PEM.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> io::Result<Self> {
        let certs: Vec<CertificateDer<'static>> =
            rustls_pemfile::certs(&mut &cert_chain[..]).collect::<Result<_, _>>()?;
        let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key[..])?
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no private key in the key file"))?;
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        Ok(TlsServer {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub async fn accept(&self, stream: Stream) -> io::Result<Stream> {
        Ok(Stream::TlsServer(Box::new(self.acceptor.accept(stream).await?)))
    }
}

/// A bound listener of any transport.
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Binds `addr`. A stale Unix socket file at the path is replaced.
    pub async fn bind(addr: &Address) -> io::Result<Listener> {
        match addr {
            Address::Tcp(a) => Ok(Listener::Tcp(TcpListener::bind(a.as_str()).await?)),
            Address::Unix(p) => {
                if p.exists() && UnixStream::connect(p).await.is_err() {
                    std::fs::remove_file(p)?;
                }
                Ok(Listener::Unix(UnixListener::bind(p)?, p.clone()))
            }
        }
    }

    /// The address actually bound (with the port the system chose for `:0`).
    pub fn local_addr(&self) -> io::Result<Address> {
        match self {
            Listener::Tcp(l) => Ok(Address::Tcp(l.local_addr()?.to_string())),
            Listener::Unix(_, p) => Ok(Address::Unix(p.clone())),
        }
    }

    pub async fn accept(&self) -> io::Result<(Stream, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok((Stream::Tcp(s), peer.to_string()))
            }
            Listener::Unix(l, p) => {
                let (s, _) = l.accept().await?;
                Ok((Stream::Unix(s), format!("unix:{}", p.display())))
            }
        }
    }
}
