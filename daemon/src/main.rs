//! `mediaproviderd`: the scoped-storage FUSE daemon and its command line (SPEC §3).

mod cli;
mod control;
mod facts;
mod lower;
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
        let _ = env_logger::Builder::from_env(env).try_init();
    }
}

fn run(argv: &[String]) -> Result<(), CliError> {
    let Some((cmd, rest)) = argv.split_first() else {
        return Err(CliError::usage(cli::USAGE));
    };
    match cmd.as_str() {
        "app" => cli::app::run(rest),
        "scan" => cli::scan::run(rest),
        "explain" => cli::explain::run(rest),
        "ranges" => cli::ranges::run(rest),
        "serve" => serve::run(rest),
        c if cli::provider::COMMANDS.contains(&c) => cli::provider::run(c, rest),
        "help" | "--help" | "-h" => {
            eprintln!("{}", cli::USAGE);
            Ok(())
        }
        other => Err(CliError::usage(format!(
            "unknown command '{other}' (try --help)"
        ))),
    }
}

fn main() {
    init_logging();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&argv) {
        eprintln!("mediaproviderd: {}", e.message.lines().next().unwrap_or(""));
        std::process::exit(e.code);
    }
}
