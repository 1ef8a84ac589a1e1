//! Fuzzes the metadata extractor (SPEC §11): any input, no panic, bounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mediaprovider_policy::meta;

fuzz_target!(|data: &[u8]| {
    let m = meta::extract(&data);
    // Whatever is extracted is within the ranges the columns promise.
    if let Some(o) = m.orientation {
        assert!(matches!(o, 0 | 90 | 180 | 270));
    }
    if let (Some(la), Some(lo)) = (m.latitude, m.longitude) {
        assert!(la.is_finite() && lo.is_finite());
    }
});
