//! The command line of SPEC §3: JSON on stdout, human messages on stderr, a one-line error
//! and a non-zero exit on bad input.

pub mod app;
pub mod args;
pub mod explain;
pub mod provider;
pub mod ranges;
pub mod scan;

use mediaprovider_policy::store::{Store, StoreError};
use std::fmt;
use std::path::Path;

/// A command failure: the message is printed as one line on stderr.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    /// 2 for bad input (usage), 1 for failures while doing the work.
    pub code: i32,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 2,
        }
    }
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownPackage(_)
            | StoreError::PackageExists(_)
            | StoreError::BadUid(_) => CliError::usage(e.to_string()),
            other => CliError::failed(other.to_string()),
        }
    }
}

/// Opens the store named by `--db`; its directory must exist (a typo must not create a fresh
/// empty store somewhere).
pub fn open_store(db: &str) -> Result<Store, CliError> {
    let path = Path::new(db);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "--db: directory {} does not exist",
            dir.display()
        )));
    }
    Store::open(path).map_err(|e| CliError::failed(format!("--db {db}: {e}")))
}

/// Prints one JSON value as a line on stdout.
pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

pub const USAGE: &str = "usage:
  mediaproviderd serve --lower DIR --mount DIR [--db FILE] [--threads N] [--no-passthrough] [--fuse-fd FD | --fuse-socket PATH] [--packages-list FILE] [--stats FILE]
  mediaproviderd app add    --db FILE --package PKG --uid UID [--target-sdk N] [--legacy] [--grant PERM]...
  mediaproviderd app grant  --db FILE --package PKG PERM...
  mediaproviderd app revoke --db FILE --package PKG PERM...
  mediaproviderd app grant-file  --db FILE --package PKG [--write] PATH...
  mediaproviderd app revoke-file --db FILE --package PKG PATH...
  mediaproviderd app remove --db FILE --package PKG
  mediaproviderd app list   --db FILE
  mediaproviderd app import-packages-list --db FILE FILE
  mediaproviderd scan    --db FILE --lower DIR
  mediaproviderd explain --db FILE --lower DIR --uid UID --op OP PATH [NEWPATH]
  mediaproviderd ranges  FILE
  mediaproviderd query   --db FILE --uid UID [--collection images|video|audio|downloads|files] [--path-prefix DIR] [--mime TYPE] [--include-pending] [--include-trashed] [--favorites] [--sort date_taken|date_modified|date_added|display_name|size|generation] [--desc] [--limit N] [--offset N]
  mediaproviderd changes --db FILE --uid UID --since GENERATION
  mediaproviderd trash|untrash|favorite|unfavorite --db FILE --uid UID PATH...
  mediaproviderd maintain --db FILE --lower DIR [--now EPOCH_SECONDS]";
