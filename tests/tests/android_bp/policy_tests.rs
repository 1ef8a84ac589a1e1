//! Android.bp runs every integration suite of the policy crate (`policy/tests/*.rs`) under
//! atest, host and device: one `rust_test` per file, as Cargo builds them, with the libraries
//! the file uses, the files it reads at compile time, and the corpus as test data where the
//! suite reads it.

use super::{b, check_test_module, expected, list, reads_in_files, s, Bp, Crate, Props};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// What a suite that reads the shared media corpus needs as `data:` (copied to testdata/).
pub const CORPUS_DATA: &[&str] = &["testdata/corpus/**/*", "testdata/tools/**/*"];

fn suites(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("policy/tests"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

pub fn check(root: &Path, bp: &Bp, policy: &Crate, errs: &mut Vec<String>) {
    let lib = format!("lib{}", policy.crate_name);
    // What a Cargo integration test of the policy crate may link: the crate, its dependencies
    // and its dev-dependencies.
    let deps = expected(policy, true, errs);
    let mut allowed: BTreeSet<String> = deps.rustlibs[0].clone();
    allowed.insert(lib.clone());
    for file in suites(root) {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let modules: Vec<&str> = bp
            .of_type("rust_test")
            .into_iter()
            .filter(|n| {
                let p = bp.resolved(n, &mut Vec::new());
                list(&p, "srcs") == [rel.clone()] || s(&p, "crate_root") == Some(rel.as_str())
            })
            .collect();
        let name = match modules.as_slice() {
            [one] => *one,
            [] => {
                errs.push(format!(
                    "Android.bp: no rust_test for {rel}: atest would never run it"
                ));
                continue;
            }
            many => {
                errs.push(format!(
                    "Android.bp: several rust_test modules for {rel}: {many:?}"
                ));
                continue;
            }
        };
        let p = bp.resolved(name, errs);
        check_test_module(name, &p, errs);
        if s(&p, "crate_name") != Some(stem.as_str()) {
            errs.push(format!(
                "Android.bp: `{name}` crate_name is {:?}, Cargo names the test `{stem}`",
                s(&p, "crate_name")
            ));
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        check_libs(name, &p, &text, &lib, &allowed, errs);
        check_reads(root, name, &p, &file, errs);
        check_corpus(name, &p, &text, &rel, errs);
    }
}

fn check_libs(
    name: &str,
    p: &Props,
    text: &str,
    lib: &str,
    allowed: &BTreeSet<String>,
    errs: &mut Vec<String>,
) {
    let have = list(p, "rustlibs");
    if !have.iter().any(|m| m == lib) {
        errs.push(format!("Android.bp: `{name}` rustlibs lacks \"{lib}\""));
    }
    for m in &have {
        if !allowed.contains(m) {
            errs.push(format!(
                "Android.bp: `{name}` rustlibs has \"{m}\", which the policy crate's tests cannot use \
                 under Cargo"
            ));
        }
    }
    // Crates the suite names in its source must be linked.
    for (krate, module) in [
        ("serde_json::", "libserde_json"),
        ("rusqlite::", "librusqlite"),
        ("log::", "liblog_rust"),
    ] {
        if text.contains(krate) && !have.iter().any(|m| m == module) {
            errs.push(format!(
                "Android.bp: `{name}` uses {} but rustlibs lacks \"{module}\"",
                krate.trim_end_matches(':')
            ));
        }
    }
}

fn check_reads(root: &Path, name: &str, p: &Props, file: &Path, errs: &mut Vec<String>) {
    let data = list(p, "compile_data");
    let crate_dir = root.join("policy");
    for (read, at) in reads_in_files(root, &crate_dir, &[file.to_path_buf()], errs) {
        if read == "<cargo_env>" {
            if b(p, "cargo_env_compat") != Some(true) {
                errs.push(format!(
                    "{at}: uses env!(\"CARGO_...\"); `{name}` needs cargo_env_compat: true"
                ));
            }
        } else if !data.contains(&read) {
            errs.push(format!(
                "{at}: reads {read} at compile time; add it to `{name}` compile_data"
            ));
        }
    }
}

fn check_corpus(name: &str, p: &Props, text: &str, rel: &str, errs: &mut Vec<String>) {
    if !text.contains("corpus") {
        return;
    }
    let data = list(p, "data");
    for want in CORPUS_DATA {
        if !data.iter().any(|d| d == want) {
            errs.push(format!(
                "Android.bp: `{name}` reads the media corpus but data lacks \"{want}\""
            ));
        }
    }
    // On a device the data lands beside the test binary: the suite must look there.
    if !text.contains("testdata/corpus") {
        errs.push(format!(
            "{rel}: reads the corpus but never looks for testdata/corpus beside the test binary \
             (where atest puts `data:`)"
        ));
    }
}
