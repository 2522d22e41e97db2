//! Command-line options of `cargo bench --bench function -- …` (`make bench BENCH_ARGS='…'`).

use std::path::PathBuf;

pub const HELP: &str = "\
cargo bench --profile bench-harness --bench function -- [OPTIONS]   (make bench BENCH_ARGS='...')

  --binary PATH            the function to measure [target/release/bootstrap]
  --tasks N                tasks in the main replays, 8 versions each + 10 % copies [2000]
  --side-tasks N           tasks in the single-invocation and ENRICH replays [250]
  --cold-starts N          inits measured without warm-up [20]
  --first-invocations N    first invocations with and without WARM_CONNECTIONS [5]
  --seed N                 shuffle seed [7]
  --env NAME=VALUE         extra environment for the function (repeatable)
  --only TEXT              run only the replays whose name contains TEXT
  --no-replays             only sizes, init and first invocations (to compare builds)
  --no-tls                 the function talks plain HTTP to the proxy (no TLS front, no comparison)";

/// What to run; defaults reproduce the README's table.
#[derive(Debug)]
pub struct Args {
    pub binary: PathBuf,
    pub tasks: usize,
    pub side_tasks: usize,
    pub cold_starts: usize,
    pub first_invocations: usize,
    pub seed: u64,
    pub env: Vec<(String, String)>,
    pub only: Option<String>,
    pub no_replays: bool,
    pub tls: bool,
}

impl Args {
    /// Parses the process's arguments; exits with the help text on `--help` or a bad option.
    pub fn from_env(root: &std::path::Path) -> Self {
        let mut args = Self {
            binary: root.join("target/release/bootstrap"),
            tasks: 2000,
            side_tasks: 250,
            cold_starts: 20,
            first_invocations: 5,
            seed: 7,
            env: Vec::new(),
            only: None,
            no_replays: false,
            tls: true,
        };
        // `cargo bench` passes `--bench` to every harness; `--flag=value` is split like a shell would.
        let words: Vec<String> = std::env::args()
            .skip(1)
            .filter(|word| word != "--bench")
            .flat_map(|word| match word.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") && flag != "--env" => {
                    vec![flag.to_owned(), value.to_owned()]
                }
                _ => vec![word],
            })
            .collect();
        let mut words = words.into_iter();
        while let Some(flag) = words.next() {
            if let Err(problem) = args.apply(&flag, &mut words) {
                eprintln!("{problem}\n\n{HELP}");
                std::process::exit(2);
            }
        }
        args
    }

    fn apply(&mut self, flag: &str, rest: &mut impl Iterator<Item = String>) -> Result<(), String> {
        let mut value = || rest.next().ok_or(format!("{flag} needs a value"));
        let number = |text: String| {
            text.parse::<usize>()
                .map_err(|_| format!("{flag} {text}: not a number"))
        };
        match flag {
            "--binary" => self.binary = value()?.into(),
            "--tasks" => self.tasks = number(value()?)?.max(1),
            "--side-tasks" => self.side_tasks = number(value()?)?.max(1),
            "--cold-starts" => self.cold_starts = number(value()?)?.max(1),
            "--first-invocations" => self.first_invocations = number(value()?)?.max(1),
            "--seed" => self.seed = number(value()?)? as u64,
            "--env" => {
                let pair = value()?;
                let (name, text) = pair
                    .split_once('=')
                    .ok_or(format!("--env {pair}: NAME=VALUE"))?;
                self.env.push((name.to_owned(), text.to_owned()));
            }
            "--only" => self.only = Some(value()?),
            "--no-replays" => self.no_replays = true,
            "--no-tls" => self.tls = false,
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}")),
        }
        Ok(())
    }

    /// Whether the replay of this name is to run.
    pub fn runs(&self, replay: &str) -> bool {
        !self.no_replays
            && self
                .only
                .as_deref()
                .is_none_or(|only| replay.contains(only))
    }
}
