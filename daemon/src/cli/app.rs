//! `mediaproviderd app …`: register packages, permissions and per-item grants. Each command
//! commits to the store, then tells a running daemon (if any) and waits for it to apply.

use super::{args, create_store, open_store, print_json, CliError, StoreContext};
use crate::control::{self, Request};
use crate::lower;
use mediaprovider_policy::identity::{
    app_id, Package, PermSet, Permission, AID_APP_START, DEFAULT_TARGET_SDK,
};
use mediaprovider_policy::paths::VolPath;
use mediaprovider_policy::store::{Store, SETTING_CONTROL, SETTING_LOWER};
use serde_json::json;
use std::path::Path;

pub fn run(argv: &[String]) -> Result<(), CliError> {
    let Some((sub, rest)) = argv.split_first() else {
        return Err(CliError::usage("app: missing subcommand (add, grant, revoke, grant-file, revoke-file, remove, list, import-packages-list)"));
    };
    match sub.as_str() {
        "add" => add(rest),
        "grant" => permissions(rest, true),
        "revoke" => permissions(rest, false),
        "grant-file" => grant_file(rest, true),
        "revoke-file" => grant_file(rest, false),
        "remove" => remove(rest),
        "list" => list(rest),
        "import-packages-list" => import_packages_list(rest),
        other => Err(CliError::usage(format!(
            "app: unknown subcommand '{other}'"
        ))),
    }
}

pub fn package_json(p: &Package) -> serde_json::Value {
    json!({
        "package": p.name,
        "uid": p.uid,
        "target_sdk": p.target_sdk,
        "legacy": p.legacy,
        "permissions": p.perms.names(),
    })
}

fn parse_perms(names: &[String]) -> Result<PermSet, CliError> {
    let mut set = PermSet::empty();
    for n in names {
        set.insert(Permission::parse(n).map_err(|e| CliError::usage(e.to_string()))?);
    }
    Ok(set)
}

fn valid_package_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        && !name.starts_with('.')
}

fn add(argv: &[String]) -> Result<(), CliError> {
    let a = args::parse(
        argv,
        &["db", "package", "uid", "target-sdk", "grant"],
        &["legacy"],
    )?;
    a.no_positionals()?;
    let name = a.require("package")?;
    if !valid_package_name(name) {
        return Err(CliError::usage(format!(
            "--package: '{name}' is not a valid package name"
        )));
    }
    let uid: u32 = a
        .number("uid")?
        .ok_or_else(|| CliError::usage("missing --uid"))?;
    if app_id(uid) < AID_APP_START {
        return Err(CliError::usage(format!(
            "--uid: {uid} is not an app uid (app id must be >= {AID_APP_START})"
        )));
    }
    let pkg = Package {
        name: name.to_string(),
        uid,
        target_sdk: a.number("target-sdk")?.unwrap_or(DEFAULT_TARGET_SDK),
        legacy: a.has("legacy"),
        perms: parse_perms(a.all("grant"))?,
    };
    let store = create_store(a.require("db")?)?;
    store
        .add_package(&pkg)
        .doing(|| format!("adding package {}", pkg.name))?;
    notify(&store, &Request::Refresh)?;
    print_json(&package_json(&pkg));
    Ok(())
}

fn permissions(argv: &[String], grant: bool) -> Result<(), CliError> {
    let a = args::parse(argv, &["db", "package"], &[])?;
    if a.positional.is_empty() {
        return Err(CliError::usage("no permission given"));
    }
    let perms = parse_perms(&a.positional)?;
    let store = open_store(a.require("db")?)?;
    let name = a.require("package")?;
    let pkg = if grant {
        store.update_permissions(name, perms, PermSet::empty())
    } else {
        store.update_permissions(name, PermSet::empty(), perms)
    }
    .doing(|| format!("updating permissions of {name}"))?;
    notify(&store, &Request::Refresh)?;
    print_json(&package_json(&pkg));
    Ok(())
}

/// Accepts a volume-relative path, or an absolute one under the mount point or lower root.
fn volume_path(store: &Store, raw: &str) -> Result<VolPath, CliError> {
    crate::provider::volume_path(store, raw).map_err(|e| CliError::usage(e.message))
}

fn grant_file(argv: &[String], grant: bool) -> Result<(), CliError> {
    let switches: &[&'static str] = if grant { &["write"] } else { &[] };
    let a = args::parse(argv, &["db", "package"], switches)?;
    if a.positional.is_empty() {
        return Err(CliError::usage("no path given"));
    }
    let store = open_store(a.require("db")?)?;
    let name = a.require("package")?;
    if store.package(name)?.is_none() {
        return Err(CliError::usage(format!("unknown package '{name}'")));
    }
    let mut done = Vec::new();
    for raw in &a.positional {
        let path = volume_path(&store, raw)?;
        if store.file(&path)?.is_none() {
            // A file the store has not seen yet (added behind its back): index it first.
            index_from_lower(&store, &path)?;
        }
        if grant {
            store
                .grant_file(name, &path, a.has("write"))
                .doing(|| format!("granting {path} to {name}"))?;
        } else {
            store
                .revoke_file(name, &path)
                .doing(|| format!("revoking {path} from {name}"))?;
        }
        done.push(path.to_string());
    }
    notify(&store, &Request::Refresh)?;
    print_json(
        &json!({"package": name, "paths": done, "granted": grant, "write": grant && a.has("write")}),
    );
    Ok(())
}

fn index_from_lower(store: &Store, path: &VolPath) -> Result<(), CliError> {
    let missing = || CliError::usage(format!("no such file '{path}'"));
    let lower_root = store.setting(SETTING_LOWER)?.ok_or_else(missing)?;
    let (_, md) = lower::resolve(Path::new(&lower_root), path)
        .map_err(|e| CliError::failed(format!("{path}: {e}")))?
        .ok_or_else(missing)?;
    if !md.is_file() {
        return Err(CliError::usage(format!("'{path}' is not a file")));
    }
    store
        .upsert_file(&mediaprovider_policy::store::NewFile {
            path,
            owner: mediaprovider_policy::store::implied_owner(path).as_deref(),
            size: std::os::unix::fs::MetadataExt::size(&md),
            mtime_ns: mediaprovider_policy::store::mtime_ns(&md),
            fuse_pending: false,
        })
        .doing(|| format!("indexing {path}"))?;
    Ok(())
}

fn remove(argv: &[String]) -> Result<(), CliError> {
    let a = args::parse(argv, &["db", "package"], &[])?;
    a.no_positionals()?;
    let store = open_store(a.require("db")?)?;
    let name = a.require("package")?;
    let pkg = store
        .remove_package(name)
        .doing(|| format!("removing package {name}"))?;
    let request = Request::Remove {
        package: pkg.name.clone(),
    };
    let reached = notify(&store, &request)?;
    if !reached {
        // No daemon: delete the app-specific dirs ourselves.
        if let Some(lower_root) = store.setting(SETTING_LOWER)? {
            delete_app_dirs(Path::new(&lower_root), &pkg.name)
                .map_err(|e| CliError::failed(format!("deleting app dirs: {e}")))?;
        }
    }
    print_json(&json!({"removed": pkg.name, "uid": pkg.uid}));
    Ok(())
}

/// Deletes `Android/{data,obb,media}/<pkg>` in the lower tree (case-insensitively found).
pub fn delete_app_dirs(lower_root: &Path, package: &str) -> std::io::Result<()> {
    lower::Lower::open(lower_root)?.delete_app_dirs(package)
}

fn list(argv: &[String]) -> Result<(), CliError> {
    let a = args::parse(argv, &["db"], &[])?;
    a.no_positionals()?;
    let store = open_store(a.require("db")?)?;
    for p in store.packages()? {
        print_json(&package_json(&p));
    }
    Ok(())
}

fn import_packages_list(argv: &[String]) -> Result<(), CliError> {
    let a = args::parse(argv, &["db"], &[])?;
    let [file] = a.positional.as_slice() else {
        return Err(CliError::usage(
            "import-packages-list needs exactly one FILE",
        ));
    };
    let text =
        std::fs::read_to_string(file).map_err(|e| CliError::usage(format!("{file}: {e}")))?;
    let entries = mediaprovider_policy::packages_list::parse(&text)
        .map_err(|e| CliError::usage(format!("{file}: {e}")))?;
    let store = open_store(a.require("db")?)?;
    let (mut added, mut existing) = (0, 0);
    for e in entries {
        if store.package(&e.package)?.is_some() {
            existing += 1;
            continue;
        }
        store
            .add_package(&Package {
                name: e.package.clone(),
                uid: e.uid,
                target_sdk: DEFAULT_TARGET_SDK,
                legacy: false,
                perms: PermSet::empty(),
            })
            .doing(|| format!("adding package {} from {file}", e.package))?;
        added += 1;
    }
    notify(&store, &Request::Refresh)?;
    print_json(&json!({"added": added, "existing": existing}));
    Ok(())
}

/// Tells a running daemon; `Ok(false)` if none is running.
pub fn notify(store: &Store, req: &Request) -> Result<bool, CliError> {
    let Some(sock) = store.setting(SETTING_CONTROL)? else {
        return Ok(false);
    };
    control::send(Path::new(&sock), req).map_err(CliError::failed)
}
