//! `torture`: the torture harness behind `scripts/torture.sh` (issue 10).

#[path = "../torture/mod.rs"]
mod torture;

fn main() {
    // The daemon built beside this binary (cargo puts both in target/<profile>/), unless the
    // caller names one; set before any thread exists.
    if std::env::var_os("MEDIAPROVIDERD_BIN").is_none() {
        if let Some(bin) = std::env::current_exe()
            .ok()
            .and_then(|e| Some(e.parent()?.join("mediaproviderd")))
            .filter(|b| b.is_file())
        {
            std::env::set_var("MEDIAPROVIDERD_BIN", bin);
        }
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(torture::main(&args));
}
