//! In-process reference servers: each on 127.0.0.1:0 with a runtime on a
//! thread of its own.

use super::*;

/// The shutdown future an in-process server gets.
pub type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A reference server from `servers` on 127.0.0.1:0, served by a runtime on
/// a thread of its own. Dropping it shuts it down.
pub struct InProcess {
    pub port: u16,
    pub stats: Arc<ServerStats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: mpsc::Receiver<io::Result<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl InProcess {
    /// Starts `serve` (e.g. `servers::echo::serve`).
    pub fn start<S, F>(serve: S) -> Result<InProcess, Failed>
    where
        S: FnOnce(Listener, ServerConfig, Arc<ServerStats>, ShutdownSignal) -> F + Send + 'static,
        F: Future<Output = io::Result<()>>,
    {
        let stats = Arc::new(ServerStats::default());
        let server_stats = Arc::clone(&stats);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready) = mpsc::channel::<Result<u16, String>>();
        let (done_tx, done) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("in-process server".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("no runtime: {e}")));
                        return;
                    }
                };
                rt.block_on(async move {
                    let bound = async {
                        let addr: Address = "127.0.0.1:0".parse()?;
                        let listener = Listener::bind(&addr).await?;
                        let port = match listener.local_addr()? {
                            Address::Tcp(a) => a.parse::<SocketAddr>()?.port(),
                            other => return Err(format!("bound {other}, not a TCP address").into()),
                        };
                        Ok::<_, Box<dyn std::error::Error>>((listener, port))
                    };
                    let (listener, port) = match bound.await {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("cannot listen: {e}")));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(port));
                    let config = ServerConfig {
                        shutdown_grace: Duration::from_secs(2),
                        ..ServerConfig::default()
                    };
                    let shutdown: ShutdownSignal = Box::pin(async move {
                        let _ = stopped.await;
                    });
                    let _ = done_tx.send(serve(listener, config, server_stats, shutdown).await);
                });
            })?;
        let port = match ready.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(port)) => port,
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err("the in-process server did not start within 10 s".into()),
        };
        Ok(InProcess {
            port,
            stats,
            stop: Some(stop),
            done,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Shuts the server down and checks that it stopped cleanly, within a
    /// bound, having accepted `connections` connections and ended every
    /// one of them without an error.
    pub fn stop_expecting(mut self, connections: u64) -> Outcome {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.done.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("the server's serve() failed: {e}").into()),
            Err(_) => return Err("the server did not stop within 10 s of its shutdown signal".into()),
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let s = &self.stats;
        let counts = [
            ("accepted", s.accepted.load(Relaxed), connections),
            ("rejected", s.rejected.load(Relaxed), 0),
            ("accept_errors", s.accept_errors.load(Relaxed), 0),
            ("handler_errors", s.handler_errors.load(Relaxed), 0),
            ("aborted", s.aborted.load(Relaxed), 0),
        ];
        for (name, got, want) in counts {
            ensure!(
                got == want,
                "server stats: {name} = {got}, expected {want} ({s:?})"
            );
        }
        Ok(())
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            // A server that does not stop is left behind rather than hang
            // the trial; the failure is reported by `stop_expecting`.
            if self.done.recv_timeout(Duration::from_secs(5)).is_ok() {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}
