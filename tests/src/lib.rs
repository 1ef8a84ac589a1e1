//! Harness for the CTS-style integration suites (`tests/tests/cts_*.rs`): builds and starts the
//! real `mediaproviderd serve` on a temporary lower tree, registers apps through the real
//! `mediaproviderd app` command line, and performs syscalls as real uids (a forked child that
//! drops to the uid with `setresuid`), handing back the errno the app saw.
//!
//! Environment:
//! * not root, or no usable `/dev/fuse`: every suite prints `SKIP: …` and passes — unless
//!   `CI=true`, where that is a failure;
//! * `MEDIAPROVIDERD_BIN=PATH`: use this daemon binary instead of building it with cargo;
//! * `MPD_TEST_LOG=LEVEL`: the daemon's log level (its stderr goes to `<tmp>/serve-N.log`);
//! * `MPD_TEST_KEEP=1`: keep the temporary directories of stopped daemons.

mod app;
mod daemon;
mod fixture;
mod live;
mod mounts;
mod redaction;
mod run_as;
pub mod shim;
mod signal;
mod skip;
pub mod sys;
mod user;
pub mod wire;

pub use app::App;
pub use daemon::{daemon_bin, mpd, mpd_ok, shared_dir, workspace_dir};
pub use fixture::{Fixture, ServeOpts};
pub use mounts::{force_unmount, fuse_mount_at, mounts, premount, MountEntry, HANDOFF_FD};
pub use redaction::{apply_ranges, apply_ranges_cli, check_redaction, pattern, slurp};
pub use run_as::run_as;
pub use signal::Signal;
pub use skip::{can_run, in_ci, missing_prerequisite, skip_note};
pub use sys::*;
pub use user::User;
pub use wire::Wire;
