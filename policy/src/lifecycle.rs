//! Trash, untrash, favorite (SPEC §11 lifecycle) and what `maintain` deletes. Each change needs
//! write access to the item, decided by `rules::access_write` on the store's facts (SPEC §5.3);
//! this module only plans names — the daemon or the CLI renames the lower file.

use crate::errno::Errno;
use crate::identity::Caller;
use crate::paths::VolPath;
use crate::query::{is_trashed_name, original_name, trashed_name};
use crate::rules::{self, Target};
use crate::store::{FileRow, Store};

/// A trashed item's name keeps it for this long (MediaStore's default).
pub const TRASH_SECONDS: i64 = 30 * 86_400;
/// Pending items nobody holds open are deleted after this long.
pub const PENDING_SECONDS: i64 = 7 * 86_400;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Trash,
    Untrash,
    Favorite,
    Unfavorite,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "trash" => Action::Trash,
            "untrash" => Action::Untrash,
            "favorite" => Action::Favorite,
            "unfavorite" => Action::Unfavorite,
            _ => return None,
        })
    }
}

/// What carrying out an action takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Rename the lower file, then the row (same directory). `from == to`: nothing to do.
    Rename {
        from: VolPath,
        to: VolPath,
    },
    Favorite {
        path: VolPath,
        on: bool,
    },
}

/// A refused action: the errno and a one-line reason.
pub type Refusal = (Errno, String);

/// Checks `caller`'s write access to `path` and plans `action` at time `now` (seconds).
pub fn plan(
    store: &Store,
    caller: &Caller,
    action: Action,
    path: &VolPath,
    now: i64,
) -> Result<Plan, Refusal> {
    let store_err = |e| (Errno::EIO, format!("store: {e}"));
    let row: FileRow = store
        .file(path)
        .map_err(store_err)?
        .ok_or_else(|| (Errno::ENOENT, format!("{path}: no such file")))?;
    let hidden = store.dir_hidden(&row.path.parent().unwrap_or_default());
    let facts = store
        .facts_for_row(caller, &row, hidden)
        .map_err(store_err)?;
    let d = rules::access_write(
        caller,
        Target {
            path: &row.path,
            facts: &facts,
        },
    );
    if !d.allowed() {
        // Private-dir denials look like absence elsewhere; here every refusal is EACCES (§11).
        return Err((
            Errno::EACCES,
            format!("{path}: no write access ({})", d.rule),
        ));
    }
    let parent = row.path.parent().unwrap_or_default();
    let name = row.path.file_name();
    let renamed = |new: String| {
        parent
            .join(&new)
            .map_err(|e| (Errno::EINVAL, format!("{path}: {e}")))
    };
    Ok(match action {
        Action::Favorite | Action::Unfavorite => Plan::Favorite {
            path: row.path.clone(),
            on: action == Action::Favorite,
        },
        Action::Trash if is_trashed_name(&row.path) => Plan::Rename {
            from: row.path.clone(),
            to: row.path.clone(),
        },
        Action::Trash => {
            let base = original_name(name).unwrap_or(name);
            Plan::Rename {
                from: row.path.clone(),
                to: renamed(trashed_name(base, now.saturating_add(TRASH_SECONDS)))?,
            }
        }
        Action::Untrash => match original_name(name).filter(|_| is_trashed_name(&row.path)) {
            None => Plan::Rename {
                from: row.path.clone(),
                to: row.path.clone(),
            },
            Some(orig) => {
                let to = renamed(orig.to_string())?;
                if store.file(&to).map_err(store_err)?.is_some() {
                    return Err((Errno::EEXIST, format!("{to} exists")));
                }
                Plan::Rename {
                    from: row.path.clone(),
                    to,
                }
            }
        },
    })
}

/// Rows `maintain` deletes at `now`: expired trashed items, and pending items older than
/// [`PENDING_SECONDS`] (the caller skips those someone still holds open).
pub fn expired(store: &Store, now: i64) -> Result<Vec<FileRow>, crate::store::StoreError> {
    store.expired_rows(now, PENDING_SECONDS)
}
