//! Pure, host-testable policy core of mediaproviderd: identities, path model, MIME types, the
//! scoped-storage rule engine, the SQLite metadata store and the location-range scanner.
//! Nothing here mounts or talks FUSE; the daemon is a thin layer over this crate.

pub mod redact;
