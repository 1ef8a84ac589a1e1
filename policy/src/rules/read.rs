//! Lookup, read opens and `access(R_OK/X_OK)` (SPEC §5.2, §6).

use super::dirs::opendir;
use super::gates::{gate, private_denial, special_name_denial, Need};
use super::types::{Decision, Grant, Io, Target};
use crate::errno::Errno;
use crate::identity::Caller;
use crate::mime::MediaType;
use crate::paths::VolPath;

/// Lookup and getattr are not secret (CTS asserts `exists()` on others' files), except inside
/// another app's private dir, which must look absent (§5.1).
pub fn lookup(caller: &Caller, path: &VolPath) -> Decision {
    private_denial(caller, &path.info()).unwrap_or(Decision::allow("stat-not-secret"))
}

// ---- reads -----------------------------------------------------------------------------------

/// Why a read was allowed; decides redaction (§6) and listing visibility (§5.2, §5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadBasis {
    /// Decided by the gate (uid below 10000, own app dir, installer, MES, legacy + READ): these
    /// callers see the lower tree as it is, never redacted.
    Bypass,
    /// The gallery role on an image/video: never redacted, but its listings come from the store.
    Gallery,
    /// The owner or the holder of a write grant: never redacted.
    Writer,
    /// A read permission or a read grant: location is redacted unless the caller holds
    /// ACCESS_MEDIA_LOCATION.
    Reader,
}

/// May the caller read an existing file? `Ok((rule, basis))` or the denial.
pub(super) fn read_access(
    caller: &Caller,
    t: Target,
) -> Result<(&'static str, ReadBasis), Decision> {
    if let Some(d) = gate(caller, &t.path.info(), Need::Read) {
        return if d.allowed() {
            Ok((d.rule, ReadBasis::Bypass))
        } else {
            Err(d)
        };
    }
    let media = t.media();
    // Android's gallery bypass goes by the name's media type, so it also opens others' hidden
    // and pending/trashed images and videos.
    if caller.gallery() && media.is_visual() {
        return Ok(("gallery-role", ReadBasis::Gallery));
    }
    if t.owned_by(caller) {
        return Ok(("owner", ReadBasis::Writer));
    }
    let deny = |rule| Err(Decision::deny(Errno::EACCES, rule));
    if let Some(rule) = special_name_denial(t.path) {
        return deny(rule);
    }
    match t.facts.grant {
        Grant::Write => return Ok(("write-grant", ReadBasis::Writer)),
        Grant::Read => return Ok(("read-grant", ReadBasis::Reader)),
        Grant::None => {}
    }
    let (permitted, rule) = match media {
        MediaType::Image => (caller.read_images(), "read-media-images"),
        MediaType::Video => (caller.read_video(), "read-media-video"),
        MediaType::Audio | MediaType::Playlist => (caller.read_audio(), "read-media-audio"),
        MediaType::Subtitle if caller.read_audio() => (true, "read-media-audio"),
        MediaType::Subtitle => (caller.read_video(), "read-media-video"),
        // Android indexes others' non-media files for nobody but MES and legacy apps.
        MediaType::None | MediaType::Document => return deny("non-media-other-app"),
    };
    // Hidden media is indexed as non-media (media_type 0), so no read permission covers it.
    if t.facts.hidden {
        return deny("hidden-media-other-app");
    }
    if !permitted {
        return deny("no-read-permission");
    }
    Ok((rule, ReadBasis::Reader))
}

/// Read-only open. On success `io` says whether the caller gets the original bytes
/// (passthrough) or the location-redacted view (§6).
pub fn open_read(caller: &Caller, t: Target) -> Decision {
    match read_access(caller, t) {
        Err(d) => d,
        Ok((rule, basis)) => {
            let redact = basis == ReadBasis::Reader && t.facts.has_location && !caller.location();
            Decision::allow(rule).with_io(if redact {
                Io::Redacted
            } else {
                Io::Passthrough
            })
        }
    }
}

/// `access(R_OK)`: a file answers like a read open (without I/O mode), a directory like opendir.
pub fn access_read(caller: &Caller, t: Target) -> Decision {
    if t.facts.is_dir {
        return opendir(caller, t.path);
    }
    read_access(caller, t).map_or_else(|d| d, |(rule, _)| Decision::allow(rule))
}

/// `access(X_OK)`: the mount is `noexec`, so regular files are never executable, for any
/// caller (the kernel itself answers EACCES); directories may be traversed wherever lookup works.
pub fn access_exec(caller: &Caller, t: Target) -> Decision {
    if let Some(d) = private_denial(caller, &t.path.info()) {
        return d;
    }
    if t.facts.is_dir {
        Decision::allow("dir-traverse")
    } else {
        Decision::deny(Errno::EACCES, "noexec-mount")
    }
}
