//! Values as people write them on a command line: durations (`500ms`,
//! `2s`, `1m`) and sizes (`64MiB`, `1GiB`, `1000`).

/// Parses a duration for `--timeout`.
pub(super) fn duration(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("{e} (write it like 500ms, 2s or 1m)"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// Parses a size in bytes for `--max-memory` and `--max-output`: a number
/// with an optional unit, B, KB/KiB, MB/MiB, GB/GiB (KB is 1000, KiB 1024).
pub(super) fn size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a size (write it like 64MiB or 1GiB)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1 << 10,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1 << 20,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1 << 30,
        other => return Err(format!("unknown unit `{other}` (use B, KiB, MiB, GiB, KB, MB or GB)")),
    };
    let bytes = number.checked_mul(scale).ok_or_else(|| format!("`{text}` is too large"))?;
    if bytes == 0 {
        return Err("must be more than zero".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(duration("1m"), Ok(Duration::from_secs(60)));
        assert!(duration("0s").is_err());
        assert!(duration("soon").unwrap_err().contains("like 500ms"));
    }

    #[test]
    fn sizes() {
        assert_eq!(size("64MiB"), Ok(64 << 20));
        assert_eq!(size("1GiB"), Ok(1 << 30));
        assert_eq!(size("1 GB"), Ok(1_000_000_000));
        assert_eq!(size("4096"), Ok(4096));
        assert!(size("12 parsecs").unwrap_err().contains("unknown unit"));
        assert!(size("lots").is_err());
        assert!(size("0").is_err());
        assert!(size("99999999999GiB").unwrap_err().contains("too large"));
    }
}
