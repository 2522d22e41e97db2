//! The real function binary (`bootstrap`) run as a child process behind a local Runtime API.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::runtime_api::RuntimeApi;

pub struct Function {
    pub api: RuntimeApi,
    pub child: tokio::process::Child,
    /// The function's metrics lines (CloudWatch Embedded Metric Format), as printed.
    pub metrics: Arc<Mutex<Vec<Value>>>,
    /// Its other JSON lines on stdout: the logs (at the `RUST_LOG` level it was started with).
    pub logs: Arc<Mutex<Vec<Value>>>,
}

impl Function {
    /// Waits for the metrics line of every invocation so far. The function prints it before it
    /// answers, but the line is read from its stdout on another task, which a loaded machine may
    /// run late: wait for it (it normally is there at once), and fail loudly if it never comes.
    /// (The per-kind alert lines are not among them: see [`Function::alert_metrics`].)
    pub async fn metrics(&self, invocations: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let lines: Vec<Value> = self
                .metrics
                .lock()
                .unwrap()
                .iter()
                .filter(|line| line.get("Invocations").is_some())
                .cloned()
                .collect();
            if lines.len() >= invocations {
                return lines;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} metrics lines after 30 s, {invocations} expected",
                lines.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The metrics lines of alerts sent, one per kind and invocation: (kind, count).
    pub fn alert_metrics(&self) -> Vec<(String, f64)> {
        self.metrics
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| {
                Some((
                    line.get("Kind")?.as_str()?.to_owned(),
                    line.get("Alerts")?.as_f64()?,
                ))
            })
            .collect()
    }

    /// CPU time the process has used so far, user + system over all its threads (/proc), in
    /// seconds: what a benchmark charges the function, whatever the emulators cost.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        // Fields after the command name (which may hold spaces), from field 3 on.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .expect("stat")
            .1
            .split_whitespace()
            .collect();
        let ticks = |n: usize| fields[n].parse::<f64>().expect("clock ticks");
        // SAFETY: sysconf only reads a constant of the system.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks(11) + ticks(12)) / per_second
    }

    /// The process's peak resident set (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("the function is still running")
    }
}

pub fn sum(lines: &[Value], metric: &str) -> f64 {
    lines.iter().filter_map(|line| line[metric].as_f64()).sum()
}

/// Where the function reaches AWS: the emulators (DynamoDB's own, moto for the rest), or everything
/// through one endpoint (the fault proxy, which routes the same way).
fn endpoint_env(endpoint: &str) -> Vec<(&'static str, &str)> {
    if endpoint == super::moto::endpoint() {
        super::emulator_env().to_vec()
    } else {
        vec![("AWS_ENDPOINT_URL", endpoint)]
    }
}

/// The function binary cargo built for these tests (the root package's), or the workspace's
/// debug build when the tests are another package's.
pub fn bootstrap_path() -> std::path::PathBuf {
    match option_env!("CARGO_BIN_EXE_bootstrap") {
        Some(path) => path.into(),
        None => super::root().join("target/debug/bootstrap"),
    }
}

/// The built `bootstrap` binary behind a fresh local Runtime API, on `table`, reaching AWS at moto.
pub async fn start_function(table: &str) -> Function {
    start_function_at(table, super::moto::endpoint()).await
}

/// The same, reaching AWS at `endpoint` (e.g. the fault proxy).
pub async fn start_function_at(table: &str, endpoint: &str) -> Function {
    start_function_with(table, endpoint, &[]).await
}

/// The same, with more environment variables (e.g. `RECONCILE_CLUSTERS`).
pub async fn start_function_with(table: &str, endpoint: &str, env: &[(&str, &str)]) -> Function {
    start_binary_with(&bootstrap_path(), table, endpoint, env).await
}

/// The same with another build of the function (the benchmark runs the release build).
pub async fn start_binary_with(
    bootstrap: &std::path::Path,
    table: &str,
    endpoint: &str,
    env: &[(&str, &str)],
) -> Function {
    let api = RuntimeApi::start().await;
    let child = tokio::process::Command::new(bootstrap)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "ecs-task-history")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "local")
        .envs(endpoint_env(endpoint))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("TABLE_NAME", table)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start bootstrap");
    let mut child = child;
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let logs = Arc::new(Mutex::new(Vec::new()));
    if let Some(stdout) = child.stdout.take() {
        let (metrics, logs) = (metrics.clone(), logs.clone());
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(value) if value.get("_aws").is_some() => metrics.lock().unwrap().push(value),
                    Ok(value) => logs.lock().unwrap().push(value),
                    Err(_) => {}
                }
            }
        });
    }
    Function {
        api,
        child,
        metrics,
        logs,
    }
}

/// The function binary at `bootstrap` behind a fresh local Runtime API, reaching the emulators,
/// with every line it prints (JSON logs, metrics, anything on stderr) appended to `log`; its
/// metrics lines are kept as [`Function::metrics`] too. Unlike [`start_function_with`]'s child it
/// also dies with the calling process however that ends (panic, Ctrl-C, `exit`), as the emulators
/// do, so a program that may exit early (the demo) leaves nothing running.
pub async fn start_function_logged(
    bootstrap: &std::path::Path,
    table: &str,
    env: &[(&str, &str)],
    log: &std::path::Path,
) -> Function {
    use std::io::Write;
    let api = RuntimeApi::start().await;
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|err| panic!("{}: {err}", log.display()))
    };
    let mut command = tokio::process::Command::new(bootstrap);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "ecs-task-history")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "local")
        .envs(super::emulator_env())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("TABLE_NAME", table)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(open())
        .kill_on_drop(true);
    super::emulator::die_with_parent(command.as_std_mut());
    let mut child = command
        .spawn()
        .unwrap_or_else(|err| panic!("start {}: {err}", bootstrap.display()));
    let metrics = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_metrics, mut file) = (metrics.clone(), open());
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = writeln!(file, "{line}");
            match serde_json::from_str::<Value>(&line) {
                Ok(value) if value.get("_aws").is_some() => {
                    lines_metrics.lock().unwrap().push(value)
                }
                _ => {}
            }
        }
    });
    Function {
        api,
        child,
        metrics,
        logs: Arc::default(),
    }
}
