//! The torture harness (issue 10): many apps at once, random operations, kills and faults,
//! every result checked against the policy. Entry point: [`main`]; see `scripts/torture.sh`.

pub mod admin;
pub mod apps;
pub mod changes;
pub mod config;
pub mod content;
pub mod exec;
pub mod faults;
pub mod history;
pub mod invariants;
pub mod judge;
pub mod live;
pub mod lower;
pub mod model;
pub mod ops;
pub mod oracle;
pub mod plan;
pub mod report;
pub mod rng;
pub mod run;

/// Parses `args` (without the program name) and runs; the process exit code.
pub fn main(args: &[String]) -> i32 {
    match config::Config::parse(args) {
        Ok(cfg) => run::run(&cfg),
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}
