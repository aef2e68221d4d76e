//! Plays one role of each case against a live peer: connects, writes the
//! played side's messages (split as asked), and checks what comes back.

pub mod matching;
pub mod split;
pub mod sweep;
pub mod tap;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol_runtime::connection::{Activity, Connection};
use protocol_runtime::error::Excerpt;
use protocol_runtime::layout::Role;
use protocol_runtime::session::Event;
use protocol_runtime::transport::{Address, Stream, TlsClient};
use protocol_runtime::{Error, Message};

use crate::transcript::{Action, CheckedCase, Suite, Template};
use matching::Captures;
pub use split::Split;
use split::{chunks, cut_at, Rng};
pub use sweep::Recording;
use tap::{ByteLog, Tap};

/// How to run.
#[derive(Clone)]
pub struct RunConfig {
    pub target: Address,
    pub tls: Option<TlsClient>,
    pub split: Split,
    /// Replaces `{prefix}` in transcripts, so keys never collide between runs.
    pub prefix: String,
    /// Wait for each expectation at most this long (unless `within` says).
    pub step_timeout: Duration,
    pub connect_timeout: Duration,
}

/// Why a case failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    /// The transcript line of the failing step.
    pub line: usize,
    pub step: String,
    /// The spec state the runner's side was in.
    pub state: String,
    pub expected: String,
    pub got: String,
    /// Hex and text of the bytes that came, where there were any.
    pub bytes: Option<String>,
    /// A command that replays just this case with the smallest failing split
    /// found (set by a sweep or a shrunk random run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed(Failure),
    /// The target could not be reached.
    Unreachable {
        error: String,
    },
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseReport {
    pub suite: String,
    pub spec: String,
    pub case: String,
    pub line: usize,
    pub outcome: Outcome,
    pub duration: Duration,
    pub log: ByteLog,
    /// The spec's rules this case exercised.
    pub coverage: Vec<protocol_runtime::session::Covered>,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed)
    }
}

/// Runs one case on a connection of its own.
pub async fn run_case(suite: &Suite, case: &CheckedCase, cfg: &RunConfig) -> CaseReport {
    run_case_recording(suite, case, cfg, &mut Recording::default()).await
}

/// [`run_case`], noting in `rec` the writes made and where they were cut.
pub async fn run_case_recording(
    suite: &Suite,
    case: &CheckedCase,
    cfg: &RunConfig,
    rec: &mut Recording,
) -> CaseReport {
    let started = Instant::now();
    let report = |outcome| unplayed(suite, case, outcome, started);
    let stream = match tokio::time::timeout(
        cfg.connect_timeout,
        Stream::connect(&cfg.target, cfg.tls.as_ref()),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return report(Outcome::Unreachable {
                error: format!("{}: {e}", cfg.target),
            })
        }
        Err(_) => {
            return report(Outcome::Unreachable {
                error: format!("{}: no connection within {:?}", cfg.target, cfg.connect_timeout),
            })
        }
    };
    play_case(suite, case, cfg, stream, Role::Client, rec, started).await
}

/// Plays `role`'s side of one case on a connection already open (`run`
/// connects to a server; `serve` accepts a client).
#[allow(clippy::too_many_arguments)]
pub async fn play_case(
    suite: &Suite,
    case: &CheckedCase,
    cfg: &RunConfig,
    stream: Stream,
    role: Role,
    rec: &mut Recording,
    started: Instant,
) -> CaseReport {
    let (tapped, log) = Tap::new(stream);
    let mut player = Player {
        conn: Connection::new(tapped, suite.spec.clone(), role),
        captures: Captures::new(),
        rng: Rng::new(match cfg.split {
            Split::Random(seed) => seed ^ (case.line as u64),
            _ => 0,
        }),
        cfg,
        case,
        // Only requests run ahead of their answers; a server's replies wait.
        pipelined: suite.spec.pipelined && role == Role::Client,
        rec: Recording {
            plan: rec.plan.take(),
            ..Recording::default()
        },
    };
    // The spec's state timeouts are for production; a test waits per step.
    player
        .conn
        .set_timeout(Some(case.timeout.unwrap_or(cfg.step_timeout)));
    let outcome = match player.play().await {
        Ok(()) => Outcome::Passed,
        Err(f) => Outcome::Failed(*f),
    };
    let log = snapshot(&log);
    *rec = std::mem::take(&mut player.rec);
    CaseReport {
        log,
        coverage: player.conn.session().coverage().to_vec(),
        ..unplayed(suite, case, outcome, started)
    }
}

/// The report of a case, before (or without) any byte exchanged.
fn unplayed(suite: &Suite, case: &CheckedCase, outcome: Outcome, started: Instant) -> CaseReport {
    CaseReport {
        suite: suite.path.display().to_string(),
        spec: suite.spec_name.clone(),
        case: case.name.clone(),
        line: case.line,
        outcome,
        duration: started.elapsed(),
        log: ByteLog::default(),
        coverage: Vec::new(),
    }
}

fn snapshot(log: &Arc<Mutex<ByteLog>>) -> ByteLog {
    log.lock().map(|l| l.clone()).unwrap_or_default()
}

struct Player<'a> {
    conn: Connection<Tap<Stream>>,
    captures: Captures,
    rng: Rng,
    cfg: &'a RunConfig,
    case: &'a CheckedCase,
    pipelined: bool,
    /// The writes made so far and their cuts.
    rec: Recording,
}

impl Player<'_> {
    async fn play(&mut self) -> Result<(), Box<Failure>> {
        let steps = &self.case.steps;
        let mut done = vec![false; steps.len()];
        let mut pending = BytesMut::new();
        for i in 0..steps.len() {
            if done[i] {
                continue;
            }
            done[i] = true;
            match &steps[i].action {
                Action::Send { .. } | Action::RawSend(_) => {
                    self.encode(i, &mut pending)?;
                    // Consecutive writes go out together only when coalescing.
                    if self.cfg.split != Split::Coalesce {
                        self.write(i, &mut pending).await?;
                    }
                }
                action => {
                    if self.cfg.split == Split::Coalesce {
                        // Everything that can be written before this answer
                        // must arrive goes now, in one write; a silence is
                        // observed before anything after it is sent.
                        if self.pipelined && !matches!(action, Action::ExpectSilence(_)) {
                            for j in i + 1..steps.len() {
                                if done[j] {
                                    continue;
                                }
                                match &steps[j].action {
                                    Action::Send { fields, .. } if !self.uses_unbound(fields) => {
                                        self.encode(j, &mut pending)?;
                                        done[j] = true;
                                    }
                                    Action::RawSend(_) => {
                                        self.encode(j, &mut pending)?;
                                        done[j] = true;
                                    }
                                    // A silence must be observed before what follows it is sent.
                                    Action::Send { .. }
                                    | Action::HalfClose
                                    | Action::Close
                                    | Action::ExpectSilence(_) => break,
                                    _ => {}
                                }
                            }
                        }
                        self.write(i, &mut pending).await?;
                    }
                    self.act(i, action).await?;
                }
            }
        }
        self.write(steps.len().saturating_sub(1), &mut pending).await
    }

    fn uses_unbound(&self, fields: &[Template]) -> bool {
        fields.iter().any(|t| match t {
            Template::Capture(name) => !self.captures.contains_key(name),
            Template::List(items) => self.uses_unbound(items),
            _ => false,
        })
    }

    fn fail(
        &self,
        i: usize,
        expected: impl Into<String>,
        got: impl Into<String>,
        bytes: Option<&[u8]>,
    ) -> Box<Failure> {
        let step = self.case.steps.get(i);
        Box::new(Failure {
            line: step.map_or(self.case.line, |s| s.line),
            step: step.map_or_else(String::new, |s| s.text.clone()),
            state: self.conn.session().state_name().to_string(),
            expected: expected.into(),
            got: got.into(),
            bytes: bytes
                .filter(|b| !b.is_empty())
                .map(|b| Excerpt::of(b).to_string()),
            reproduce: None,
        })
    }

    /// Appends step `i`'s bytes to `pending` (moving the session for messages).
    fn encode(&mut self, i: usize, pending: &mut BytesMut) -> Result<(), Box<Failure>> {
        match &self.case.steps[i].action {
            Action::Send { message, fields } => {
                let values = matching::instantiate(fields, &self.captures, &self.cfg.prefix)
                    .map_err(|e| self.fail(i, "a value to send", e, None))?;
                self.conn
                    .queue(&Message::new(*message, values))
                    .map_err(|e| self.fail(i, "a message the spec allows here", e.to_string(), None))?;
                pending.extend_from_slice(&self.conn.take_queued());
            }
            Action::RawSend(bytes) => {
                pending.extend_from_slice(&matching::prefix_bytes(bytes, &self.cfg.prefix))
            }
            _ => {}
        }
        Ok(())
    }

    async fn write(&mut self, i: usize, pending: &mut BytesMut) -> Result<(), Box<Failure>> {
        if pending.is_empty() {
            return Ok(());
        }
        let bytes = pending.split().freeze();
        let (sizes, pause) = match self.rec.cuts_for_next(self.cfg.split) {
            // Few pieces: a longer pause makes each one a read of its own.
            Some(offsets) => (cut_at(offsets, bytes.len()), sweep::CUT_PAUSE),
            None => (
                chunks(self.cfg.split, bytes.len(), &mut self.rng),
                Duration::from_micros(200),
            ),
        };
        self.rec.note(&bytes, &sizes);
        let several = sizes.len() > 1;
        let mut at = 0;
        for n in sizes {
            match self.conn.send_raw(&bytes[at..at + n]).await {
                Ok(()) => {}
                // The peer closed while we wrote (a daytime server answers and
                // closes at once): what it sent before is still buffered, and
                // the steps that follow judge it.
                Err(Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                    ) =>
                {
                    return Ok(());
                }
                Err(e) => return Err(self.fail(i, "to write the step's bytes", e.to_string(), None)),
            }
            at += n;
            if several {
                // Give the peer a chance to read each piece on its own.
                tokio::time::sleep(pause).await;
            }
        }
        Ok(())
    }

    fn timeout(&self, within: Option<Duration>) -> Duration {
        within.or(self.case.timeout).unwrap_or(self.cfg.step_timeout)
    }

    async fn act(&mut self, i: usize, action: &Action) -> Result<(), Box<Failure>> {
        let spec = self.conn.session().spec().clone();
        match action {
            Action::Expect { alternatives, within } => {
                let names: Vec<&str> = alternatives
                    .iter()
                    .map(|a| spec.messages[a.message].name.as_str())
                    .collect();
                let expected = names.join(" or ");
                loop {
                    let event = self.conn.recv_timeout(self.timeout(*within)).await;
                    return match event {
                        Ok(Event::Message(m)) => {
                            matching::matches(&spec, alternatives, &m, &mut self.captures, &self.cfg.prefix)
                                .map_err(|why| {
                                    let mut wire = BytesMut::new();
                                    let _ = protocol_runtime::engine::encode_in(
                                        &spec.types,
                                        spec.max_depth,
                                        &spec.messages[m.id].layout,
                                        &m.fields,
                                        &mut wire,
                                    );
                                    self.fail(i, expected.clone(), why, Some(&wire))
                                })
                        }
                        Ok(Event::Ignored { .. }) => continue,
                        Ok(Event::Closed) => {
                            Err(self.fail(i, expected.clone(), "the peer closed the connection", None))
                        }
                        Ok(other) => Err(self.fail(i, expected.clone(), format!("{other:?}"), None)),
                        Err(Error::Peer(v)) => {
                            let mut f = self.fail(
                                i,
                                format!("{expected} ({})", v.expected),
                                format!("bytes the spec does not allow at byte {}", v.offset),
                                None,
                            );
                            f.bytes = Some(v.got.to_string());
                            Err(f)
                        }
                        Err(e @ Error::Timeout { .. }) => {
                            let buffered = self.conn.buffered().to_vec();
                            Err(self.fail(i, expected.clone(), e.to_string(), Some(&buffered)))
                        }
                        Err(e) => {
                            let buffered = self.conn.buffered().to_vec();
                            Err(self.fail(i, expected.clone(), e.to_string(), Some(&buffered)))
                        }
                    };
                }
            }
            Action::RawExpect { bytes: want, within } => {
                let want = matching::prefix_bytes(want, &self.cfg.prefix);
                let timeout = self.timeout(*within);
                let got =
                    self.conn.recv_raw(want.len(), timeout).await.map_err(|e| {
                        self.fail(i, format!("\"{}\"", want.escape_ascii()), e.to_string(), None)
                    })?;
                if got[..] == want[..] {
                    Ok(())
                } else {
                    let what = if got.len() < want.len() {
                        format!(
                            "{} of {} bytes before the peer stopped (waited at most {timeout:?})",
                            got.len(),
                            want.len()
                        )
                    } else {
                        "different bytes".into()
                    };
                    Err(self.fail(i, format!("\"{}\"", want.escape_ascii()), what, Some(&got)))
                }
            }
            Action::ExpectSilence(d) => match self.conn.peek_activity(*d).await {
                Activity::Silent => Ok(()),
                other => Err(self.activity_failure(i, "silence", other)),
            },
            Action::ExpectClose(within) | Action::ExpectHalfClose(within) => {
                match self.conn.peek_activity(self.timeout(*within)).await {
                    // A peer that closes with our input unread makes its
                    // kernel reset the connection: that too ends it.
                    Activity::Closed | Activity::Reset => {
                        // Let the session see the end of stream, so the
                        // spec's close rule counts as exercised.
                        let _ = self.conn.recv_timeout(Duration::ZERO).await;
                        Ok(())
                    }
                    other => Err(self.activity_failure(i, "the peer to close", other)),
                }
            }
            Action::ExpectReset(within) => match self.conn.peek_activity(self.timeout(*within)).await {
                Activity::Reset => Ok(()),
                other => Err(self.activity_failure(i, "the peer to reset the connection", other)),
            },
            Action::HalfClose => self
                .conn
                .shutdown_write()
                .await
                .map_err(|e| self.fail(i, "to half-close", e.to_string(), None)),
            Action::Close => {
                // Counts the spec's close rule as exercised when the model is
                // where it allows one; raw steps may have left the model
                // behind, so a refusal is not a failure. The connection
                // closes when the case ends.
                let _ = self.conn.note_close();
                Ok(())
            }
            Action::Send { .. } | Action::RawSend(_) => Ok(()),
        }
    }

    fn activity_failure(&self, i: usize, expected: &str, got: Activity) -> Box<Failure> {
        let buffered = self.conn.buffered().to_vec();
        let what = match got {
            Activity::Bytes(_) => "bytes".to_string(),
            Activity::Closed => "the connection closed".to_string(),
            Activity::Reset => "a reset".to_string(),
            Activity::Silent => "nothing (the connection stayed open)".to_string(),
            Activity::Failed(e) => format!("an error: {e}"),
        };
        self.fail(i, expected, what, Some(&buffered))
    }
}
