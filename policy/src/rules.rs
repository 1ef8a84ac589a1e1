//! The scoped-storage rule engine (SPEC §5, §6 first paragraph). One decision function per
//! operation; each returns allow/deny with the errno the app sees, the I/O mode for opens and the
//! name of the rule that decided. Pure: the caller supplies everything known about the file.

mod dirs;
mod gates;
mod listing;
mod read;
mod rename;
mod types;
mod write;

pub use dirs::{mkdir, opendir, rmdir};
pub use listing::visible_in_listing;
pub use read::{access_exec, access_read, lookup, open_read};
pub use rename::{rename, RENAME_NOREPLACE};
pub use types::{Decision, FileFacts, Grant, Io, Op, Target};
pub use write::{access_write, create, open_write, setattr, unlink};

use crate::errno::Errno;
use crate::identity::Caller;
use gates::private_denial;

/// One `explain` decision for `op` (rename uses [`rename`] directly). Every operation but
/// create and mkdir needs an existing target; a missing one is ENOENT, as the kernel's lookup
/// would report it, after the policy has had its say about private dirs.
pub fn decide(caller: &Caller, op: Op, t: Target) -> Decision {
    let creates = matches!(op, Op::Create | Op::Mkdir | Op::Rename);
    if !creates && !t.facts.exists {
        return private_denial(caller, &t.path.info())
            .unwrap_or(Decision::deny(Errno::ENOENT, "no-such-file"));
    }
    match op {
        Op::Lookup | Op::Getattr => lookup(caller, t.path),
        Op::OpenRead => open_read(caller, t),
        Op::OpenWrite => open_write(caller, t),
        Op::Create => create(caller, t),
        Op::Mkdir => mkdir(caller, t),
        Op::Rmdir => rmdir(caller, t.path),
        Op::Unlink => unlink(caller, t),
        Op::Opendir | Op::Readdir => opendir(caller, t.path),
        Op::AccessRead => access_read(caller, t),
        Op::AccessWrite => access_write(caller, t),
        Op::Setattr => setattr(caller, t),
        Op::Rename => Decision::deny(Errno::EINVAL, "rename-needs-two-paths"),
    }
}
