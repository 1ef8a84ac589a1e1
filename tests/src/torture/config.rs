//! The command line of `scripts/torture.sh` (the arguments are passed through).

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct Config {
    pub seconds: u64,
    pub apps: usize,
    pub kills: usize,
    pub seed: u64,
    pub passthrough: bool,
    /// `serve --threads`.
    pub threads: u32,
    /// Size of the tmpfs lower tree (ENOSPC); 0 = a plain directory.
    pub lower_mib: u64,
    /// Inject EIO for marked names through the LD_PRELOAD shim.
    pub eio: bool,
}

pub const USAGE: &str = "usage: torture [--seconds N] [--apps K] [--kills M] [--seed S] \
[--no-passthrough] [--threads N] [--lower-mib N (0: no tmpfs)] [--no-eio]";

impl Config {
    pub fn parse(args: &[String]) -> Result<Config, String> {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000_007)
            .unwrap_or(1);
        let mut c = Config {
            seconds: 60,
            apps: 8,
            kills: 0,
            seed,
            passthrough: true,
            threads: 4,
            lower_mib: 24,
            eio: true,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut num = |name: &str| -> Result<u64, String> {
                let v = it
                    .next()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?;
                v.parse::<u64>()
                    .map_err(|_| format!("{name}: '{v}' is not a number\n{USAGE}"))
            };
            match a.as_str() {
                "--seconds" => c.seconds = num("--seconds")?,
                "--apps" => c.apps = num("--apps")? as usize,
                "--kills" => c.kills = num("--kills")? as usize,
                "--seed" => c.seed = num("--seed")?,
                "--threads" => c.threads = num("--threads")? as u32,
                "--lower-mib" => c.lower_mib = num("--lower-mib")?,
                "--no-passthrough" => c.passthrough = false,
                "--no-eio" => c.eio = false,
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
            }
        }
        if c.apps == 0 || c.seconds == 0 {
            return Err(format!("--apps and --seconds must be positive\n{USAGE}"));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_the_script_flags() {
        let c = Config::parse(&args(
            "--seconds 90 --apps 8 --kills 3 --seed 42 --no-passthrough",
        ))
        .unwrap();
        assert_eq!((c.seconds, c.apps, c.kills, c.seed), (90, 8, 3, 42));
        assert!(!c.passthrough);
        assert!(Config::parse(&args("--apps x")).is_err());
        assert!(Config::parse(&args("--bogus")).is_err());
        assert!(Config::parse(&args("--apps 0")).is_err());
    }
}
