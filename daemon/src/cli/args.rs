//! A small, strict argument parser: `--flag VALUE`, repeated flags, boolean switches and
//! positionals. Unknown flags are errors (other tools drive this command line; typos must fail).

use super::CliError;
use std::collections::HashMap;

pub struct Args {
    values: HashMap<&'static str, Vec<String>>,
    switches: Vec<&'static str>,
    pub positional: Vec<String>,
}

/// `valued` flags take a value (and may repeat); `switches` take none.
pub fn parse(
    argv: &[String],
    valued: &[&'static str],
    switches: &[&'static str],
) -> Result<Args, CliError> {
    let mut a = Args {
        values: HashMap::new(),
        switches: Vec::new(),
        positional: Vec::new(),
    };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            a.positional.extend(it.by_ref().cloned());
            break;
        }
        if let Some(name) = arg.strip_prefix("--") {
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            };
            if let Some(flag) = valued.iter().find(|f| **f == name) {
                let v = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| CliError::usage(format!("--{name} needs a value")))?,
                };
                a.values.entry(flag).or_default().push(v);
            } else if let Some(flag) = switches.iter().find(|f| **f == name) {
                if inline.is_some() {
                    return Err(CliError::usage(format!("--{name} takes no value")));
                }
                a.switches.push(flag);
            } else {
                return Err(CliError::usage(format!("unknown option --{name}")));
            }
        } else {
            a.positional.push(arg.clone());
        }
    }
    Ok(a)
}

impl Args {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(|s| s.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, CliError> {
        self.get(name)
            .ok_or_else(|| CliError::usage(format!("missing --{name}")))
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    pub fn has(&self, name: &str) -> bool {
        self.switches.contains(&name)
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, CliError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| CliError::usage(format!("--{name}: '{v}' is not a valid number"))),
        }
    }

    pub fn no_positionals(&self) -> Result<(), CliError> {
        match self.positional.first() {
            Some(p) => Err(CliError::usage(format!("unexpected argument '{p}'"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_flags_switches_and_positionals() {
        let a = parse(
            &v(&[
                "--db",
                "x.db",
                "--grant",
                "A",
                "--grant=B",
                "--legacy",
                "p1",
            ]),
            &["db", "grant"],
            &["legacy"],
        )
        .unwrap();
        assert_eq!(a.get("db"), Some("x.db"));
        assert_eq!(a.all("grant"), &v(&["A", "B"])[..]);
        assert!(a.has("legacy"));
        assert_eq!(a.positional, v(&["p1"]));
    }

    #[test]
    fn rejects_unknown_and_missing_values() {
        assert!(parse(&v(&["--nope"]), &[], &[]).is_err());
        assert!(parse(&v(&["--db"]), &["db"], &[]).is_err());
        assert!(parse(&v(&["--legacy=1"]), &[], &["legacy"]).is_err());
        let a = parse(&v(&["--uid", "abc"]), &["uid"], &[]).unwrap();
        assert!(a.number::<u32>("uid").is_err());
    }
}
