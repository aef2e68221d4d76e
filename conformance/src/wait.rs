//! `conformance run --wait`: waiting for a target that is still starting,
//! such as a server launched in the background just before the run.

use std::time::{Duration, Instant};

use protocol_runtime::transport::{Address, Stream};

/// The pause between two connection attempts.
const RETRY: Duration = Duration::from_millis(100);

/// Tries to connect to `target` until a connection is accepted or `limit`
/// has passed. The probing connection is closed at once, with nothing sent
/// (and no TLS handshake: only whether something listens is in question).
/// On timeout, returns the error of the last attempt.
pub async fn until_reachable(target: &Address, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        // A connect to a host that drops packets could hang far past the
        // limit: each attempt gets what is left (and at least one pause).
        let left = deadline.saturating_duration_since(Instant::now()).max(RETRY);
        let error = match tokio::time::timeout(left, Stream::connect(target, None)).await {
            Ok(Ok(_probe)) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {}", show(left)),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(error);
        }
        // The last attempt falls on the deadline, so a limit is waited out.
        tokio::time::sleep(RETRY.min(deadline - now)).await;
    }
}

/// A duration as `--wait` takes it: `30s`, `1500ms`.
pub fn show(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
