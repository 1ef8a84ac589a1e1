//! `mediaproviderd explain`: the decision the daemon would make, without touching files.

use super::{args, open_store, print_json, CliError};
use crate::facts::{scan_file, LocationCache, Probe};
use crate::lower::{Lower, Stat};
use mediaprovider_policy::facts::{self, LowerEntry};
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::rules::{self, Decision, Io, Op, Target};
use mediaprovider_policy::store::Store;
use serde_json::json;
use std::path::Path;

pub fn run(argv: &[String]) -> Result<(), CliError> {
    let a = args::parse(argv, &["db", "lower", "uid", "op"], &[])?;
    let lower_root = Path::new(a.require("lower")?);
    if !lower_root.is_dir() {
        return Err(CliError::usage(format!(
            "--lower: {} is not a directory",
            lower_root.display()
        )));
    }
    let uid: u32 = a
        .number("uid")?
        .ok_or_else(|| CliError::usage("missing --uid"))?;
    let op_name = a.require("op")?;
    let op = Op::parse(op_name)
        .ok_or_else(|| CliError::usage(format!("--op: unknown operation '{op_name}'")))?;
    let (path, new_path) = match (op, a.positional.as_slice()) {
        (Op::Rename, [p, n]) => (p, Some(n)),
        (Op::Rename, _) => return Err(CliError::usage("rename needs PATH and NEWPATH")),
        (_, [p]) => (p, None),
        _ => return Err(CliError::usage("explain needs exactly one PATH")),
    };
    let store = open_store(a.require("db")?)?;
    let out = explain(
        &store,
        lower_root,
        uid,
        op,
        path,
        new_path.map(|s| s.as_str()),
    )?;
    print_json(&out);
    Ok(())
}

fn vol_path(store: &Store, lower_root: &Path, raw: &str) -> Result<VolPath, CliError> {
    let bad = |m: String| CliError::usage(format!("path '{raw}': {m}"));
    if raw.starts_with('/') {
        let mut prefixes = vec![lower_root.to_string_lossy().into_owned()];
        if let Some(m) = store.setting(mediaprovider_policy::store::SETTING_MOUNT)? {
            prefixes.push(m);
        }
        for prefix in prefixes {
            if let Ok(rest) = Path::new(raw).strip_prefix(&prefix) {
                let rest = rest.to_str().ok_or_else(|| bad("not UTF-8".into()))?;
                return VolPath::parse(rest).map_err(|e| bad(e.to_string()));
            }
        }
        return Err(bad("absolute path is outside the volume".into()));
    }
    VolPath::parse(raw).map_err(|e| bad(e.to_string()))
}

/// The JSON decision of SPEC §3 for one operation.
pub fn explain(
    store: &Store,
    lower_root: &Path,
    uid: u32,
    op: Op,
    raw_path: &str,
    raw_new: Option<&str>,
) -> Result<serde_json::Value, CliError> {
    let caller = store.caller(uid)?;
    let path = vol_path(store, lower_root, raw_path)?;
    let io_err = |e: std::io::Error| CliError::failed(format!("{raw_path}: {e}"));
    let tree = Lower::open(lower_root).map_err(io_err)?;
    let cache = LocationCache::default();
    let probe = Probe {
        lower: &tree,
        cache: &cache,
    };
    let entry = |st: &Stat| LowerEntry {
        is_dir: st.is_dir(),
        size: st.size(),
        mtime_ns: st.mtime_ns(),
        being_written: false,
    };
    let found = tree.resolve(&path).map_err(io_err)?;
    // Decide on the on-disk spelling, as the daemon does.
    let path = found.as_ref().map_or(path, |(p, _)| p.clone());
    let f = facts::gather(
        store,
        &probe,
        &caller,
        &path,
        found.as_ref().map(|(_, st)| entry(st)),
    )?;
    let decision: Decision = if op == Op::Rename {
        let new_raw = raw_new.unwrap_or_default();
        let new_path = vol_path(store, lower_root, new_raw)?;
        let new_found = tree.resolve(&new_path).map_err(io_err)?;
        let nf = facts::gather(
            store,
            &probe,
            &caller,
            &new_path,
            new_found.as_ref().map(|(_, st)| entry(st)),
        )?;
        let contents = if f.is_dir {
            facts::rename_contents(store, &probe, &caller, &path)?
        } else {
            Vec::new()
        };
        rules::rename(
            &caller,
            Target {
                path: &path,
                facts: &f,
            },
            Target {
                path: &new_path,
                facts: &nf,
            },
            0,
            &contents,
        )
    } else if !f.exists && !matches!(op, Op::Create | Op::Mkdir) {
        // Operations on a name that does not exist fail as the kernel would report it, after
        // the policy had its say about private dirs.
        let d = rules::lookup(&caller, &path);
        if d.allowed() {
            Decision::deny(mediaprovider_policy::Errno::ENOENT, "no-such-file")
        } else {
            d
        }
    } else {
        rules::decide(
            &caller,
            op,
            Target {
                path: &path,
                facts: &f,
            },
        )
    };
    let mut ranges = Vec::new();
    if decision.io == Some(Io::Redacted) {
        if let Some((p, _)) = &found {
            let file = tree.open_file(p, libc::O_RDONLY).map_err(io_err)?;
            let scan = scan_file(&file).map_err(io_err)?;
            ranges = scan
                .ranges
                .iter()
                .map(|r| json!([r.start, r.end]))
                .collect();
        }
    }
    Ok(json!({
        "allowed": decision.allowed(),
        "errno": decision.errno.map(|e| e.name()),
        "io": decision.io.map(|i| i.name()),
        "ranges": ranges,
        "rule": decision.rule,
    }))
}
