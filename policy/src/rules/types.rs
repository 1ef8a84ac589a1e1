//! The vocabulary of the rule engine: operations, I/O modes, decisions, grants and the facts
//! a decision is made on.

use crate::errno::Errno;
use crate::identity::Caller;
use crate::mime::{media_type_of, MediaType};
use crate::paths::VolPath;

/// The operations of SPEC §3 `explain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lookup,
    Getattr,
    OpenRead,
    OpenWrite,
    Create,
    Mkdir,
    Rmdir,
    Unlink,
    Rename,
    Opendir,
    Readdir,
    AccessRead,
    AccessWrite,
    Setattr,
}

impl Op {
    pub const ALL: [Op; 14] = [
        Op::Lookup,
        Op::Getattr,
        Op::OpenRead,
        Op::OpenWrite,
        Op::Create,
        Op::Mkdir,
        Op::Rmdir,
        Op::Unlink,
        Op::Rename,
        Op::Opendir,
        Op::Readdir,
        Op::AccessRead,
        Op::AccessWrite,
        Op::Setattr,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Lookup => "lookup",
            Op::Getattr => "getattr",
            Op::OpenRead => "open-read",
            Op::OpenWrite => "open-write",
            Op::Create => "create",
            Op::Mkdir => "mkdir",
            Op::Rmdir => "rmdir",
            Op::Unlink => "unlink",
            Op::Rename => "rename",
            Op::Opendir => "opendir",
            Op::Readdir => "readdir",
            Op::AccessRead => "access-read",
            Op::AccessWrite => "access-write",
            Op::Setattr => "setattr",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|o| o.name() == s)
    }
}

/// How an allowed open is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io {
    /// Handed to the kernel with a backing id: lower-filesystem speed.
    Passthrough,
    /// Served by the daemon with location ranges rewritten.
    Redacted,
    /// Served by the daemon unmodified (passthrough unavailable or disabled).
    Daemon,
}

impl Io {
    pub fn name(self) -> &'static str {
        match self {
            Io::Passthrough => "passthrough",
            Io::Redacted => "redacted",
            Io::Daemon => "daemon",
        }
    }
}

/// A policy decision: `errno == None` means allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub errno: Option<Errno>,
    pub io: Option<Io>,
    pub rule: &'static str,
}

impl Decision {
    pub fn allow(rule: &'static str) -> Decision {
        Decision {
            errno: None,
            io: None,
            rule,
        }
    }
    pub fn deny(errno: Errno, rule: &'static str) -> Decision {
        Decision {
            errno: Some(errno),
            io: None,
            rule,
        }
    }
    pub(super) fn with_io(mut self, io: Io) -> Decision {
        if self.errno.is_none() {
            self.io = Some(io);
        }
        self
    }
    pub fn allowed(&self) -> bool {
        self.errno.is_none()
    }
    pub fn result(&self) -> Result<(), Errno> {
        match self.errno {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

/// A per-item grant (`app grant-file`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Grant {
    #[default]
    None,
    Read,
    Write,
}

/// What the store and the lower tree know about one file, for one caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileFacts {
    pub exists: bool,
    pub is_dir: bool,
    pub owner: Option<String>,
    /// Media type of the row (follows the name).
    pub media_type: Option<MediaType>,
    /// Hidden media: dot-name, or in a hidden dir (`.nomedia`, dot-dir), per SPEC §5.2.
    pub hidden: bool,
    /// Created through FUSE and not yet closed (`is_pending` without a `.pending-` name).
    pub fuse_pending: bool,
    /// The content carries location (scanner found ranges).
    pub has_location: bool,
    /// This caller's per-item grant on the row.
    pub grant: Grant,
}

impl FileFacts {
    pub fn file(owner: Option<&str>, name: &str) -> FileFacts {
        FileFacts {
            exists: true,
            owner: owner.map(str::to_string),
            media_type: Some(media_type_of(name)),
            ..FileFacts::default()
        }
    }
    pub fn dir() -> FileFacts {
        FileFacts {
            exists: true,
            is_dir: true,
            ..FileFacts::default()
        }
    }
    pub fn absent() -> FileFacts {
        FileFacts::default()
    }
}

/// Everything one decision needs about one path.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub path: &'a VolPath,
    pub facts: &'a FileFacts,
}

impl Target<'_> {
    /// Media type of the row; a name the store has no row for is typed by its extension.
    pub(super) fn media(&self) -> MediaType {
        self.facts
            .media_type
            .unwrap_or_else(|| media_type_of(self.path.file_name()))
    }

    pub(super) fn owned_by(&self, caller: &Caller) -> bool {
        self.facts
            .owner
            .as_deref()
            .is_some_and(|o| caller.owns_package(o))
    }
}
