//! `mediaproviderd ranges FILE`: the location ranges of one media file (SPEC §3).

use super::{args, print_json, CliError};
use mediaprovider_policy::redact;
use std::path::Path;

pub fn run(argv: &[String]) -> Result<(), CliError> {
    let a = args::parse(argv, &[], &[])?;
    let [file] = a.positional.as_slice() else {
        return Err(CliError::usage("ranges needs exactly one FILE"));
    };
    let path = Path::new(file);
    if !path.is_file() {
        return Err(CliError::usage(format!("{file}: not a regular file")));
    }
    let result = redact::scan_path(path).map_err(|e| CliError::failed(format!("{file}: {e}")))?;
    print_json(&result.to_json());
    Ok(())
}
