//! What a YAML scalar means as JSON, by the YAML 1.2 core schema (the schema
//! of ruamel.yaml, which IntelMQ 3 reads runtime.yaml with): plain `null`,
//! `~` and nothing are null, `true`/`false` booleans, decimal, `0o` and `0x`
//! integers and decimal floats numbers, everything else and every quoted or
//! block scalar a string. Core-schema tags (`!!str`, `!!int`, ...) are
//! honoured; any other tag, infinities and NaN have no JSON form and are
//! errors that say so.

use saphyr_parser::{ScalarStyle, Tag};
use serde_json::{Number, Value};

/// The JSON value of one scalar, or why it has none.
pub(super) fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let Some(tag) = tag else {
        return match style {
            ScalarStyle::Plain => plain(text),
            _ => Ok(Value::String(text.to_owned())),
        };
    };
    if !tag.is_yaml_core_schema() {
        return Err(format!("the tag {tag} has no JSON equivalent"));
    }
    let wanted = tag.suffix.as_str();
    if wanted == "str" {
        return Ok(Value::String(text.to_owned()));
    }
    let value = plain(text)?;
    let fits = match (wanted, &value) {
        ("null", Value::Null) | ("bool", Value::Bool(_)) => true,
        ("int", Value::Number(number)) => !number.is_f64(),
        ("float", Value::Number(_)) => true,
        _ => false,
    };
    if fits {
        Ok(value)
    } else {
        Err(format!("{text:?} is not a valid {tag}"))
    }
}

/// A plain scalar by the core schema.
pub(super) fn plain(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if [".inf", ".Inf", ".INF"].contains(&unsigned) || [".nan", ".NaN", ".NAN"].contains(&text) {
        return Err(format!(
            "{text} (infinity or NaN) cannot be represented in JSON"
        ));
    }
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return integer(text, text.parse::<i64>().ok(), text.parse::<u64>().ok());
    }
    for (prefix, radix) in [("0o", 8), ("0x", 16)] {
        if let Some(digits) = text.strip_prefix(prefix) {
            if !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)) {
                let unsigned = u64::from_str_radix(digits, radix).ok();
                return integer(text, unsigned.and_then(|n| i64::try_from(n).ok()), unsigned);
            }
        }
    }
    if is_core_float(unsigned) {
        if let Some(number) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Ok(Value::Number(number));
        }
        return Err(format!("the number {text} is too large for JSON"));
    }
    Ok(Value::String(text.to_owned()))
}

fn integer(text: &str, signed: Option<i64>, unsigned: Option<u64>) -> Result<Value, String> {
    match (signed, unsigned) {
        (Some(number), _) => Ok(Value::from(number)),
        (None, Some(number)) => Ok(Value::from(number)),
        (None, None) => Err(format!(
            "the integer {text} is too large (at most 64 bits are kept)"
        )),
    }
}

/// `(\.[0-9]+ | [0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the sign already gone.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        for (text, expected) in [
            ("", json!(null)),
            ("~", json!(null)),
            ("True", json!(true)),
            ("false", json!(false)),
            ("yes", json!("yes")),
            ("42", json!(42)),
            ("-7", json!(-7)),
            ("0x1f", json!(31)),
            ("0o17", json!(15)),
            ("18446744073709551615", json!(18446744073709551615u64)),
            ("1.5", json!(1.5)),
            ("-.5", json!(-0.5)),
            ("1e3", json!(1000.0)),
            ("2.", json!(2.0)),
            ("127.0.0.1", json!("127.0.0.1")),
            ("1_000", json!("1_000")),
            ("\\.example\\.com$", json!("\\.example\\.com$")),
        ] {
            assert_eq!(plain(text), Ok(expected), "{text:?}");
        }
        assert!(plain(".inf").unwrap_err().contains("cannot be represented"));
        assert!(plain("-.Inf").is_err() && plain(".NaN").is_err());
        assert!(plain("99999999999999999999")
            .unwrap_err()
            .contains("too large"));
    }
}
