//! The fixed-length ILP timestamp used for `expiresAt` (RFC 27 §"ILP Prepare",
//! `asn1/InterledgerTypes.asn` `Timestamp`, RFC 30).

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};

use super::PacketError;

/// Length of an ILP timestamp on the wire: `YYYYMMDDHHmmSSfff`.
pub const TIMESTAMP_LEN: usize = 17;

/// Writes `t` as the 17 ASCII digits `YYYYMMDDHHmmSSfff` in UTC, milliseconds always present
/// (RFC 27 / `InterledgerTypes.asn`; e.g. 2017-12-24T16:14:32.279Z → `20171224161432279`).
///
/// Sub-millisecond precision is truncated. Times the format cannot hold are clamped: before
/// year 0 → `00000101000000000`, after year 9999 → `99991231235959999`. A chrono leap second
/// (`nanosecond ≥ 1e9`) is written as `…59999`.
pub fn encode_timestamp(t: DateTime<Utc>) -> [u8; TIMESTAMP_LEN] {
    if t.year() < 0 {
        return *b"00000101000000000";
    }
    if t.year() > 9999 {
        return *b"99991231235959999";
    }
    let millis = (t.nanosecond() / 1_000_000).min(999);
    let mut out = [b'0'; TIMESTAMP_LEN];
    let fields: [(u32, usize, usize); 7] = [
        (t.year() as u32, 0, 4),
        (t.month(), 4, 2),
        (t.day(), 6, 2),
        (t.hour(), 8, 2),
        (t.minute(), 10, 2),
        (t.second(), 12, 2),
        (millis, 14, 3),
    ];
    for (value, start, width) in fields {
        write_digits(&mut out, value, start, width);
    }
    out
}

/// Writes `value` as `width` zero-padded decimal digits at `out[start..start + width]`.
fn write_digits(out: &mut [u8], value: u32, start: usize, width: usize) {
    let mut v = value;
    for i in (start..start + width).rev() {
        if let Some(slot) = out.get_mut(i) {
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
    }
}

/// Parses the 17-digit ILP timestamp `YYYYMMDDHHmmSSfff` (UTC). Non-digits or an impossible
/// date or time (month 13, hour 24, second 60, …) are [`PacketError::InvalidTimestamp`].
pub fn decode_timestamp(bytes: &[u8; TIMESTAMP_LEN]) -> Result<DateTime<Utc>, PacketError> {
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Err(PacketError::InvalidTimestamp);
    }
    let num = |start: usize, width: usize| -> u32 {
        bytes.iter().skip(start).take(width).fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'))
    };
    let date = NaiveDate::from_ymd_opt(num(0, 4) as i32, num(4, 2), num(6, 2)).ok_or(PacketError::InvalidTimestamp)?;
    let (hour, minute, second) = (num(8, 2), num(10, 2), num(12, 2));
    if second > 59 {
        return Err(PacketError::InvalidTimestamp);
    }
    let time = NaiveTime::from_hms_milli_opt(hour, minute, second, num(14, 3)).ok_or(PacketError::InvalidTimestamp)?;
    Ok(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap()
    }

    #[test]
    fn rfc_example() {
        let t = at("2017-12-24T16:14:32.279Z");
        assert_eq!(&encode_timestamp(t), b"20171224161432279");
        assert_eq!(decode_timestamp(b"20171224161432279").unwrap(), t);
    }

    #[test]
    fn truncates_and_clamps() {
        assert_eq!(&encode_timestamp(at("2030-01-01T00:00:00.999999Z")), b"20300101000000999");
        assert_eq!(&encode_timestamp(at("0001-01-01T00:00:00Z")), b"00010101000000000");
    }

    #[test]
    fn rejects_bad_digits_and_dates() {
        for bad in [
            b"2017122416143227x",
            b"20171324161432279",
            b"20171224241432279",
            b"20171224166032279",
            b"20171224160060279",
            b"20170230000000000",
        ] {
            assert_eq!(decode_timestamp(bad), Err(PacketError::InvalidTimestamp), "{bad:?}");
        }
    }
}
