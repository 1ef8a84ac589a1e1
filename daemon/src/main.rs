//! `mediaproviderd`: the scoped-storage FUSE daemon and its command line (SPEC §3).

mod cli;
mod control;
mod facts;
mod lower;
mod moving;
mod provider;
mod serve;

use cli::CliError;

fn init_logging() {
    #[cfg(target_os = "android")]
    android_logger::init_once(
        android_logger::Config::default()
            .with_tag("mediaproviderd")
            .with_max_level(log::LevelFilter::Info),
    );
    #[cfg(not(target_os = "android"))]
    {
        let env = env_logger::Env::default().filter_or("MEDIAPROVIDERD_LOG", "info");
        let logger = env_logger::Builder::from_env(env).build();
        let max = logger.filter();
        if log::set_boxed_logger(Box::new(serve::QuietInterrupts(logger))).is_ok() {
            log::set_max_level(max);
        }
    }
}

/// What the command line asked for, once parsed far enough to dispatch.
fn run(argv: &[String]) -> Result<(), CliError> {
    let Some((cmd, rest)) = argv.split_first() else {
        // A bare `mediaproviderd`: the full usage, as an error (no command was given).
        eprintln!("{}", cli::help::usage());
        std::process::exit(2);
    };
    match cmd.as_str() {
        "--version" | "-V" | "version" => {
            println!("{}", cli::help::version());
            return Ok(());
        }
        "--help" | "-h" | "help" => {
            let page = match rest {
                [] => Some(cli::help::usage()),
                words => cli::help::page(&words.join(" ")),
            };
            return match page {
                Some(p) => {
                    println!("{p}");
                    Ok(())
                }
                None => Err(CliError::usage(format!(
                    "help: unknown command '{}'",
                    rest.join(" ")
                ))),
            };
        }
        _ => {}
    }
    if let Some(key) = cli::help::requested(cmd, rest) {
        let page = cli::help::page(&key)
            .ok_or_else(|| CliError::usage(format!("unknown command '{key}' (try --help)")))?;
        println!("{page}");
        return Ok(());
    }
    match cmd.as_str() {
        "app" => cli::app::run(rest),
        "scan" => cli::scan::run(rest),
        "explain" => cli::explain::run(rest),
        "ranges" => cli::ranges::run(rest),
        "serve" => serve::run(rest),
        c if cli::provider::COMMANDS.contains(&c) => cli::provider::run(c, rest),
        other => Err(CliError::usage(format!(
            "unknown command '{other}' (try --help)"
        ))),
    }
}

fn main() {
    init_logging();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&argv) {
        let message = e.to_string();
        eprintln!(
            "mediaproviderd: {}",
            message.lines().next().unwrap_or_default()
        );
        std::process::exit(e.code());
    }
}
