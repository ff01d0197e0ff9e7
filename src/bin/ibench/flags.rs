//! The range-checked value parsers of the numeric flags. Each check runs where clap parses the
//! flag, so a bad value is refused with exit 2 and a message naming the flag; what is checked
//! here never reaches arithmetic that could overflow.

use std::time::Duration;

/// The longest duration any flag takes: a day is past any run on one machine, and far from
/// the point where `Instant::now() + duration` overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// The largest scale factor of `ibench load --duration-scale` and `--vus-scale`.
pub const MAX_SCALE: f64 = 1_000.0;

/// The highest open-model arrival rate, iterations per second.
pub const MAX_RATE: f64 = 10_000_000.0;

/// The most threads of a tokio runtime (`ibench serve --workers`, `ibench load --threads`).
pub const MAX_THREADS: u64 = 256;

/// A duration from 0 to [`MAX_DURATION`] (`0s`: do not wait).
pub fn duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 500ms, 10s, 2m)"))?;
    if duration > MAX_DURATION {
        return Err(format!("{text} is longer than {}", humantime::format_duration(MAX_DURATION)));
    }
    Ok(duration)
}

/// A duration above 0, at most [`MAX_DURATION`].
pub fn positive_duration(text: &str) -> Result<Duration, String> {
    let duration = duration(text)?;
    if duration.is_zero() {
        return Err("must be longer than 0".to_owned());
    }
    Ok(duration)
}

fn positive_number_at_most(text: &str, max: f64) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number"))?;
    if !(value.is_finite() && value > 0.0 && value <= max) {
        return Err(format!("must be a positive number, at most {max}"));
    }
    Ok(value)
}

/// A scale factor above 0, at most [`MAX_SCALE`].
pub fn scale(text: &str) -> Result<f64, String> {
    positive_number_at_most(text, MAX_SCALE)
}

/// An arrival rate above 0, at most [`MAX_RATE`] per second.
pub fn rate(text: &str) -> Result<f64, String> {
    positive_number_at_most(text, MAX_RATE)
}

/// The largest growth factor of a breakpoint search's steps (`ibench load --rate-factor`), as
/// `Search::validate` allows.
pub const MAX_RATE_FACTOR: f64 = 100.0;

/// A breakpoint search's growth factor: above 1 (the rate must climb), at most [`MAX_RATE_FACTOR`].
pub fn rate_factor(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number"))?;
    if !(value.is_finite() && value > 1.0 && value <= MAX_RATE_FACTOR) {
        return Err(format!("factor must be above 1 (and at most {MAX_RATE_FACTOR})"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_numbers_are_refused_outside_their_range() {
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
        assert_eq!(positive_duration("24h"), Ok(MAX_DURATION));
        for bad in ["0s", "24h 1s", "18446744073709551615s", "-1s", "1e18s", "", "5"] {
            assert!(positive_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(scale("0.1"), Ok(0.1));
        for bad in ["0", "-1", "NaN", "inf", "1e18", "1000.5", ""] {
            assert!(scale(bad).is_err(), "{bad:?}");
        }
        assert!(rate("1e7").is_ok() && rate("1.1e7").is_err());
        assert_eq!(rate_factor("1.25"), Ok(1.25));
        for bad in ["1", "0.5", "0", "-2", "NaN", "inf", "100.5", ""] {
            assert!(rate_factor(bad).is_err(), "{bad:?}");
        }
    }
}
