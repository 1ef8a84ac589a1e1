//! Location-range scanner and redacted reads (owned by the scanner work; see SPEC §6).
