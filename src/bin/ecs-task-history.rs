//! The command-line tool: reads and repairs the history. All logic lives in `ecs_task_history::cli`.

fn main() -> std::process::ExitCode {
    ecs_task_history::cli::main()
}
