//! Reading one item's parameters the way Sentry's forms do: whole numbers given as
//! numbers or numeric strings (`"100"`, `"100.0"`), choices as strings (or numbers),
//! text trimmed, an empty value the same as a missing one. Each refusal names the item
//! and the parameter.

use serde_json::{Map, Value, json};

use super::RuleError;

/// One item of `conditions`, `filters` or `actions`, at `path` (`"conditions[1]"`).
pub(super) struct Item<'a> {
    pub path: &'a str,
    pub obj: &'a Map<String, Value>,
}

impl<'a> Item<'a> {
    /// A refusal of `param`; `message` follows the parameter's name.
    pub fn err(&self, param: &str, message: impl std::fmt::Display) -> RuleError {
        RuleError::new(
            format!("{}.{param}", self.path),
            format!("{param} {message}"),
        )
    }

    /// The parameter, unless missing, null or an empty string (Django's empty values).
    pub fn get(&self, param: &str) -> Option<&'a Value> {
        self.obj
            .get(param)
            .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()))
    }

    pub fn int(&self, param: &str, min: i64) -> Result<i64, RuleError> {
        let value = self
            .get(param)
            .ok_or_else(|| self.err(param, "is required"))?;
        let n = as_int(value).ok_or_else(|| self.err(param, "must be a whole number"))?;
        if n < min {
            return Err(self.err(param, format_args!("must be at least {min}")));
        }
        Ok(n)
    }

    pub fn float(&self, param: &str, min: f64) -> Result<f64, RuleError> {
        let value = self
            .get(param)
            .ok_or_else(|| self.err(param, "is required"))?;
        let n = as_float(value).ok_or_else(|| self.err(param, "must be a number"))?;
        if n < min {
            return Err(self.err(param, format_args!("must be at least {min}")));
        }
        Ok(n)
    }

    /// Text, trimmed; `None` when missing or empty.
    pub fn text(&self, param: &str) -> Result<Option<String>, RuleError> {
        match self.get(param) {
            None => Ok(None),
            Some(v) => as_text(v)
                .map(Some)
                .ok_or_else(|| self.err(param, "must be a string")),
        }
    }

    pub fn required_text(&self, param: &str) -> Result<String, RuleError> {
        self.text(param)?
            .ok_or_else(|| self.err(param, "is required"))
    }

    /// One of `choices` (key, value), by key.
    pub fn choice<T: Copy>(&self, param: &str, choices: &[(&str, T)]) -> Result<T, RuleError> {
        self.opt_choice(param, choices)?
            .ok_or_else(|| self.err(param, format_args!("is required: {}", keys(choices))))
    }

    pub fn opt_choice<T: Copy>(
        &self,
        param: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, RuleError> {
        let Some(value) = self.get(param) else {
            return Ok(None);
        };
        let key = as_text(value);
        choices
            .iter()
            .find(|(k, _)| key.as_deref() == Some(*k))
            .map(|(_, v)| Some(*v))
            .ok_or_else(|| self.err(param, format_args!("must be one of {}", keys(choices))))
    }

    /// The keys not in `known` (nor `id`, nor the response-only `name`), kept as given.
    pub fn extra(&self, known: &[&str]) -> Map<String, Value> {
        self.obj
            .iter()
            .filter(|(k, _)| {
                k.as_str() != "id" && k.as_str() != "name" && !known.contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

fn keys<T>(choices: &[(&str, T)]) -> String {
    choices
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A whole number: an integer, an integral float, or a string of one (Django strips a
/// trailing `.0`).
pub(super) fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            let whole = match s.split_once('.') {
                Some((whole, zeros)) if zeros.chars().all(|c| c == '0') => whole,
                _ => s,
            };
            whole.parse().ok()
        }
        _ => None,
    }
}

/// A finite number, or a string of one.
pub(super) fn as_float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A string, trimmed, or a number as text.
pub(super) fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The Python type name Sentry's messages use for a JSON value.
pub(super) fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The item's object and known id, or why it is not one (Sentry's `RuleNodeField`).
pub(super) fn node<'a>(
    path: &'a str,
    value: &'a Value,
    known: &[&'static str],
    noun: &str,
) -> Result<(Item<'a>, &'static str), RuleError> {
    let Some(obj) = value.as_object() else {
        return Err(RuleError::new(
            path,
            format!(
                "Incorrect type. Expected a mapping, but got {}",
                python_type(value)
            ),
        ));
    };
    let item = Item { path, obj };
    let Some(given) = obj.get("id") else {
        return Err(item.err("id", "is required"));
    };
    let given = given.as_str().unwrap_or_default();
    match known.iter().find(|id| **id == given) {
        Some(id) => Ok((item, id)),
        None => Err(item.err("id", format_args!("'{given}' is not a known {noun}"))),
    }
}

/// An item's stored form: the kept extras, `id`, then the parameters.
pub(super) fn stored_item(
    id: &str,
    mut params: Map<String, Value>,
    extra: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = extra.clone();
    out.insert("id".into(), json!(id));
    out.append(&mut params);
    out
}
