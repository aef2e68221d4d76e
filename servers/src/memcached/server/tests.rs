//! The handler over an in-memory stream: raw bytes in, exact bytes out.

use std::sync::Arc;
use std::time::Duration;

use protocol_runtime::transport::Stream;
use protocol_runtime::Error as RtError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use super::{handle, Shared};
use crate::memcached::{ManualClock, MemcachedConfig, VERSION};
use crate::specs::memcached::dynamic::Server;

const T0: u64 = 1_800_000_000;
const WAIT: Duration = Duration::from_secs(5);

struct Peer {
    stream: Stream,
    task: JoinHandle<Result<(), RtError>>,
    clock: Arc<ManualClock>,
    shared: Arc<Shared>,
}

fn start() -> Peer {
    start_with(MemcachedConfig::default())
}

fn start_with(config: MemcachedConfig) -> Peer {
    let clock = Arc::new(ManualClock::new(T0));
    let shared = Arc::new(Shared::new(&config, Arc::clone(&clock) as _, None));
    let (client, server) = Stream::memory_pair(64 * 1024);
    let task = tokio::spawn(handle(Arc::clone(&shared), Server::from_stream(server)));
    Peer {
        stream: client,
        task,
        clock,
        shared,
    }
}

impl Peer {
    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads exactly `want.len()` bytes and compares them with `want`.
    async fn expect(&mut self, want: &[u8]) {
        let mut got = vec![0; want.len()];
        tokio::time::timeout(WAIT, self.stream.read_exact(&mut got))
            .await
            .expect("the reply came in time")
            .expect("the reply came whole");
        assert_eq!(got.escape_ascii().to_string(), want.escape_ascii().to_string());
    }

    async fn exchange(&mut self, request: &[u8], want: &[u8]) {
        self.send(request).await;
        self.expect(want).await;
    }

    /// Reads until `END\r\n` ends what came.
    async fn read_to_end_line(&mut self) -> String {
        let mut got = Vec::new();
        while !got.ends_with(b"END\r\n") {
            let mut chunk = [0; 4096];
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
                .await
                .expect("the reply came in time")
                .unwrap();
            assert!(n > 0, "closed after {:?}", got.escape_ascii().to_string());
            got.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8(got).unwrap()
    }

    async fn expect_closed(mut self) -> Result<(), RtError> {
        let mut rest = Vec::new();
        tokio::time::timeout(WAIT, self.stream.read_to_end(&mut rest))
            .await
            .expect("closed in time")
            .unwrap();
        assert_eq!(
            rest.escape_ascii().to_string(),
            "",
            "nothing after the last reply"
        );
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the handler ended")
            .unwrap()
    }
}

#[tokio::test]
async fn set_get_round_trip() {
    let mut p = start();
    p.exchange(b"set k 5 0 5\r\nhello\r\n", b"STORED\r\n").await;
    p.exchange(b"get k\r\n", b"VALUE k 5 5\r\nhello\r\nEND\r\n").await;
    p.exchange(b"gets k\r\n", b"VALUE k 5 5 1\r\nhello\r\nEND\r\n")
        .await;
    p.exchange(
        b"get k missing k\r\n",
        b"VALUE k 5 5\r\nhello\r\nVALUE k 5 5\r\nhello\r\nEND\r\n",
    )
    .await;
    p.exchange(b"get missing\r\n", b"END\r\n").await;
    p.exchange(b"version\r\n", format!("VERSION {VERSION}\r\n").as_bytes())
        .await;
}

#[tokio::test]
async fn values_are_bytes_not_lines() {
    let mut p = start();
    let mut data = b"\r\nEND\r\n".to_vec();
    data.extend(0..=255u8);
    let mut request = format!("set bin 0 0 {}\r\n", data.len()).into_bytes();
    request.extend_from_slice(&data);
    request.extend_from_slice(b"\r\n");
    p.exchange(&request, b"STORED\r\n").await;
    let mut want = format!("VALUE bin 0 {}\r\n", data.len()).into_bytes();
    want.extend_from_slice(&data);
    want.extend_from_slice(b"\r\nEND\r\n");
    p.exchange(b"get bin\r\n", &want).await;
    p.exchange(
        b"set empty 0 0 0\r\n\r\nget empty\r\n",
        b"STORED\r\nVALUE empty 0 0\r\n\r\nEND\r\n",
    )
    .await;
}

#[tokio::test]
async fn noreply_requests_get_no_reply() {
    let mut p = start();
    p.send(
        b"set k 0 0 1 noreply\r\na\r\n\
          add k 0 0 1 noreply\r\nb\r\n\
          append k 0 0 1 noreply\r\nc\r\n\
          cas k 0 0 1 12345 noreply\r\nd\r\n\
          incr k 1 noreply\r\n\
          delete nope noreply\r\n\
          touch k 0 noreply\r\n\
          flush_all 100 noreply\r\n\
          verbosity 1 noreply\r\n\
          set n 0 0 1 noreply\r\n7\r\n\
          incr n 1 noreply\r\n\
          get k n\r\n",
    )
    .await;
    p.expect(b"VALUE k 0 2\r\nac\r\nVALUE n 0 1\r\n8\r\nEND\r\n")
        .await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let mut p = start();
    p.exchange(
        b"set a 0 0 1\r\n1\r\nget a\r\nincr a 41\r\ngets a\r\nbogus\r\nappend a 0 0 1\r\nx\r\n\
          get a b\r\ndelete a\r\ndelete a\r\nadd a 3 0 2\r\nhi\r\ntouch a 10\r\ngat 0 a\r\n",
        b"STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n42\r\nVALUE a 0 2 2\r\n42\r\nEND\r\nERROR\r\nSTORED\r\n\
          VALUE a 0 3\r\n42x\r\nEND\r\nDELETED\r\nNOT_FOUND\r\nSTORED\r\nTOUCHED\r\nVALUE a 3 2\r\nhi\r\nEND\r\n",
    )
    .await;
}

#[tokio::test]
async fn a_long_pipeline_is_answered_as_it_goes() {
    let mut p = start();
    let value = vec![b'v'; 10_000];
    let mut request = b"set big 0 0 10000\r\n".to_vec();
    request.extend_from_slice(&value);
    request.extend_from_slice(b"\r\n");
    p.exchange(&request, b"STORED\r\n").await;
    // 2000 gets in one write (18 KB) draw 20 MB of replies: the server must
    // write them as it goes, not hold them all until the requests run out.
    p.send(&b"get big\r\n".repeat(2000)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let served = p.shared.store().counters().cmd_get;
    assert!(
        served < 100,
        "{served} gets carried out while nobody read the replies"
    );
    let mut reply = b"VALUE big 0 10000\r\n".to_vec();
    reply.extend_from_slice(&value);
    reply.extend_from_slice(b"\r\nEND\r\n");
    p.expect(&reply.repeat(2000)).await;
    assert_eq!(p.shared.store().counters().cmd_get, 2000);
}

#[tokio::test]
async fn replies_go_out_while_the_next_request_is_incomplete() {
    let mut p = start();
    p.send(b"get a\r\nget b").await;
    p.expect(b"END\r\n").await;
    p.send(b"\r\nset k 0 0 5\r\nhel").await;
    p.expect(b"END\r\n").await;
    p.exchange(b"lo\r\n", b"STORED\r\n").await;
}

#[tokio::test]
async fn unknown_commands_draw_errors_and_the_connection_carries_on() {
    let mut p = start();
    p.exchange(b"bogus\r\n", b"ERROR\r\n").await;
    p.exchange(b"\r\n", b"ERROR\r\n").await;
    p.exchange(b"GET k\r\n", b"ERROR\r\n").await;
    p.exchange(b"get\r\n", b"ERROR\r\n").await;
    p.exchange(
        b"incr k abc\r\n",
        b"CLIENT_ERROR invalid numeric delta argument\r\n",
    )
    .await;
    let key = "k".repeat(251);
    p.exchange(
        format!("get {key}\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\n",
    )
    .await;
    // A storage command with a bad line: its data line is then a command.
    p.exchange(
        format!("set {key} 0 0 1\r\nz\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    )
    .await;
    let key = "k".repeat(250);
    p.exchange(format!("set {key} 0 0 1\r\nz\r\n").as_bytes(), b"STORED\r\n")
        .await;
    p.exchange(
        b"set n 0 0 2\r\nxy\r\nincr n 1\r\n",
        b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    )
    .await;
    p.exchange(b"stats nonsense\r\n", b"ERROR\r\n").await;
    p.exchange(b"get n\r\n", b"VALUE n 0 2\r\nxy\r\nEND\r\n").await;
}

#[tokio::test]
async fn oversize_data_is_refused_and_skipped() {
    let mut p = start();
    p.exchange(b"set k 0 0 3\r\nold\r\n", b"STORED\r\n").await;
    // Over the spec's 1 MiB: the runtime skips the data.
    let n = 1024 * 1024 + 1;
    let mut request = format!("set k 0 0 {n}\r\n").into_bytes();
    request.resize(request.len() + n, b'x');
    request.extend_from_slice(b"\r\nget k\r\n");
    p.send(&request).await;
    p.expect(b"SERVER_ERROR object too large for cache\r\nEND\r\n")
        .await;
    // The same with noreply: no reply at all.
    let mut request = format!("set k 0 0 {n} noreply\r\n").into_bytes();
    request.resize(request.len() + n, b'y');
    request.extend_from_slice(b"\r\nset j 0 0 2\r\nok\r\nget j\r\n");
    p.send(&request).await;
    p.expect(b"STORED\r\nVALUE j 0 2\r\nok\r\nEND\r\n").await;
}

#[tokio::test]
async fn the_configured_item_size_limit_applies() {
    let mut p = start_with(MemcachedConfig {
        max_item_size: 100,
        ..MemcachedConfig::default()
    });
    let request = |n: usize| {
        let mut r = format!("set k 0 0 {n}\r\n").into_bytes();
        r.resize(r.len() + n, b'x');
        r.extend_from_slice(b"\r\n");
        r
    };
    p.exchange(&request(100), b"STORED\r\n").await;
    p.exchange(&request(101), b"SERVER_ERROR object too large for cache\r\n")
        .await;
    p.exchange(b"get k\r\n", b"END\r\n").await;
    p.exchange(
        b"set k 0 0 1\r\nz\r\nget k\r\n",
        b"STORED\r\nVALUE k 0 1\r\nz\r\nEND\r\n",
    )
    .await;
}

#[tokio::test]
async fn items_expire_on_the_injected_clock() {
    let mut p = start();
    p.exchange(
        b"set k 0 10 1\r\nz\r\nget k\r\n",
        b"STORED\r\nVALUE k 0 1\r\nz\r\nEND\r\n",
    )
    .await;
    p.clock.advance(9);
    p.exchange(b"get k\r\n", b"VALUE k 0 1\r\nz\r\nEND\r\n").await;
    p.clock.advance(1);
    p.exchange(b"get k\r\n", b"END\r\n").await;
    p.exchange(b"set k 0 0 1\r\nz\r\nflush_all 5\r\n", b"STORED\r\nOK\r\n")
        .await;
    p.clock.advance(5);
    p.exchange(b"get k\r\n", b"END\r\n").await;
}

#[tokio::test]
async fn stats_reports_memcached_counters() {
    let mut p = start();
    p.exchange(
        b"set k 0 0 1\r\nz\r\nget k nope\r\n",
        b"STORED\r\nVALUE k 0 1\r\nz\r\nEND\r\n",
    )
    .await;
    p.send(b"stats\r\n").await;
    let stats = p.read_to_end_line().await;
    for line in [
        "STAT pid ",
        "STAT uptime 0\r\n",
        &format!("STAT time {T0}\r\n"),
        &format!("STAT version {VERSION}\r\n"),
        "STAT curr_connections 1\r\n",
        "STAT cmd_get 2\r\n",
        "STAT cmd_set 1\r\n",
        "STAT get_hits 1\r\n",
        "STAT get_misses 1\r\n",
        "STAT curr_items 1\r\n",
        "STAT total_items 1\r\n",
        "STAT bytes 61\r\n",
        "STAT evictions 0\r\n",
        "STAT limit_maxbytes 67108864\r\n",
    ] {
        assert!(stats.contains(line), "{line:?} in {stats}");
    }
    assert!(stats.starts_with("STAT pid ") && stats.ends_with("\r\nEND\r\n"));
    p.exchange(b"stats reset\r\n", b"RESET\r\n").await;
    p.send(b"stats\r\n").await;
    assert!(p.read_to_end_line().await.contains("STAT cmd_get 0\r\n"));
    p.send(b"stats settings\r\n").await;
    assert!(p
        .read_to_end_line()
        .await
        .contains("STAT item_size_max 1048576\r\n"));
}

#[tokio::test]
async fn quit_closes_after_the_replies_before_it() {
    let mut p = start();
    p.send(b"set a 0 0 1\r\nz\r\nget a\r\nquit\r\nget a\r\n").await;
    p.expect(b"STORED\r\nVALUE a 0 1\r\nz\r\nEND\r\n").await;
    p.expect_closed().await.unwrap();
}

#[tokio::test]
async fn an_http_request_line_closes() {
    let mut p = start();
    p.send(b"GET / HTTP/1.1\r\n").await;
    p.expect_closed().await.unwrap();
}

#[tokio::test]
async fn a_client_closing_ends_the_handler() {
    let Peer { stream, task, .. } = start();
    drop(stream);
    let r = tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    assert!(r.is_ok(), "{r:?}");
}

/// A data block longer than declared is answered as memcached answers it:
/// `CLIENT_ERROR bad data chunk` for the two bytes where its CRLF should be,
/// then `ERROR` for the empty line the LF left; the connection goes on.
#[tokio::test]
async fn a_bad_data_chunk_is_answered_and_the_connection_goes_on() {
    let mut p = start();
    p.send(b"get a\r\nset k 0 0 3\r\nabcd\r\nget k\r\n").await;
    p.expect(b"END\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n")
        .await;
}

/// memcached never closes a quiet client: a pooled connection idle for a
/// day is served as a fresh one.
#[tokio::test(start_paused = true)]
async fn an_idle_client_is_never_cut_off() {
    let mut p = start();
    p.send(b"set k 0 0 1\r\nx\r\n").await;
    p.expect(b"STORED\r\n").await;
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    p.send(b"get k\r\n").await;
    p.expect(b"VALUE k 0 1\r\nx\r\nEND\r\n").await;
}

/// A command that has begun must end within the spec's message timeout
/// (five minutes): a client stalled mid-line is cut off.
#[tokio::test(start_paused = true)]
async fn a_client_stalled_mid_command_is_cut_off() {
    let mut p = start();
    p.send(b"get k").await;
    tokio::time::sleep(Duration::from_secs(5 * 60 + 1)).await;
    let r = p.expect_closed().await;
    assert!(matches!(r, Err(RtError::Timeout { .. })), "{r:?}");
}

/// A data block over the item size limit is refused as soon as its length
/// is read, before any of it is sent (as memcached does); the block, when it
/// comes, is swallowed and the next command is read after it.
#[tokio::test]
async fn an_oversized_set_is_refused_before_its_data_arrives() {
    let mut p = start();
    p.send(b"set big 0 0 2000000\r\n").await;
    p.expect(b"SERVER_ERROR object too large for cache\r\n").await;
    p.send(&vec![b'v'; 2_000_000]).await;
    p.send(b"\r\nget big\r\n").await;
    p.expect(b"END\r\n").await;
}
