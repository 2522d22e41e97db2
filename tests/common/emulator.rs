//! Starting a local emulator server (moto, dynoxide) once per test process, on a free 127.0.0.1
//! port, killed when the process ends however it ends.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (another process may still take it before the server binds; `serve`
/// notices when the server then exits).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free loopback port")
}

/// Makes the child killed (SIGKILL) when the thread that spawns it ends, so nothing a test starts
/// outlives it, however it ends.
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Runs `command` (a server that will listen on `port`) and waits until it does; its base URL.
/// Panics, naming `name`, when it cannot start, exits early, or does not listen within 30 s.
pub fn serve(name: &'static str, mut command: Command, port: u16) -> String {
    command.stdin(Stdio::null()).stdout(Stdio::null());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (exit_tx, exit_rx) = std::sync::mpsc::channel();
    // The child is spawned from a thread that waits on it, so the thread lives as long as the
    // child and PR_SET_PDEATHSIG (which fires when the spawning *thread* exits) kills the server
    // exactly when the test process ends; an early exit is reported on `exit_rx`.
    std::thread::spawn(move || {
        die_with_parent(&mut command);
        match command.spawn() {
            Ok(mut child) => {
                let _ = ready_tx.send(Ok(()));
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
        .unwrap_or_else(|_| panic!("{name} spawner thread died"))
        .unwrap_or_else(|err| panic!("could not start {name}: {err}"));

    let endpoint = format!("http://127.0.0.1:{port}");
    let exited =
        |status: Result<String, std::io::Error>| status.unwrap_or_else(|err| err.to_string());
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(status) = exit_rx.try_recv() {
            panic!(
                "{name} exited before listening on {endpoint}: {}",
                exited(status)
            );
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not listen on {endpoint} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // It listened, but was it ours? Another process may have taken the port between free_port()
    // and the bind; the server then exits at once ("address already in use").
    std::thread::sleep(Duration::from_millis(20));
    if let Ok(status) = exit_rx.try_recv() {
        panic!(
            "{name} exited right after start ({}): port {port} was taken by another process",
            exited(status)
        );
    }
    endpoint
}
