//! The bundled suites, `conformance/suites/<suite>/`, and what `conformance
//! run` says about a suite whose spec has no built-in server: such a suite
//! needs a real server, given with `--target` or started from the suite's
//! `peer` script.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use conformance::runner::sweep::quote;

/// The port the printed `peer` commands use: any free one would do, and a
/// fixed one keeps the command the same from run to run.
pub const PEER_PORT: u16 = 6400;
/// The `--wait` the printed `peer` commands give: a peer that installs what
/// it needs on first use (modbus's venv) takes a while.
const PEER_WAIT: u64 = 30;

/// The bundled suites: `conformance/suites/<suite>/*.transcript`.
pub fn default_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites");
    // Shown relative to where the run started, when it is below it.
    std::env::current_dir()
        .ok()
        .and_then(|cwd| dir.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or(dir)
}

/// What [`conformance::targets::server_for`] knows a spec by: a bundled
/// spec's name, or the file stem of a path to one.
pub fn spec_key(spec: &str) -> String {
    Path::new(spec)
        .file_stem()
        .map_or(spec.to_string(), |s| s.to_string_lossy().into_owned())
}

/// The suite folder under `root` that holds `file`: the child of `root` it
/// is in (or `root` itself, for a transcript lying there).
pub fn suite_dir(root: &Path, file: &Path) -> PathBuf {
    match file
        .strip_prefix(root)
        .ok()
        .and_then(|rest| rest.components().next())
    {
        Some(first) if file.parent() != Some(root) => root.join(first),
        _ => root.to_path_buf(),
    }
}

/// The executable `peer` script closest to `file`, looking in the folders
/// from the transcript's own up to `top` (inclusive).
pub fn peer_script(file: &Path, top: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    for dir in file.ancestors().skip(1) {
        let peer = dir.join("peer");
        if std::fs::metadata(&peer).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0) {
            return Some(peer);
        }
        if dir == top || dir.as_os_str().is_empty() {
            break;
        }
    }
    None
}

/// The command that starts `peer` in the background and runs `paths`
/// against it once it listens.
pub fn peer_command(peer: &Path, paths: &[&Path]) -> String {
    let shown = |p: &Path| quote(&p.display().to_string());
    let mut run = String::new();
    for p in paths {
        let _ = write!(run, " {}", shown(p));
    }
    format!(
        "PORT={PEER_PORT} {} & conformance run{run} --target 127.0.0.1:{PEER_PORT} --wait {PEER_WAIT}",
        shown(peer)
    )
}

/// Lines telling how to run the suite `dir`, skipped for want of a built-in
/// server for `spec`.
pub fn skipped(dir: &Path, spec: &str, peer: Option<&Path>) -> String {
    let mut out = format!(
        "skipped {}: spec `{spec}` has no built-in server; run it against a server:\n  \
         conformance run {} --target HOST:PORT\n",
        dir.display(),
        quote(&dir.display().to_string())
    );
    if let Some(peer) = peer {
        let _ = writeln!(
            out,
            "or against the real one, started by the suite's peer script:\n  {}",
            peer_command(peer, &[dir])
        );
    }
    out
}

/// The error for suites named on the command line whose `spec` has no
/// built-in server, when no `--target` was given.
pub fn no_server(spec: &str, peer: Option<(&Path, Vec<&Path>)>) -> String {
    let mut out = format!("error: no built-in server for spec `{spec}`: give --target HOST:PORT");
    match peer {
        Some((peer, paths)) => {
            let _ = write!(
                out,
                ", or start the real server with the suite's peer script:\n  {}",
                peer_command(peer, &paths)
            );
        }
        None => out.push_str(" (the address of a server that speaks it)"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_dir_is_the_child_of_the_root() {
        let root = Path::new("conformance/suites");
        let dir = |f: &str| suite_dir(root, Path::new(f));
        assert_eq!(dir("conformance/suites/redis/get.transcript"), root.join("redis"));
        assert_eq!(
            dir("conformance/suites/redis/more/x.transcript"),
            root.join("redis")
        );
        assert_eq!(dir("conformance/suites/loose.transcript"), root);
    }

    #[test]
    fn peer_commands_quote_what_needs_it() {
        let cmd = peer_command(Path::new("my suites/redis/peer"), &[Path::new("my suites/redis")]);
        assert_eq!(
            cmd,
            "PORT=6400 \"my suites/redis/peer\" & conformance run \"my suites/redis\" --target 127.0.0.1:6400 --wait 30"
        );
    }

    #[test]
    fn spec_keys_are_names_or_file_stems() {
        assert_eq!(spec_key("memcached"), "memcached");
        assert_eq!(spec_key("../specs/redis.proto"), "redis");
    }
}
