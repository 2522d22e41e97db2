//! The event streams the replays deliver: every task's 8-version Fargate lifecycle with 10 %
//! redelivered copies, shuffled or in order (the kit's `in_order_lifecycles`,
//! `shuffled_with_copies` and `in_order_with_copies`), as the compact JSON EventBridge delivers.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::stream::{in_order_lifecycles, in_order_with_copies, shuffled_with_copies};
use crate::common::Rng;

/// How a stream orders its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Every event anywhere: batches hold several versions of a task, most of them late.
    Shuffled,
    /// Version by version across tasks, copies late: no batch holds two versions of a task, so
    /// every fresh version moves its task's snapshot (the write-heaviest order).
    InOrder,
}

pub struct Stream {
    /// Each event's JSON, as delivered.
    pub bodies: Vec<String>,
    /// Distinct tasks.
    pub tasks: usize,
    /// The bodies gzip-compressed at level 6 as one newline-separated log (what CloudWatch Logs
    /// bills archived data by; 0 if `gzip` is missing).
    pub gzip_bytes: usize,
}

impl Stream {
    /// The lifecycles of these tasks of `cluster` with copies, in `order` (`seed` fixes it).
    pub fn of(cluster: &str, tasks: &[String], seed: u64, order: Order) -> Self {
        let pairs: Vec<(String, String)> = tasks
            .iter()
            .map(|t| (cluster.to_owned(), t.clone()))
            .collect();
        let ordered = in_order_lifecycles(&pairs);
        let rng = &mut Rng(seed | 1);
        let events = match order {
            Order::Shuffled => shuffled_with_copies(&ordered, rng),
            Order::InOrder => in_order_with_copies(&ordered, rng),
        };
        let bodies: Vec<String> = events.iter().map(|event| event.to_string()).collect();
        let gzip_bytes = gzip_size(&bodies);
        Self {
            bodies,
            tasks: tasks.len(),
            gzip_bytes,
        }
    }

    pub fn bytes(&self) -> usize {
        self.bodies.iter().map(String::len).sum()
    }

    /// The median event's size in bytes.
    pub fn median_bytes(&self) -> f64 {
        crate::report::median(
            &self
                .bodies
                .iter()
                .map(|b| b.len() as f64)
                .collect::<Vec<_>>(),
        )
    }
}

/// Size of the bodies, one a line, through `gzip -6` (the command, to spare a dependency).
fn gzip_size(bodies: &[String]) -> usize {
    let Ok(mut gzip) = Command::new("gzip")
        .args(["-6", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        return 0;
    };
    let mut stdin = gzip.stdin.take().expect("gzip stdin");
    let text = bodies.join("\n");
    // Written from another thread: gzip's output pipe must be read while it is fed.
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let output = gzip.wait_with_output().expect("gzip output");
    let _ = writer.join();
    output.stdout.len()
}
