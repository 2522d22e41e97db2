//! One dynoxide server (a DynamoDB emulator) per test binary, on 127.0.0.1, killed when the test
//! process exits. Tables live in memory (no `--db-path`): nothing is written to disk.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free loopback port")
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
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (exit_tx, exit_rx) = std::sync::mpsc::channel();
    // The child is spawned from a thread that waits on it, so the thread lives as long as the
    // child and PR_SET_PDEATHSIG (which fires when the spawning *thread* exits) kills dynoxide
    // exactly when the test process ends; an early exit of dynoxide is reported on `exit_rx`.
    std::thread::spawn(move || {
        let mut command = Command::new(&path);
        command
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--log", "quiet"])
            // dynoxide's tracing honours RUST_LOG: a verbose setting meant for the tests would
            // flood stderr with one line per request.
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Quiet on success; on failure (e.g. "port … is already in use") the reason shows.
            .stderr(Stdio::inherit());
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        match command.spawn() {
            Ok(mut child) => {
                let _ = ready_tx.send(Ok(()));
                // Blocks for the life of the test process unless dynoxide dies early.
                let status = child.wait();
                let _ = exit_tx.send(status.map(|status| status.to_string()));
            }
            Err(err) => {
                let _ = ready_tx.send(Err(err.to_string()));
            }
        }
    });
    ready_rx
        .recv()
        .expect("dynoxide spawner thread died")
        .expect("could not start dynoxide");

    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(status) = exit_rx.try_recv() {
            panic!(
                "dynoxide exited before listening on {endpoint}: {}",
                status.unwrap_or_else(|err| err.to_string())
            );
        }
        assert!(
            Instant::now() < deadline,
            "dynoxide did not listen on {endpoint} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // It listened, but was it ours? Another process may have taken the port between
    // free_port() and the bind; dynoxide then exits at once with "port … is already in use".
    std::thread::sleep(Duration::from_millis(20));
    if let Ok(status) = exit_rx.try_recv() {
        panic!(
            "dynoxide exited right after start ({}): port {port} was taken by another process",
            status.unwrap_or_else(|err| err.to_string())
        );
    }
    endpoint
}
