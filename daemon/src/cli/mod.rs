//! The command line of SPEC §3: JSON on stdout, human messages on stderr, a one-line error
//! and a non-zero exit on bad input.

pub mod app;
pub mod args;
pub mod explain;
pub mod help;
pub mod provider;
pub mod ranges;
pub mod scan;

use mediaprovider_policy::store::{Store, StoreError};
use std::path::{Path, PathBuf};

/// A command failure, printed as one line on stderr. `Display` carries the whole chain
/// (what was being done, on which file, and the underlying error).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The work failed (exit 1).
    #[error("{0}")]
    Failed(String),
    /// A store operation failed: which store or operation, and why.
    #[error("{doing}: {source}")]
    Store {
        doing: String,
        #[source]
        source: StoreError,
    },
    /// A store error from a call that named no context (its own message says "store: …").
    #[error(transparent)]
    StoreFailed(StoreError),
    /// A file the command needed could not be used.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError::Failed(message.into())
    }
    /// 2 for bad input (usage), 1 for failures while doing the work.
    pub fn code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Store { source, .. } | CliError::StoreFailed(source)
                if is_bad_input(source) =>
            {
                2
            }
            _ => 1,
        }
    }
}

/// Store errors that are the caller's mistake, not a failure.
fn is_bad_input(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::UnknownPackage(_) | StoreError::PackageExists(_) | StoreError::BadUid(_)
    )
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        if is_bad_input(&e) {
            CliError::Usage(e.to_string())
        } else {
            CliError::StoreFailed(e)
        }
    }
}

/// `store.add_package(..).doing("adding package x")?`: keeps what was being done.
pub trait StoreContext<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, CliError>;
}

impl<T> StoreContext<T> for Result<T, StoreError> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, CliError> {
        self.map_err(|source| {
            if is_bad_input(&source) {
                CliError::Usage(source.to_string())
            } else {
                CliError::Store {
                    doing: what(),
                    source,
                }
            }
        })
    }
}

/// The directory a `--db` file lives in ("." for a bare name).
fn db_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Checks that `--db`'s directory exists: a typo must not create a store somewhere new, and
/// a missing directory is never created silently.
pub fn check_db_dir(db: &Path) -> Result<(), CliError> {
    let dir = db_dir(db);
    if dir.is_dir() {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "--db: directory {} does not exist",
            dir.display()
        )))
    }
}

/// Opens the store named by `--db`, creating it if missing (`serve` and `app add` only).
pub fn create_store(db: &str) -> Result<Store, CliError> {
    check_db_dir(Path::new(db))?;
    Store::open(Path::new(db)).doing(|| format!("--db {db}"))
}

/// Opens an existing store: every command that reads or changes one it did not create.
pub fn open_store(db: &str) -> Result<Store, CliError> {
    let path = Path::new(db);
    check_db_dir(path)?;
    match std::fs::metadata(path) {
        Ok(md) if md.is_file() => {}
        Ok(_) => return Err(CliError::usage(format!("--db {db}: not a file"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CliError::usage(format!(
                "--db {db}: no such store (`app add` or `serve` creates one)"
            )))
        }
        Err(source) => {
            return Err(CliError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    }
    Store::open(path).doing(|| format!("--db {db}"))
}

/// Prints one JSON value as a line on stdout.
pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_what_was_being_done_and_map_exit_codes() {
        let r: Result<(), StoreError> = Err(StoreError::Corrupt("bad header".into()));
        let e = r.doing(|| "reconciling with /x".into()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "reconciling with /x: store is corrupt: bad header"
        );
        assert_eq!(e.code(), 1);
        assert!(std::error::Error::source(&e).is_some(), "the cause is kept");

        let r: Result<(), StoreError> = Err(StoreError::UnknownPackage("com.x".into()));
        let e = r.doing(|| "granting".into()).unwrap_err();
        assert_eq!(
            (e.to_string().as_str(), e.code()),
            ("unknown package 'com.x'", 2)
        );

        // Without context: the store's own message, not "store: store: …".
        let e = CliError::from(StoreError::TooNew(9));
        assert_eq!(
            e.to_string(),
            "store schema version 9 is newer than this build"
        );
        assert_eq!(e.code(), 1);
    }
}
