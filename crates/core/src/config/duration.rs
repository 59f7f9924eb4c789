//! Durations written as `90s`, `10m`, `1h`, `1h30m` or `500ms`.

use schemars::JsonSchema;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigDuration(pub Duration);

const HOW: &str = "a duration like 90s, 10m, 1h or 1h30m";

impl FromStr for ConfigDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{text}` is not {HOW}");
        let s = text.trim();
        if s.is_empty() {
            return Err(bad());
        }
        let mut total = Duration::ZERO;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let part = match unit {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
                "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
                "d" => Duration::from_secs(n.checked_mul(86400).ok_or_else(bad)?),
                _ => return Err(bad()),
            };
            total = total.checked_add(part).ok_or_else(bad)?;
        }
        Ok(ConfigDuration(total))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ConfigDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(HOW)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ConfigDuration, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for ConfigDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(ms|s|m|h|d))+$",
            "description": "A duration: a number and a unit (ms, s, m, h, d), e.g. 90s, 10m, 1h30m."
        })
    }
}

/// When a reaction hands over to the human: after so many attempts, or after so long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalateAfter {
    /// After this many attempts.
    Attempts(u32),
    /// After this long.
    Time(ConfigDuration),
}

impl<'de> Deserialize<'de> for EscalateAfter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EscalateAfter;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of attempts, or a duration like 30m")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<EscalateAfter, E> {
                u32::try_from(n)
                    .map(EscalateAfter::Attempts)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<EscalateAfter, E> {
                u32::try_from(n)
                    .map(EscalateAfter::Attempts)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<EscalateAfter, E> {
                s.parse().map(EscalateAfter::Time).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for EscalateAfter {
    fn schema_name() -> Cow<'static, str> {
        "EscalateAfter".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let duration = generator.subschema_for::<ConfigDuration>();
        schemars::json_schema!({
            "description": "Escalate to the human after this many attempts (a number) or this long (a duration).",
            "oneOf": [{ "type": "integer", "minimum": 0 }, duration]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        let secs = |s: &str| s.parse::<ConfigDuration>().unwrap().0.as_millis();
        assert_eq!(secs("90s"), 90_000);
        assert_eq!(secs("10m"), 600_000);
        assert_eq!(secs("1h"), 3_600_000);
        assert_eq!(secs("1h30m"), 5_400_000);
        assert_eq!(secs("500ms"), 500);
        for bad in ["", "10", "m", "10 minutes", "1.5h", "-3s", "10x"] {
            assert!(bad.parse::<ConfigDuration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!("90m".parse::<ConfigDuration>().unwrap().to_string(), "90m");
        assert_eq!("120m".parse::<ConfigDuration>().unwrap().to_string(), "2h");
        assert_eq!(
            "1500ms".parse::<ConfigDuration>().unwrap().to_string(),
            "1500ms"
        );
    }
}
