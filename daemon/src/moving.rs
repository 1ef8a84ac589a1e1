//! Renames in flight. A rename moves the lower entry first and its store rows second; in
//! between, the old name has a row but no file. A listing or the background reconcile that
//! looks then would take the row for a file deleted behind the daemon's back and drop it, and
//! the moved file would be indexed again without its owner (SPEC §9: ownership is never lost).
//! They ask here first: a row at or below a name being renamed is never dropped.

use mediaprovider_policy::paths::VolPath;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Moving {
    /// Keys (case-folded paths) of the sources of renames in flight; a handful at most.
    sources: Mutex<Vec<String>>,
}

impl Moving {
    fn sources(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks `old` as being renamed until the returned guard is dropped.
    pub fn start(self: &Arc<Self>, old: &VolPath) -> MoveGuard {
        let key = old.key();
        self.sources().push(key.clone());
        MoveGuard {
            moving: self.clone(),
            key,
        }
    }

    /// Is `path` (or a directory above it) being renamed right now?
    pub fn covers(&self, path: &VolPath) -> bool {
        let key = path.key();
        self.sources().iter().any(|src| {
            key == *src
                || src.is_empty()
                || (key.starts_with(src.as_str()) && key.as_bytes().get(src.len()) == Some(&b'/'))
        })
    }
}

pub struct MoveGuard {
    moving: Arc<Moving>,
    key: String,
}

impl Drop for MoveGuard {
    fn drop(&mut self) {
        let mut sources = self.moving.sources();
        if let Some(i) = sources.iter().position(|k| *k == self.key) {
            sources.swap_remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> VolPath {
        VolPath::parse(s).unwrap()
    }

    #[test]
    fn covers_the_source_and_what_is_below_it_until_done() {
        let m = Arc::new(Moving::default());
        let g = m.start(&p("Download/Album"));
        assert!(m.covers(&p("download/album")));
        assert!(m.covers(&p("Download/Album/a.jpg")));
        assert!(!m.covers(&p("Download/Albums/a.jpg")));
        assert!(!m.covers(&p("Download")));
        let g2 = m.start(&p("Download/Album"));
        drop(g);
        assert!(
            m.covers(&p("Download/Album/a.jpg")),
            "second rename still in flight"
        );
        drop(g2);
        assert!(!m.covers(&p("Download/Album/a.jpg")));
    }
}
