//! Which files a directory listing shows (SPEC §5.2, §5.7).

use super::read::{read_access, ReadBasis};
use super::types::{FileFacts, Target};
use crate::identity::Caller;
use crate::paths::VolPath;

/// Is a file in a listing visible to `caller`? The read rules decide, and then store-based
/// listings (everyone but bypass callers, whose listing is the lower tree) additionally leave
/// out another app's FUSE-pending file (§5.7: it may still be opened by path) and, for the
/// gallery role, another app's hidden media (§5.2; the gallery may open it by path, as on
/// Android, whose gallery bypass goes by the file name). `path` is the file's path.
pub fn visible_in_listing(caller: &Caller, path: &VolPath, f: &FileFacts) -> bool {
    let t = Target { path, facts: f };
    let Ok((_, basis)) = read_access(caller, t) else {
        return false;
    };
    if basis == ReadBasis::Bypass || t.owned_by(caller) {
        return true;
    }
    let left_out = f.fuse_pending || (basis == ReadBasis::Gallery && f.hidden);
    !left_out
}
