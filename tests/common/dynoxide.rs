//! One dynoxide server (a DynamoDB emulator) per test binary, on 127.0.0.1, killed when the test
//! process exits. Tables live in memory (no `--db-path`): nothing is written to disk.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::emulator::{free_port, serve};

static ENDPOINT: OnceLock<String> = OnceLock::new();

/// The emulator's base URL, starting it on first use.
pub fn endpoint() -> &'static str {
    ENDPOINT.get_or_init(start)
}

fn dynoxide_path() -> PathBuf {
    if let Ok(path) = std::env::var("DYNOXIDE") {
        return PathBuf::from(path);
    }
    super::root().join(".venv/dynoxide/bin/dynoxide")
}

fn start() -> String {
    let path = dynoxide_path();
    assert!(
        path.exists(),
        "dynoxide not found at {}: run `make venv` (it builds .venv/dynoxide/bin/dynoxide with \
         cargo install, ~3 min the first time) or set DYNOXIDE",
        path.display()
    );
    let port = free_port();
    let mut command = Command::new(&path);
    command
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--log", "quiet"])
        // dynoxide's tracing honours RUST_LOG: a verbose setting meant for the tests would flood
        // stderr with one line per request.
        .env_remove("RUST_LOG")
        // Quiet on success; on failure (e.g. "port … is already in use") the reason shows.
        .stderr(Stdio::inherit());
    serve("dynoxide", command, port)
}
