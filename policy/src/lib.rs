//! Pure, host-testable policy core of mediaproviderd: identities, path model, MIME types, the
//! scoped-storage rule engine, the SQLite metadata store and the location-range scanner.
//! Nothing here mounts or talks FUSE; the daemon is a thin layer over this crate.

pub mod backup;
pub mod errno;
pub mod facts;
pub mod identity;
pub mod lifecycle;
pub mod meta;
pub mod mime;
pub mod packages_list;
pub mod paths;
pub mod query;
pub mod redact;
pub mod rules;

pub use errno::Errno;
pub use identity::{Caller, CallerKind, Package, PermSet, Permission, Uid};
pub use mime::MediaType;
pub use paths::VolPath;
pub use rules::{Decision, FileFacts, Grant, Io, Op, Target};
pub mod store;

pub use store::{FileRow, Store, StoreError};
