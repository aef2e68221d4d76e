//! Tests against real peers on loopback: the generated clients against a real
//! memcached and xinetd's daytime and echo, and the reference servers against
//! real clients (`nc`, a plain socket writing one byte at a time, the example
//! binaries). `broken_proxy::BrokenProxy` stands between a client and a real
//! server and breaks the server's bytes in one place, to show that a suite
//! catches what it breaks.
//!
//! ```text
//! cargo test -p protospec-servers --test peers
//! PROTOSPEC_REQUIRE_PEERS=1 cargo test -p protospec-servers --test peers
//! ```
//!
//! Every peer a trial needs is started by the trial itself, on a free port of
//! 127.0.0.1, and stopped when the trial ends (also when it fails or panics).
//! The servers the bundled suites are written against start through the
//! suites' `peer` scripts (`conformance/suites/<suite>/peer`, run in a
//! process group of their own that gets SIGTERM, then SIGKILL): `memcached`
//! (package memcached), `xinetd` (package xinetd) with its internal daytime
//! and echo services, `redis-server` (package redis-server) and the modbus
//! peer (pymodbus, in the venv `conformance/suites/modbus/setup-venv`
//! makes). Other programs are run directly: `nc` (package netcat-openbsd),
//! `memcached-tool` (shipped with memcached, run by perl), `memcstat`,
//! `memcdump`, `memccp`, `memccat`, `memcflush`, `memcslap` and `memcaslap`
//! (package libmemcached-tools). The programs are looked up on `PATH` and in
//! the sbin directories. The Python clients (pymemcache 4.0.0,
//! python-memcached 1.62, Debian's pylibmc) run from the venv that `.ci/run`
//! makes, `$PROTOSPEC_VENV` or else `~/.cache/protospec/venv-memcached`.
//!
//! Skipping: a trial whose program is not installed is reported as *ignored*,
//! with the missing program in its message (`ignored (skipped: `memcached` is
//! not installed ...)`), and counts as ignored, not passed, in the summary.
//! With `PROTOSPEC_REQUIRE_PEERS=1` in the environment a missing program is a
//! failed trial instead, for machines (CI) where every peer must be present.
//! Trials that need no program (the reference servers against a plain socket
//! and the example clients) always run.
//!
//! Every network wait has a time limit, so a hung peer fails its trial rather
//! than the run.

mod broken_proxy;
mod clients;
mod dns;
mod dns_server;
mod harness;
mod hostile;
mod inetd;
mod load;
mod memcached;
mod modbus;
mod modbus_server;
mod peer_scripts;
mod postgres;
mod record;
mod redis;
mod resp;
mod resp_hostile;
mod servers;
mod structured;
mod suites;

use libtest_mimic::{Arguments, Trial};

use crate::harness::{ensure, Outcome};

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![Trial::test("harness::daytime_check", daytime_check)];
    trials.extend(memcached::trials());
    trials.extend(broken_proxy::trials());
    trials.extend(modbus::trials());
    trials.extend(modbus_server::trials());
    trials.extend(redis::trials());
    trials.extend(resp::trials());
    trials.extend(postgres::trials());
    trials.extend(dns::trials());
    trials.extend(dns_server::trials());
    trials.extend(structured::trials());
    trials.extend(inetd::trials());
    trials.extend(peer_scripts::trials());
    trials.extend(servers::trials());
    trials.extend(suites::trials());
    trials.extend(record::trials());
    trials.extend(hostile::trials());
    trials.extend(resp_hostile::trials());
    trials.extend(load::trials());
    trials.extend(clients::trials());
    libtest_mimic::run(&args, trials).exit();
}

/// The daytime check the trials use accepts the shapes it should and
/// rejects the rest.
fn daytime_check() -> Outcome {
    // 25 NOV 2026 16:27:47 UTC
    let t = 1_795_624_067;
    let check = harness::check_daytime_at;
    check("25 NOV 2026 16:27:47 UTC", true, t)?;
    check("25 NOV 2026 16:28:30 UTC", true, t)?;
    check(" 5 Nov 2026 16:27:47 UTC", false, t - 20 * 86_400)?;
    check("29 FEB 2000 00:00:00 UTC", true, 951_782_400)?;
    for (bad, exact) in [
        ("25 NOV 2026 16:27:47 UTC", true),
        ("25 NOV 2026 16:27:47", false),
        ("25 NOV 2026 16:27:47 CET", false),
        ("25 NOV 2026 16:27 UTC", false),
        ("25 NOQ 2026 16:27:47 UTC", false),
        (" 5 NOV 2026 16:27:47 UTC", true),
        ("25 nov 2026 16:27:47 UTC", true),
        ("Wed Nov 25 16:27:47 2026", false),
    ] {
        let now = if bad == "25 NOV 2026 16:27:47 UTC" {
            t + 3600
        } else {
            t
        };
        let now = if bad.starts_with(" 5") {
            now - 20 * 86_400
        } else {
            now
        };
        ensure!(check(bad, exact, now).is_err(), "the check accepted {bad:?}");
    }
    Ok(())
}
