//! `ranges` JSON (SPEC §3) and its strict inverse used by the store's cache.

// In a `redact` module so `cargo test -p mediaprovider_policy redact` selects these tests.
mod redact {

    use std::borrow::Cow;

    use mediaprovider_policy::redact::{LocationRange, Replacement, ScanResult};
    use serde_json::json;

    fn sample() -> ScanResult {
        ScanResult {
            format: "png",
            ranges: vec![
                LocationRange {
                    start: 33,
                    end: 97,
                    kind: Cow::Borrowed("exif-gps-ifd"),
                    replacement: Replacement::Fill(0),
                },
                LocationRange {
                    start: 97,
                    end: 101,
                    kind: Cow::Borrowed("png-crc"),
                    replacement: Replacement::Bytes(vec![0xDE, 0xAD, 0x0B, 0xEF]),
                },
            ],
        }
    }

    #[test]
    fn to_json_is_the_spec_shape() {
        assert_eq!(
            sample().to_json(),
            json!({"format":"png","ranges":[
            {"start":33,"end":97,"kind":"exif-gps-ifd","fill":0},
            {"start":97,"end":101,"kind":"png-crc","hex":"dead0bef"}]})
        );
    }

    #[test]
    fn round_trip_keeps_known_kinds_borrowed_and_unknown_owned() {
        let back = ScanResult::from_json(&sample().to_json()).unwrap();
        assert_eq!(back, sample());
        assert!(matches!(back.ranges[0].kind, Cow::Borrowed(_)));
        let v = json!({"format":"jpeg","ranges":[{"start":1,"end":2,"kind":"custom","fill":32}]});
        let r = ScanResult::from_json(&v).unwrap();
        assert!(matches!(r.ranges[0].kind, Cow::Owned(_)));
        assert_eq!(r.ranges[0].replacement, Replacement::Fill(32));
        // text round trip, as the store caches it
        let text = sample().to_json().to_string();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(ScanResult::from_json(&v), Some(sample()));
        let empty = json!({"format":"unknown","ranges":[]});
        assert!(!ScanResult::from_json(&empty).unwrap().has_location());
    }

    #[test]
    fn from_json_rejects_invalid_input() {
        let bad = [
            json!({"format":"gif","ranges":[]}),
            json!({"format":"jpeg"}),
            json!({"format":"jpeg","ranges":[{"start":5,"end":5,"kind":"k","fill":0}]}),
            json!({"format":"jpeg","ranges":[{"start":6,"end":5,"kind":"k","fill":0}]}),
            json!({"format":"jpeg","ranges":[{"start":0,"end":5,"kind":"k","fill":256}]}),
            json!({"format":"jpeg","ranges":[{"start":0,"end":5,"kind":"k"}]}),
            json!({"format":"jpeg","ranges":[{"start":0,"end":2,"kind":"k","fill":0,"hex":"0000"}]}),
            json!({"format":"jpeg","ranges":[{"start":0,"end":2,"kind":"k","hex":"000"}]}),
            json!({"format":"jpeg","ranges":[{"start":0,"end":2,"kind":"k","hex":"00zz"}]}),
            json!({"format":"jpeg","ranges":[{"start":0,"end":3,"kind":"k","hex":"0000"}]}),
            json!({"format":"jpeg","ranges":[{"start":0,"end":4,"kind":"k","fill":0},{"start":3,"end":6,"kind":"k","fill":0}]}),
            json!({"format":"jpeg","ranges":[{"start":-1,"end":4,"kind":"k","fill":0}]}),
            json!({"format":"jpeg","ranges":[{"start":0,"end":4,"fill":0}]}),
            json!([]),
        ];
        for v in bad {
            assert_eq!(ScanResult::from_json(&v), None, "{v}");
        }
    }
}
