//! Timestamps: EXIF `YYYY:MM:DD HH:MM:SS` (+ `±HH:MM` offset) and ISO-BMFF 1904-based seconds,
//! to milliseconds since the Unix epoch.

/// Seconds between 1904-01-01 (QuickTime/ISO-BMFF epoch) and 1970-01-01.
const BMFF_EPOCH_OFFSET: i64 = 2_082_844_800;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str) -> Option<i64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `2016:03:09 17:36:42` with an optional `+01:00` offset; without one the time is taken as
/// UTC. Zero or out-of-range fields (`0000:00:00 00:00:00`) give `None`.
pub(crate) fn exif_datetime_ms(date: &str, offset: Option<&str>) -> Option<i64> {
    let date = date.get(..19)?;
    let b = date.as_bytes();
    if b[4] != b':' || b[7] != b':' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let f = |r: std::ops::Range<usize>| date.get(r).and_then(num);
    let (y, mo, d) = (f(0..4)?, f(5..7)?, f(8..10)?);
    let (h, mi, s) = (f(11..13)?, f(14..16)?, f(17..19)?);
    if y == 0 || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    if let Some(off) = offset.and_then(parse_offset) {
        secs -= off;
    }
    Some(secs * 1000)
}

/// `+HH:MM` / `-HH:MM` → seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    let s = s.trim();
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = s.get(1..)?.split_once(':')?;
    let (h, m) = (num(h)?, num(m)?);
    (h <= 14 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

/// ISO-BMFF `mvhd` creation time (seconds since 1904, UTC); 0 means unset.
/// Values below the 1970 offset are taken as Unix seconds (some writers use that epoch, and
/// exiftool reads them so); the Unix epoch itself means "unset", as for exiftool.
pub(crate) fn bmff_time_ms(secs_since_1904: u64) -> Option<i64> {
    let s = i64::try_from(secs_since_1904).ok()?;
    let unix = if s >= BMFF_EPOCH_OFFSET {
        s - BMFF_EPOCH_OFFSET
    } else {
        s
    };
    (unix > 0).then(|| unix.saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_dates_with_and_without_offsets() {
        assert_eq!(exif_datetime_ms("1970:01:01 00:00:00", None), Some(0));
        assert_eq!(
            exif_datetime_ms("2022:08:14 14:12:31", Some("+03:00")),
            Some(1_660_475_551_000)
        );
        assert_eq!(
            exif_datetime_ms("2021:04:11 15:47:53", Some("-05:00")),
            Some(1_618_174_073_000)
        );
        assert_eq!(exif_datetime_ms("0000:00:00 00:00:00", None), None);
        assert_eq!(exif_datetime_ms("2021:04:11", None), None);
        assert_eq!(exif_datetime_ms("2021-04-11 15:47:53", None), None);
        // An unparseable offset is ignored, not a reason to drop the date.
        assert_eq!(
            exif_datetime_ms("1970:01:02 00:00:00", Some("")),
            Some(86_400_000)
        );
    }

    #[test]
    fn bmff_epoch() {
        assert_eq!(bmff_time_ms(0), None);
        assert_eq!(bmff_time_ms(2_082_844_800), None);
        assert_eq!(bmff_time_ms(2_082_844_801), Some(1000));
    }
}
