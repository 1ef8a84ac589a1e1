//! MediaStore-style queries (SPEC §11) under exactly the rules of the mount: a row is returned
//! when its caller could open-read the file through FUSE, decided by `rules::open_read` on the
//! same facts the daemon uses — this module holds no rule of its own. Location columns are
//! filled only when that open would be served unredacted.

use crate::identity::Caller;
use crate::mime::MediaType;
use crate::paths::{parse_special_name, SpecialName, VolPath};
use crate::rules::{self, Grant, Io, Target};
use crate::store::{FileRow, MediaRow, RowFilter, SortKey, Store, StoreError};
use serde_json::{json, Value};
use std::collections::HashMap;

/// `query --collection`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Collection {
    Images,
    Video,
    /// Audio and playlists.
    Audio,
    /// Anything under `Download/`.
    Downloads,
    #[default]
    Files,
}

impl Collection {
    pub fn parse(s: &str) -> Option<Collection> {
        Some(match s {
            "images" => Collection::Images,
            "video" => Collection::Video,
            "audio" => Collection::Audio,
            "downloads" => Collection::Downloads,
            "files" => Collection::Files,
            _ => return None,
        })
    }
}

/// One `query` request (the options of SPEC §11).
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub collection: Collection,
    pub path_prefix: Option<VolPath>,
    pub mime: Option<String>,
    pub include_pending: bool,
    pub include_trashed: bool,
    pub favorites: bool,
    pub sort: SortKey,
    pub desc: bool,
    pub limit: Option<usize>,
    pub offset: usize,
}

/// How `caller` may read a row through the mount: `None` when it could not open it at all.
/// The one visibility function: queries, `changes` and the differential tests all go here.
pub fn read_access(caller: &Caller, row: &MediaRow, dir_hidden: bool, grant: Grant) -> Option<Io> {
    let mut facts = Store::row_facts(&row.file, dir_hidden, grant);
    // A row whose location verdict is not in yet but whose metadata has a position does carry
    // location: decide as the open would once the scanner has looked.
    facts.has_location |= row.meta.latitude.is_some();
    let d = rules::open_read(
        caller,
        Target {
            path: &row.file.path,
            facts: &facts,
        },
    );
    d.allowed().then(|| d.io.unwrap_or(Io::Passthrough))
}

/// Per-request caches for the facts the visibility function needs: the caller's grants (one
/// query) and each directory's hidden state (one lookup per directory, not per row).
struct Visibility<'a> {
    store: &'a Store,
    caller: &'a Caller,
    grants: HashMap<i64, Grant>,
    hidden_dirs: HashMap<String, bool>,
}

impl<'a> Visibility<'a> {
    fn new(store: &'a Store, caller: &'a Caller) -> Result<Self, StoreError> {
        let grants = if caller.packages.is_empty() {
            HashMap::new()
        } else {
            store.grants_of(caller)?
        };
        Ok(Visibility {
            store,
            caller,
            grants,
            hidden_dirs: HashMap::new(),
        })
    }

    fn access(&mut self, row: &MediaRow) -> Option<Io> {
        let parent = row.file.path.parent().unwrap_or_default();
        let store = self.store;
        let hidden = *self
            .hidden_dirs
            .entry(parent.key())
            .or_insert_with(|| store.dir_hidden(&parent));
        let grant = self.grants.get(&row.file.id).copied().unwrap_or_default();
        read_access(self.caller, row, hidden, grant)
    }
}

fn row_filter(q: &Query) -> RowFilter {
    let (media_types, under) = match q.collection {
        Collection::Images => (Some(vec![MediaType::Image]), None),
        Collection::Video => (Some(vec![MediaType::Video]), None),
        Collection::Audio => (Some(vec![MediaType::Audio, MediaType::Playlist]), None),
        Collection::Downloads => (None, VolPath::parse("Download").ok()),
        Collection::Files => (None, None),
    };
    RowFilter {
        media_types,
        under,
        mime: q.mime.clone(),
        include_pending: q.include_pending,
        include_trashed: q.include_trashed,
        favorites_only: q.favorites,
        since: None,
    }
}

/// Runs a query: the rows `caller` may see, in order, paged. Calls `emit` with each row.
pub fn run_query(
    store: &Store,
    caller: &Caller,
    q: &Query,
    emit: &mut dyn FnMut(Value),
) -> Result<(), StoreError> {
    let mut vis = Visibility::new(store, caller)?;
    let mut filter = row_filter(q);
    let prefix = q.path_prefix.clone().filter(|p| !p.is_root());
    // Both a collection directory and a path prefix: the deeper one, if they nest.
    if let Some(p) = prefix {
        match &filter.under {
            Some(u) if !p.starts_with(u) && !u.starts_with(&p) => return Ok(()),
            Some(u) if u.starts_with(&p) => {}
            _ => filter.under = Some(p),
        }
    }
    let limit = q.limit.unwrap_or(usize::MAX);
    if limit == 0 {
        return Ok(());
    }
    let (mut skipped, mut sent) = (0usize, 0usize);
    store.for_each_media_row(&filter, q.sort, q.desc, |row| {
        let Some(io) = vis.access(&row) else {
            return true;
        };
        if skipped < q.offset {
            skipped += 1;
            return true;
        }
        emit(row_json(&row, io));
        sent += 1;
        sent < limit
    })
}

/// `changes --since G`: every row visible to `caller` modified after `since` (pending and
/// trashed ones included, flagged, so a sync client learns of trashing), oldest change first,
/// then `{"deleted": id}` for each row removed after `since`.
pub fn run_changes(
    store: &Store,
    caller: &Caller,
    since: i64,
    emit: &mut dyn FnMut(Value),
) -> Result<(), StoreError> {
    let mut vis = Visibility::new(store, caller)?;
    let filter = RowFilter {
        include_pending: true,
        include_trashed: true,
        since: Some(since),
        ..RowFilter::default()
    };
    store.for_each_media_row(&filter, SortKey::Generation, false, |row| {
        if let Some(io) = vis.access(&row) {
            emit(row_json(&row, io));
        }
        true
    })?;
    for id in store.deleted_since(since)? {
        emit(json!({ "deleted": id }));
    }
    Ok(())
}

/// The name shown for a row: pending/trashed on-disk names are shown without their prefix,
/// like MediaStore's `_display_name`.
pub fn display_name(path: &VolPath) -> &str {
    let name = path.file_name();
    match parse_special_name(name) {
        Some(_) => original_name(name).unwrap_or(name),
        None => name,
    }
}

/// `.trashed-<epoch>-<name>` / `.pending-<epoch>-<name>` → `<name>`.
pub fn original_name(name: &str) -> Option<&str> {
    parse_special_name(name)?;
    // Prefix (9 bytes for both), digits, dash.
    let rest = name.get(9..)?;
    let dash = rest.find('-')?;
    rest.get(dash + 1..)
}

/// The on-disk name of a trashed item (SPEC §5.7).
pub fn trashed_name(name: &str, expires: i64) -> String {
    format!(".trashed-{expires}-{name}")
}

/// Is this row's name a trashed name?
pub fn is_trashed_name(path: &VolPath) -> bool {
    matches!(
        parse_special_name(path.file_name()),
        Some(SpecialName::Trashed { .. })
    )
}

/// One result row (SPEC §11 columns). Location only for unredacted readers.
pub fn row_json(row: &MediaRow, io: Io) -> Value {
    let f: &FileRow = &row.file;
    let m = &row.meta;
    let relative = match f.path.parent() {
        Some(p) if !p.is_root() => format!("{}/", p.as_str()),
        _ => String::new(),
    };
    let timed = matches!(f.media_type, MediaType::Audio | MediaType::Video);
    let located = io != Io::Redacted;
    json!({
        "id": f.id,
        "path": f.path.as_str(),
        "display_name": display_name(&f.path),
        "relative_path": relative,
        "mime_type": f.mime,
        "media_type": f.media_type.name(),
        "size": f.size,
        "date_added": row.date_added,
        "date_modified": f.mtime_ns.div_euclid(1_000_000_000),
        "date_taken": m.date_taken_ms,
        "width": m.width,
        "height": m.height,
        "orientation": m.orientation,
        "duration_ms": if timed { m.duration_ms } else { None },
        "owner_package": f.owner,
        "is_pending": f.is_pending,
        "is_trashed": f.is_trashed,
        "is_favorite": row.is_favorite,
        "date_expires": row.date_expires,
        "generation_added": row.generation_added,
        "generation_modified": row.generation_modified,
        "latitude": if located { m.latitude } else { None },
        "longitude": if located { m.longitude } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_names_round_trip() {
        assert_eq!(original_name(".trashed-1700000000-a.jpg"), Some("a.jpg"));
        assert_eq!(original_name(".pending-1-x-y.jpg"), Some("x-y.jpg"));
        assert_eq!(original_name("a.jpg"), None);
        assert_eq!(trashed_name("a.jpg", 5), ".trashed-5-a.jpg");
        let p = VolPath::parse("DCIM/.trashed-5-a.jpg").unwrap();
        assert!(is_trashed_name(&p));
        assert_eq!(display_name(&p), "a.jpg");
    }
}
