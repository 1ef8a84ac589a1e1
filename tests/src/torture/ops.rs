//! The operations an app can be asked to perform, as data: what the planner chooses, the
//! executor runs and the log describes.

use super::content::Content;
use mediaprovider_policy::VolPath;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadHow {
    Read,
    /// Read, hold the fd a moment (while writers work), read it again from the start: the
    /// second read is judged.
    Held,
    MmapShared,
    MmapPrivate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
    Exists,
    Read,
    Write,
}

#[derive(Clone, Debug)]
pub enum Plan {
    /// `O_CREAT|O_EXCL|O_WRONLY`, write, close; or `O_RDONLY|O_CREAT` and close.
    Create {
        path: VolPath,
        content: Arc<Content>,
        rdonly: bool,
    },
    /// `O_WRONLY|O_TRUNC`, write, close.
    Rewrite {
        path: VolPath,
        content: Arc<Content>,
    },
    /// `O_WRONLY` (no truncation), pwrite at `off`, close.
    WriteAt {
        path: VolPath,
        off: u64,
        data: Vec<u8>,
    },
    /// Path-based truncate.
    Truncate {
        path: VolPath,
        len: u64,
    },
    /// Open for writing and close, without writing.
    OpenWrite {
        path: VolPath,
    },
    Unlink {
        path: VolPath,
    },
    Rename {
        from: VolPath,
        to: VolPath,
        noreplace: bool,
    },
    Mkdir {
        path: VolPath,
    },
    Rmdir {
        path: VolPath,
    },
    Read {
        path: VolPath,
        how: ReadHow,
    },
    Stat {
        path: VolPath,
    },
    Access {
        path: VolPath,
        mode: AccessMode,
    },
    Readdir {
        path: VolPath,
    },
    /// Open, unlink by path, then fstat the still-open handle (SPEC §9).
    FstatUnlinked {
        path: VolPath,
    },
    /// Create a name, unlink it under another case, create it again (SPEC §5.10).
    CaseRecreate {
        path: VolPath,
        content: Arc<Content>,
    },
}

impl Plan {
    pub fn name(&self) -> &'static str {
        match self {
            Plan::Create { rdonly: true, .. } => "create-rdonly",
            Plan::Create { .. } => "create",
            Plan::Rewrite { .. } => "rewrite",
            Plan::WriteAt { .. } => "write-at",
            Plan::Truncate { .. } => "truncate",
            Plan::OpenWrite { .. } => "open-write",
            Plan::Unlink { .. } => "unlink",
            Plan::Rename { .. } => "rename",
            Plan::Mkdir { .. } => "mkdir",
            Plan::Rmdir { .. } => "rmdir",
            Plan::Read {
                how: ReadHow::Read, ..
            } => "read",
            Plan::Read {
                how: ReadHow::Held, ..
            } => "read-held",
            Plan::Read { .. } => "mmap",
            Plan::Stat { .. } => "stat",
            Plan::Access { .. } => "access",
            Plan::Readdir { .. } => "readdir",
            Plan::FstatUnlinked { .. } => "fstat-unlinked",
            Plan::CaseRecreate { .. } => "case-recreate",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Plan::Create { path, content, .. } | Plan::Rewrite { path, content } => format!(
                "{} {path} [{} {}B loc={}]",
                self.name(),
                content.label,
                content.bytes.len(),
                content.has_location()
            ),
            Plan::CaseRecreate { path, .. } => format!("{} {path}", self.name()),
            Plan::WriteAt { path, off, data } => format!("write-at {path} @{off} +{}", data.len()),
            Plan::Truncate { path, len } => format!("truncate {path} to {len}"),
            Plan::Rename {
                from,
                to,
                noreplace,
            } => format!(
                "rename{} {from} -> {to}",
                if *noreplace { "(NOREPLACE)" } else { "" }
            ),
            Plan::Read { path, how } => format!("{} {path} ({how:?})", self.name()),
            Plan::Access { path, mode } => format!("access {path} {mode:?}"),
            Plan::OpenWrite { path }
            | Plan::Unlink { path }
            | Plan::Mkdir { path }
            | Plan::Rmdir { path }
            | Plan::Stat { path }
            | Plan::Readdir { path }
            | Plan::FstatUnlinked { path } => format!("{} {path}", self.name()),
        }
    }

    /// Paths this plan names (the first is the main one).
    pub fn paths(&self) -> Vec<&VolPath> {
        match self {
            Plan::Rename { from, to, .. } => vec![from, to],
            Plan::Create { path, .. }
            | Plan::Rewrite { path, .. }
            | Plan::WriteAt { path, .. }
            | Plan::Truncate { path, .. }
            | Plan::OpenWrite { path }
            | Plan::Unlink { path }
            | Plan::Mkdir { path }
            | Plan::Rmdir { path }
            | Plan::Read { path, .. }
            | Plan::Stat { path }
            | Plan::Access { path, .. }
            | Plan::Readdir { path }
            | Plan::FstatUnlinked { path }
            | Plan::CaseRecreate { path, .. } => vec![path],
        }
    }
}
