//! Usage and per-command help (SPEC §3, §11): one table, from which the full usage, the
//! `CMD --help` pages and `--version` are printed. Help goes to stdout with exit 0, like any
//! system tool; a bare `mediaproviderd` prints the full usage.
//!
//! Keys are the words that select a command (`"app add"`, `"query"`); a command added
//! elsewhere only needs its row here and its arm in `main.rs`'s dispatch.

/// One command: how it is invoked and what it does.
pub struct Command {
    pub key: &'static str,
    pub synopsis: &'static str,
    pub about: &'static str,
}

pub const COMMANDS: &[Command] = &[
    Command {
        key: "serve",
        synopsis: "mediaproviderd serve --lower DIR --mount DIR [--db FILE] [--user N] [--threads N] [--no-passthrough] [--fuse-fd FD | --fuse-socket PATH] [--packages-list FILE] [--stats FILE]",
        about: "Mounts the lower tree at --mount (allow_other, nosuid, nodev, noexec) and serves it in the
foreground until SIGTERM/SIGINT (then unmounts and exits 0) or until the mount is removed.
Creates the default top-level directories and Android/{data,obb,media} if missing and
reconciles the store with the lower tree before serving.
  --db FILE            the store (default /var/lib/mediaproviderd/media.db); its directory
                       must exist; the store is created if missing
  --threads N          FUSE request threads (default 4)
  --no-passthrough     serve all I/O from the daemon
  --fuse-fd FD         serve an already-mounted, inherited /dev/fuse fd instead of mounting
  --fuse-socket PATH   receive that fd over a unix socket (SCM_RIGHTS) from a mounter
  --packages-list FILE import and follow Android's packages.list
  --stats FILE         write request counters to FILE as JSON on SIGUSR1",
    },
    Command {
        key: "app",
        synopsis: "mediaproviderd app add|grant|revoke|grant-file|revoke-file|remove|list|import-packages-list --db FILE ...",
        about: "Registers packages, their permissions and per-item grants. Each command commits to the
store, then tells a running daemon and returns once it has applied the change.
Only `app add` creates the store; the others refuse a --db that does not exist.
See `mediaproviderd app SUBCOMMAND --help`.",
    },
    Command {
        key: "app add",
        synopsis: "mediaproviderd app add --db FILE --package PKG --uid UID [--target-sdk N] [--legacy] [--grant PERM]...",
        about: "Registers PKG under UID (a second package on a uid makes a shared uid). Creates the store if
missing. PERM is an Android permission name, with or without `android.permission.`.",
    },
    Command {
        key: "app grant",
        synopsis: "mediaproviderd app grant --db FILE --package PKG PERM...",
        about: "Grants permissions (or the app-ops WRITE_MEDIA_IMAGES / WRITE_MEDIA_VIDEO) to PKG.",
    },
    Command {
        key: "app revoke",
        synopsis: "mediaproviderd app revoke --db FILE --package PKG PERM...",
        about: "Revokes permissions from PKG.",
    },
    Command {
        key: "app grant-file",
        synopsis: "mediaproviderd app grant-file --db FILE --package PKG [--write] PATH...",
        about: "Per-item grant (user-selected access; --write: a granted write request). PATH is relative to
the volume root, or absolute under the mount point.",
    },
    Command {
        key: "app revoke-file",
        synopsis: "mediaproviderd app revoke-file --db FILE --package PKG PATH...",
        about: "Removes per-item grants.",
    },
    Command {
        key: "app remove",
        synopsis: "mediaproviderd app remove --db FILE --package PKG",
        about: "Uninstall: deletes PKG's Android/{data,obb,media}/PKG with their rows; its other files stay,
owned by nobody.",
    },
    Command {
        key: "app list",
        synopsis: "mediaproviderd app list --db FILE",
        about: "Prints every registered package, one JSON object per line.",
    },
    Command {
        key: "app import-packages-list",
        synopsis: "mediaproviderd app import-packages-list --db FILE FILE",
        about: "Adds the packages of an Android /data/system/packages.list file (without permissions).",
    },
    Command {
        key: "scan",
        synopsis: "mediaproviderd scan --db FILE --lower DIR",
        about: "Reconciles an existing store with the lower tree and prints the counts.",
    },
    Command {
        key: "explain",
        synopsis: "mediaproviderd explain --db FILE --lower DIR --uid UID --op OP PATH [NEWPATH]",
        about: "Prints the decision the daemon would make, without touching files:
{\"allowed\",\"errno\",\"io\",\"ranges\",\"rule\"}. OP is one of lookup getattr open-read open-write
create mkdir rmdir unlink rename opendir readdir access-read access-write setattr
(rename takes NEWPATH). The store must exist.",
    },
    Command {
        key: "ranges",
        synopsis: "mediaproviderd ranges FILE",
        about: "Prints the location ranges of one media file and the bytes a redacted reader gets there.",
    },
    Command {
        key: "query",
        synopsis: "mediaproviderd query --db FILE --uid UID [--collection images|video|audio|downloads|files] [--path-prefix DIR] [--mime TYPE] [--include-pending] [--include-trashed] [--favorites] [--sort date_taken|date_modified|date_added|display_name|size|generation] [--desc] [--limit N] [--offset N]",
        about: "MediaStore query: prints the rows UID could open-read through the mount, one JSON object per
line. Pending and trashed rows only when asked for and only to those allowed to open them.
The store must exist.",
    },
    Command {
        key: "changes",
        synopsis: "mediaproviderd changes --db FILE --uid UID --since GENERATION",
        about: "Prints rows visible to UID changed after GENERATION, and {\"deleted\":ID} for rows removed
since then.",
    },
    Command {
        key: "trash",
        synopsis: "mediaproviderd trash --db FILE --uid UID PATH...",
        about: "Moves items to the trash (.trashed-<expiry>-<name>, expiry in 30 days). Needs write access.",
    },
    Command {
        key: "untrash",
        synopsis: "mediaproviderd untrash --db FILE --uid UID PATH...",
        about: "Restores trashed items to their names. Needs write access.",
    },
    Command {
        key: "favorite",
        synopsis: "mediaproviderd favorite --db FILE --uid UID PATH...",
        about: "Marks items as favorites. Needs write access.",
    },
    Command {
        key: "unfavorite",
        synopsis: "mediaproviderd unfavorite --db FILE --uid UID PATH...",
        about: "Clears the favorite mark. Needs write access.",
    },
    Command {
        key: "maintain",
        synopsis: "mediaproviderd maintain --db FILE --lower DIR [--now EPOCH_SECONDS]",
        about: "Deletes trashed items whose expiry passed and pending items older than 7 days that no one
has open.",
    },
];

pub fn version() -> String {
    format!("mediaproviderd {}", env!("CARGO_PKG_VERSION"))
}

/// Every command's synopsis (the `app` summary row is left out for its subcommands).
pub fn usage() -> String {
    let mut out = String::from("usage:\n");
    for c in COMMANDS.iter().filter(|c| c.key != "app") {
        out.push_str("  ");
        out.push_str(c.synopsis);
        out.push('\n');
    }
    out.push_str("  mediaproviderd --version\n  mediaproviderd CMD --help");
    out
}

/// The help page of a command (`"app add"`), if there is such a command.
pub fn page(key: &str) -> Option<String> {
    COMMANDS
        .iter()
        .find(|c| c.key == key)
        .map(|c| format!("usage: {}\n\n{}", c.synopsis, c.about))
}

/// `Some(key)` when `rest` (the words after the command) asks for help: `--help` or `-h`
/// before any `--`. `app SUB --help` selects the subcommand's page.
pub fn requested(cmd: &str, rest: &[String]) -> Option<String> {
    let asks = rest
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--help" || a == "-h");
    if !asks {
        return None;
    }
    let sub = rest.first().filter(|s| !s.starts_with('-'));
    Some(match sub {
        Some(s) if cmd == "app" => format!("app {s}"),
        _ => cmd.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_every_page_shows_its_synopsis() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert!(
                COMMANDS[..i].iter().all(|o| o.key != c.key),
                "duplicate {}",
                c.key
            );
            let page = page(c.key).unwrap_or_default();
            assert!(page.starts_with(&format!("usage: mediaproviderd {}", c.key)));
        }
    }

    #[test]
    fn help_is_found_before_a_double_dash_only() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(requested("scan", &v(&["--help"])).as_deref(), Some("scan"));
        assert_eq!(
            requested("app", &v(&["add", "-h"])).as_deref(),
            Some("app add")
        );
        assert_eq!(requested("app", &v(&["--help"])).as_deref(), Some("app"));
        assert_eq!(requested("ranges", &v(&["--", "--help"])), None);
        assert_eq!(requested("scan", &v(&["--db", "x"])), None);
    }
}
