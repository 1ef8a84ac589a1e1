//! Host check of `daemon/mediaproviderd.rc` (AOSP checks .rc files with host_init_verifier, which
//! is not packaged outside AOSP, so this is a small linter for the properties we rely on).
//!
//! Cross-checks the service against `Android.bp` (binary name, install path, `init_rc`) and
//! against `sepolicy/file_contexts` (the executable, the handoff socket and the database dir are
//! labelled), and checks the service's identity: `user media_rw`, groups, `capabilities
//! SYS_ADMIN` only, `class main`, the `serve` command line and the `/data/misc/mediaproviderd`
//! directory made in `on post-fs-data`.

use android_bp::{BluePrint, Value};
use std::fs;
use std::path::{Path, PathBuf};

const RC_PATH: &str = "daemon/mediaproviderd.rc";

/// Service options init knows (system/core/init/service_parser.cpp); anything else is a typo.
const SERVICE_OPTIONS: &[&str] = &[
    "capabilities",
    "class",
    "console",
    "critical",
    "disabled",
    "enter_namespace",
    "file",
    "gentle_kill",
    "group",
    "interface",
    "ioprio",
    "keycodes",
    "memcg.limit_in_bytes",
    "memcg.limit_percent",
    "memcg.limit_property",
    "memcg.soft_limit_in_bytes",
    "memcg.swappiness",
    "namespace",
    "oneshot",
    "onrestart",
    "oom_score_adjust",
    "override",
    "priority",
    "reboot_on_failure",
    "restart_period",
    "rlimit",
    "seclabel",
    "setenv",
    "shutdown",
    "sigstop",
    "socket",
    "stdio_to_kmsg",
    "task_profiles",
    "timeout_period",
    "updatable",
    "user",
    "writepid",
];

/// Linux capabilities by init's spelling (no CAP_ prefix).
const CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// One `service` or `on` section.
#[derive(Debug, Default, Clone)]
struct Section {
    /// "service" or "on".
    kind: String,
    /// The header words after the keyword.
    args: Vec<String>,
    /// Option / command lines, split into words, with their line numbers.
    lines: Vec<(usize, Vec<String>)>,
}

/// Minimal init .rc parser: comments, `\` continuations, sections by keyword.
fn parse_rc(text: &str) -> Result<Vec<Section>, String> {
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = if raw.trim_start().starts_with('#') {
            ""
        } else {
            raw
        };
        let (cont, body) = match line.strip_suffix('\\') {
            Some(b) => (true, b),
            None => (false, line),
        };
        let entry = pending.get_or_insert((i + 1, String::new()));
        entry.1.push(' ');
        entry.1.push_str(body);
        if !cont {
            logical.extend(pending.take());
        }
    }
    if let Some((n, _)) = pending {
        return Err(format!(
            "{RC_PATH}:{n}: continuation runs past the end of the file"
        ));
    }
    let mut sections: Vec<Section> = Vec::new();
    for (n, line) in logical {
        // A word starting with `#` begins a comment (init's tokenizer).
        let words: Vec<String> = line
            .split_whitespace()
            .take_while(|w| !w.starts_with('#'))
            .map(str::to_owned)
            .collect();
        let Some(first) = words.first() else { continue };
        match first.as_str() {
            "service" | "on" => sections.push(Section {
                kind: first.clone(),
                args: words[1..].to_vec(),
                lines: Vec::new(),
            }),
            "import" => {}
            _ => match sections.last_mut() {
                Some(s) => s.lines.push((n, words)),
                None => return Err(format!("{RC_PATH}:{n}: `{first}` outside of a section")),
            },
        }
    }
    Ok(sections)
}

struct BinInfo {
    name: String,
    install_dir: &'static str,
    init_rc: Vec<String>,
}

/// The daemon's rust_binary in Android.bp (with `defaults` looked up one level for init_rc).
fn bp_binary(bp_text: &str) -> Result<BinInfo, String> {
    let bp = BluePrint::parse(bp_text).map_err(|e| format!("Android.bp does not parse: {e}"))?;
    let bins: Vec<_> = bp.modules_by_type("rust_binary").collect();
    let [bin] = bins.as_slice() else {
        return Err(format!(
            "Android.bp: expected one rust_binary, found {}",
            bins.len()
        ));
    };
    let name = bin
        .get_string("name")
        .ok_or("Android.bp: rust_binary without a name")?
        .clone();
    let strings = |v: Option<&Vec<Value>>| -> Vec<String> {
        v.into_iter()
            .flatten()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    };
    let mut init_rc = strings(bin.get_array("init_rc"));
    let mut props = vec![*bin];
    for d in strings(bin.get_array("defaults")) {
        if let Some(m) = bp.modules.iter().find(|m| m.get_string("name") == Some(&d)) {
            init_rc.extend(strings(m.get_array("init_rc")));
            props.push(m);
        }
    }
    let flag = |k: &str| props.iter().any(|m| m.get_bool(k) == Some(true));
    let install_dir = if flag("system_ext_specific") {
        "/system_ext/bin"
    } else if flag("vendor") || flag("soc_specific") {
        "/vendor/bin"
    } else if flag("product_specific") {
        "/product/bin"
    } else {
        "/system/bin"
    };
    Ok(BinInfo {
        name,
        install_dir,
        init_rc,
    })
}

/// file_contexts entries as (pattern, type). Only literal paths and `prefix(/.*)?` are matched.
fn file_contexts(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let ctx = w.last()?;
            let ty = ctx.split(':').nth(2)?;
            Some((w[0].to_owned(), ty.to_owned()))
        })
        .collect()
}

fn label_of(fc: &[(String, String)], path: &str) -> Option<String> {
    let mut found = None;
    for (pat, ty) in fc {
        let lit = |p: &str| -> Option<String> {
            let p = p.replace("\\.", ".");
            if p.contains(|c: char| "()[]*+?^$|\\{}".contains(c)) {
                None
            } else {
                Some(p)
            }
        };
        let hit = if let Some(prefix) = pat.strip_suffix("(/.*)?") {
            lit(prefix).is_some_and(|p| path == p || path.starts_with(&format!("{p}/")))
        } else {
            lit(pat).is_some_and(|p| p == path)
        };
        if hit {
            // Like setfiles, the last matching entry wins.
            found = Some(ty.clone());
        }
    }
    found
}

fn option<'a>(svc: &'a Section, key: &str) -> Vec<&'a [String]> {
    svc.lines
        .iter()
        .filter(|(_, w)| w[0] == key)
        .map(|(_, w)| &w[1..])
        .collect()
}

fn flag_value<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    argv.iter()
        .position(|a| a == flag)
        .and_then(|i| argv.get(i + 1))
        .map(String::as_str)
}

/// All checks; returns the problems found.
fn check(rc: &str, bp: &str, fc: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let sections = match parse_rc(rc) {
        Ok(s) => s,
        Err(e) => return vec![e],
    };
    let bin = match bp_binary(bp) {
        Ok(b) => b,
        Err(e) => return vec![e],
    };
    let fc = file_contexts(fc);

    if !bin.init_rc.iter().any(|r| r == RC_PATH) {
        errs.push(format!(
            "Android.bp: rust_binary `{}` does not list {RC_PATH} in init_rc ({:?})",
            bin.name, bin.init_rc
        ));
    }

    let services: Vec<&Section> = sections.iter().filter(|s| s.kind == "service").collect();
    let Some(svc) = services.iter().find(|s| s.args.first() == Some(&bin.name)) else {
        errs.push(format!(
            "{RC_PATH}: no `service {}` (services: {:?})",
            bin.name,
            services.iter().map(|s| s.args.first()).collect::<Vec<_>>()
        ));
        return errs;
    };
    if services.len() != 1 {
        errs.push(format!(
            "{RC_PATH}: expected exactly one service, found {}",
            services.len()
        ));
    }
    let exec = svc.args.get(1).cloned().unwrap_or_default();
    let want_exec = format!("{}/{}", bin.install_dir, bin.name);
    if exec != want_exec {
        errs.push(format!(
            "{RC_PATH}: service executes {exec:?}, but Android.bp installs the binary as {want_exec}"
        ));
    }
    match label_of(&fc, &exec).as_deref() {
        Some("mediaproviderd_exec") => {}
        other => errs.push(format!(
            "sepolicy/file_contexts labels {exec} as {other:?}, want mediaproviderd_exec (else \
             init refuses to start the service: no domain transition)"
        )),
    }

    for (n, w) in &svc.lines {
        if !SERVICE_OPTIONS.contains(&w[0].as_str()) {
            errs.push(format!("{RC_PATH}:{n}: unknown service option `{}`", w[0]));
        }
    }
    let single = |key: &str, errs: &mut Vec<String>| -> Option<Vec<String>> {
        let v = option(svc, key);
        match v.as_slice() {
            [one] => Some(one.to_vec()),
            [] => {
                errs.push(format!("{RC_PATH}: service has no `{key}` line"));
                None
            }
            _ => {
                errs.push(format!("{RC_PATH}: service has several `{key}` lines"));
                None
            }
        }
    };
    let user = single("user", &mut errs);
    if let Some(u) = &user {
        if u.as_slice() != ["media_rw"] {
            errs.push(format!(
                "{RC_PATH}: `user {}`, want `user media_rw`",
                u.join(" ")
            ));
        }
    }
    if let Some(g) = single("group", &mut errs) {
        if g.first().map(String::as_str) != Some("media_rw") {
            errs.push(format!(
                "{RC_PATH}: primary group is {:?}, want media_rw",
                g.first()
            ));
        }
        if !g.iter().any(|x| x == "everybody") {
            errs.push(format!("{RC_PATH}: groups {g:?} lack `everybody`"));
        }
    }
    if let Some(c) = single("class", &mut errs) {
        if c.first().map(String::as_str) != Some("main") {
            errs.push(format!(
                "{RC_PATH}: `class {}`, want `class main`",
                c.join(" ")
            ));
        }
    }
    if let Some(caps) = single("capabilities", &mut errs) {
        for c in &caps {
            if !CAPS.contains(&c.as_str()) {
                errs.push(format!(
                    "{RC_PATH}: unknown capability `{c}` (init spells them without CAP_)"
                ));
            }
        }
        if caps != ["SYS_ADMIN"] {
            errs.push(format!(
                "{RC_PATH}: capabilities {caps:?}; the daemon needs exactly SYS_ADMIN (passthrough)"
            ));
        }
    }
    if !option(svc, "seclabel").is_empty() {
        errs.push(format!(
            "{RC_PATH}: no `seclabel` for /system services: the domain comes from file_contexts + \
             init_daemon_domain(mediaproviderd)"
        ));
    }

    // Command line.
    let argv = &svc.args[2.min(svc.args.len())..];
    if argv.first().map(String::as_str) != Some("serve") {
        errs.push(format!(
            "{RC_PATH}: service must run `mediaproviderd serve ...`, runs {argv:?}"
        ));
    }
    for f in ["--lower", "--mount", "--db"] {
        if flag_value(argv, f).is_none() {
            errs.push(format!("{RC_PATH}: serve lacks `{f} VALUE`"));
        }
    }
    let fd = flag_value(argv, "--fuse-fd");
    let sock = flag_value(argv, "--fuse-socket");
    match (fd, sock) {
        (Some(_), Some(_)) => errs.push(format!("{RC_PATH}: both --fuse-fd and --fuse-socket")),
        (Some(_), None) => errs.push(format!(
            "{RC_PATH}: --fuse-fd cannot work from init (no fd to inherit); use --fuse-socket"
        )),
        (None, None) => errs.push(format!(
            "{RC_PATH}: serve needs --fuse-socket /dev/socket/NAME: vold-style mounters hand the \
             /dev/fuse fd over"
        )),
        (None, Some(path)) => match path.strip_prefix("/dev/socket/") {
            None => errs.push(format!(
                "{RC_PATH}: --fuse-socket {path} is not under /dev/socket"
            )),
            Some(name) => {
                let sockets = option(svc, "socket");
                match sockets
                    .iter()
                    .find(|s| s.first().map(String::as_str) == Some(name))
                {
                    None => errs.push(format!(
                        "{RC_PATH}: --fuse-socket {path} but no `socket {name} ...` line creates it"
                    )),
                    Some(s) => {
                        if !matches!(s.get(1).map(String::as_str), Some("stream" | "seqpacket")) {
                            errs.push(format!(
                                "{RC_PATH}: socket {name} must be stream or seqpacket (SCM_RIGHTS \
                                 on a connection)"
                            ));
                        }
                        if s.len() < 5 {
                            errs.push(format!(
                                "{RC_PATH}: `socket {}`: want `socket NAME TYPE PERM USER GROUP`",
                                s.join(" ")
                            ));
                        } else if s[2].ends_with(|c: char| c != '0') {
                            errs.push(format!(
                                "{RC_PATH}: socket {name} is world-accessible ({})",
                                s[2]
                            ));
                        }
                    }
                }
                if label_of(&fc, path).is_none() {
                    errs.push(format!("sepolicy/file_contexts does not label {path}"));
                }
            }
        },
    }

    // Database directory: made at post-fs-data, owned by the service user, labelled.
    if let Some(db) = flag_value(argv, "--db") {
        let dir = Path::new(db)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if !dir.starts_with("/data/misc/") {
            errs.push(format!(
                "{RC_PATH}: --db {db} should live under /data/misc/<daemon>/"
            ));
        }
        let mkdir = sections
            .iter()
            .filter(|s| {
                s.kind == "on" && s.args.first().map(String::as_str) == Some("post-fs-data")
            })
            .flat_map(|s| s.lines.iter())
            .find(|(_, w)| w[0] == "mkdir" && w.get(1) == Some(&dir));
        match mkdir {
            None => errs.push(format!(
                "{RC_PATH}: no `mkdir {dir} 0700 media_rw media_rw` in `on post-fs-data`"
            )),
            Some((n, w)) => {
                let want = ["mkdir", dir.as_str(), "0700", "media_rw", "media_rw"];
                if w.iter().map(String::as_str).collect::<Vec<_>>() != want {
                    errs.push(format!(
                        "{RC_PATH}:{n}: `{}`, want `{}`",
                        w.join(" "),
                        want.join(" ")
                    ));
                }
            }
        }
        match label_of(&fc, &dir).as_deref() {
            Some("mediaproviderd_data_file") => {}
            other => errs.push(format!(
                "sepolicy/file_contexts labels {dir} as {other:?}, want mediaproviderd_data_file"
            )),
        }
    }
    errs
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn inputs() -> (String, String, String) {
    let r = root();
    let read = |p: &str| fs::read_to_string(r.join(p)).unwrap_or_else(|e| panic!("read {p}: {e}"));
    (
        read(RC_PATH),
        read("Android.bp"),
        read("sepolicy/file_contexts"),
    )
}

fn report(errs: &[String]) -> String {
    let mut s = format!("{} problem(s) in the init .rc:\n", errs.len());
    for e in errs {
        s.push_str("  - ");
        s.push_str(e);
        s.push('\n');
    }
    s
}

#[test]
fn init_rc_matches_android_bp_and_sepolicy() {
    let (rc, bp, fc) = inputs();
    let errs = check(&rc, &bp, &fc);
    assert!(errs.is_empty(), "{}", report(&errs));
}

fn rejected(rc_from: &str, rc_to: &str, needle: &str) {
    let (rc, bp, fc) = inputs();
    assert!(
        rc.contains(rc_from),
        "mutation anchor {rc_from:?} not in {RC_PATH}"
    );
    let errs = check(&rc.replacen(rc_from, rc_to, 1), &bp, &fc);
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "expected a problem mentioning {needle:?}, got:\n{}",
        report(&errs)
    );
}

#[test]
fn rejects_root_user() {
    rejected(
        "    user media_rw\n",
        "    user root\n",
        "want `user media_rw`",
    );
}

#[test]
fn rejects_extra_capability() {
    rejected(
        "capabilities SYS_ADMIN",
        "capabilities SYS_ADMIN DAC_OVERRIDE",
        "exactly SYS_ADMIN",
    );
}

#[test]
fn rejects_cap_prefix() {
    rejected(
        "capabilities SYS_ADMIN",
        "capabilities CAP_SYS_ADMIN",
        "unknown capability",
    );
}

#[test]
fn rejects_wrong_exec_path() {
    rejected(
        "/system/bin/mediaproviderd serve",
        "/vendor/bin/mediaproviderd serve",
        "installs the binary",
    );
}

#[test]
fn rejects_missing_socket_line() {
    let (rc, _, _) = inputs();
    let line = rc
        .lines()
        .find(|l| l.trim_start().starts_with("socket "))
        .expect("rc has a socket line")
        .to_owned();
    rejected(&format!("{line}\n"), "", "no `socket");
}

#[test]
fn rejects_missing_db_mkdir() {
    rejected(
        "    mkdir /data/misc/mediaproviderd 0700 media_rw media_rw\n",
        "",
        "on post-fs-data",
    );
}

#[test]
fn rejects_option_typo() {
    rejected(
        "    class main\n",
        "    clas main\n",
        "unknown service option `clas`",
    );
}

#[test]
fn rejects_unreferenced_rc() {
    let (rc, bp, fc) = inputs();
    let bp = bp.replace("init_rc: [\"daemon/mediaproviderd.rc\"],", "");
    let errs = check(&rc, &bp, &fc);
    assert!(
        errs.iter().any(|e| e.contains("init_rc")),
        "{}",
        report(&errs)
    );
}

#[test]
fn parses_continuations_and_comments() {
    let s = parse_rc("# c\nservice x /system/bin/x \\\n  serve --a b\n    user y # comment\n")
        .expect("parses");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].args, ["x", "/system/bin/x", "serve", "--a", "b"]);
    assert_eq!(s[0].lines[0].1, ["user", "y"]);
    assert!(parse_rc("    user y\n").is_err());
}
