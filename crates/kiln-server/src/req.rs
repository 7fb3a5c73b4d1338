//! Request parsing that names the field on every mistake.
//!
//! MLflow clients send JSON bodies (POST/PATCH/DELETE) or query strings (GET),
//! with proto3-JSON leniency: int64 as numbers or strings, doubles as numbers or
//! "NaN"/"Infinity" strings. A request is read into a JSON object first and
//! fields are taken out one by one, so an error can say which field was wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use std::fmt::{self, Display};

use serde_json::{Map, Value};

use kiln_store::validation::{invalid_value, missing_value};
use kiln_store::{StoreError, Tag};

use crate::ApiError;

/// Largest JSON request body accepted (dataset profiles can be large).
pub const MAX_JSON_BODY: usize = 64 * 1024 * 1024;

pub struct Req(pub Map<String, Value>, Vec<String>);

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let query = req.uri().query().map(str::to_string);
        check_content_type(&method, req.headers())?;
        let body = if method == Method::GET {
            Bytes::new()
        } else {
            read_body(req, state).await?
        };
        Req::from_parts(query.as_deref(), &body)
    }
}

/// As `mlflow server`: a POST/PUT body declared as something other than JSON is refused.
pub fn check_content_type(method: &Method, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    if method != Method::POST && method != Method::PUT {
        return Ok(());
    }
    if let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) {
        let ct = ct
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !ct.is_empty() && ct != "application/json" {
            return Err(StoreError::invalid(format!(
                "Bad Request. Content-Type must be one of ['application/json'], got '{ct}'."
            ))
            .into());
        }
    }
    Ok(())
}

pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        StoreError::new(
            kiln_store::ErrorCode::BadRequest,
            format!("could not read request body: {e}"),
        )
        .into()
    })
}

impl Req {
    /// A request from its query string and JSON body (body fields win).
    pub fn from_parts(query: Option<&str>, body: &[u8]) -> Result<Req, ApiError> {
        let mut map = Map::new();
        if let Some(q) = query {
            parse_query(q, &mut map);
        }
        let from_query: Vec<String> = map.keys().cloned().collect();
        if !body.iter().all(u8::is_ascii_whitespace) {
            match parse_json(body)? {
                Value::Object(o) => map.extend(o),
                other => {
                    return Err(StoreError::invalid(format!(
                        "Malformed request body: expected a JSON object, got {}",
                        kind(&other)
                    ))
                    .into())
                }
            }
        }
        let from_query = from_query
            .into_iter()
            .filter(|k| map.get(k).is_some_and(|v| !v.is_object()))
            .collect();
        Ok(Req(map, from_query))
    }
}

/// Parses JSON, accepting the bare `NaN` / `Infinity` / `-Infinity` tokens that
/// Python's `json.dumps` writes, by rewriting them as strings outside string literals.
fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(first) => {
            let text = std::str::from_utf8(body).map_err(|_| malformed("request body is not UTF-8"))?;
            if let Some(fixed) = quote_nonfinite(text) {
                if let Ok(v) = serde_json::from_str(&fixed) {
                    return Ok(v);
                }
            }
            Err(malformed(&first.to_string()))
        }
    }
}

fn malformed(why: &str) -> ApiError {
    StoreError::invalid(format!("Malformed JSON request body: {why}")).into()
}

fn quote_nonfinite(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_str = false;
    let mut escaped = false;
    let mut changed = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let mut matched = false;
        for tok in ["-Infinity", "Infinity", "NaN"] {
            if rest.starts_with(tok) {
                out.push('"');
                out.push_str(tok);
                out.push('"');
                rest = &rest[tok.len()..];
                changed = true;
                matched = true;
                break;
            }
        }
        if matched {
            continue;
        }
        if c == '"' {
            in_str = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    changed.then_some(out)
}

fn parse_query(q: &str, map: &mut Map<String, Value>) {
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode(k);
        let v = Value::String(decode(v));
        match map.get_mut(&k) {
            Some(Value::Array(a)) => a.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                map.insert(k, v);
            }
        }
    }
}

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong(field: impl Display, v: &Value, expected: &str) -> StoreError {
    let shown = serde_json::to_string(v).unwrap_or_default();
    StoreError::invalid(format!(
        "Invalid value {shown} for parameter '{field}' supplied: expected {expected}, got {}",
        kind(v)
    ))
}

/// Strings are strings: like protobuf JSON (and `mlflow server`), a number is refused.
/// NUL characters are refused too: PostgreSQL cannot store them in text.
pub fn value_str(field: impl Display, v: &Value) -> Result<String, StoreError> {
    match v {
        Value::String(s) if s.contains('\0') => Err(StoreError::invalid(format!(
            "Invalid value for parameter '{field}' supplied: NUL characters are not allowed in strings"
        ))),
        Value::String(s) => Ok(s.clone()),
        other => Err(wrong(field, other, "a string")),
    }
}

pub fn value_i64(field: impl Display, v: &Value) -> Result<i64, StoreError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                    .map(|f| f as i64)
            })
            .ok_or_else(|| wrong(field, v, "a 64-bit integer")),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| StoreError::invalid(invalid_value(&field.to_string(), s, Some("expected a 64-bit integer")))),
        other => Err(wrong(field, other, "a 64-bit integer")),
    }
}

pub fn value_f64(field: impl Display, v: &Value) -> Result<f64, StoreError> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| wrong(field, v, "a number")),
        Value::String(s) => match s.trim() {
            "NaN" | "nan" => Ok(f64::NAN),
            "Infinity" | "inf" | "Inf" => Ok(f64::INFINITY),
            "-Infinity" | "-inf" | "-Inf" => Ok(f64::NEG_INFINITY),
            t => t.parse::<f64>().map_err(|_| {
                StoreError::invalid(invalid_value(
                    &field.to_string(),
                    s,
                    Some("Please specify value as a valid double (64-bit floating point)"),
                ))
            }),
        },
        other => Err(wrong(field, other, "a number")),
    }
}

fn value_bool(field: impl Display, v: &Value) -> Result<bool, StoreError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(wrong(field, other, "true or false")),
    }
}

impl Req {
    fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, field: &str) -> Result<Option<String>, StoreError> {
        self.get(field).map(|v| value_str(field, v)).transpose()
    }

    /// A required, non-empty string.
    pub fn str(&self, field: &str) -> Result<String, StoreError> {
        match self.opt_str(field)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(StoreError::invalid(missing_value(field))),
        }
    }

    /// `run_id`, or the older `run_uuid`.
    pub fn run_id(&self) -> Result<String, StoreError> {
        match self.opt_str("run_id")?.filter(|s| !s.is_empty()) {
            Some(s) => Ok(s),
            None => self
                .str("run_uuid")
                .map_err(|_| StoreError::invalid(missing_value("run_id"))),
        }
    }

    pub fn opt_i64(&self, field: &str) -> Result<Option<i64>, StoreError> {
        self.get(field).map(|v| value_i64(field, v)).transpose()
    }

    pub fn i64(&self, field: &str) -> Result<i64, StoreError> {
        self.opt_i64(field)?
            .ok_or_else(|| StoreError::invalid(missing_value(field)))
    }

    pub fn f64(&self, field: &str) -> Result<f64, StoreError> {
        let v = self
            .get(field)
            .ok_or_else(|| StoreError::invalid(missing_value(field)))?;
        value_f64(field, v)
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, StoreError> {
        self.get(field).map(|v| value_bool(field, v)).transpose()
    }

    /// A list field; in a query string a single `key=value` counts as a list of one.
    pub fn list(&self, field: &str) -> Result<Vec<Value>, StoreError> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(v @ Value::String(_)) if self.1.iter().any(|k| k == field) => Ok(vec![v.clone()]),
            Some(other) => Err(wrong(field, other, "a list")),
        }
    }

    pub fn str_list(&self, field: &str) -> Result<Vec<String>, StoreError> {
        self.list(field)?
            .iter()
            .enumerate()
            .map(|(i, v)| value_str(format_args!("{field}[{i}]"), v))
            .collect()
    }

    /// A list of objects (e.g. `metrics`), each checked to be an object; borrowed, not copied.
    pub fn objects(&self, field: &str) -> Result<Vec<Obj<'_>>, StoreError> {
        objects_in(field, self.get(field))
    }

    /// `[{key, value}]` tag/param lists.
    pub fn tags(&self, field: &str) -> Result<Vec<Tag>, StoreError> {
        self.objects(field)?.iter().map(Obj::tag).collect()
    }
}

fn objects_in<'a>(path: &str, v: Option<&'a Value>) -> Result<Vec<Obj<'a>>, StoreError> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => {
            let list: std::sync::Arc<str> = path.into();
            a.iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(map) => Ok(Obj {
                        list: list.clone(),
                        index: Some(i),
                        map,
                    }),
                    other => Err(wrong(format_args!("{path}[{i}]"), other, "an object")),
                })
                .collect()
        }
        Some(other) => Err(wrong(path, other, "a list")),
    }
}

/// A nested JSON object (`metrics[3]`). Its path is only written out for an error.
pub struct Obj<'a> {
    list: std::sync::Arc<str>,
    index: Option<usize>,
    pub map: &'a Map<String, Value>,
}

/// `metrics[3].value`, formatted lazily.
struct At<'o, 'a>(&'o Obj<'a>, &'o str);

impl Display for At<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.index {
            Some(i) => write!(f, "{}[{i}].{}", self.0.list, self.1),
            None => write!(f, "{}.{}", self.0.list, self.1),
        }
    }
}

impl<'a> Obj<'a> {
    fn field_path(&self, field: &str) -> String {
        At(self, field).to_string()
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, field: &str) -> Result<Option<String>, StoreError> {
        self.get(field).map(|v| value_str(At(self, field), v)).transpose()
    }

    pub fn str(&self, field: &str) -> Result<String, StoreError> {
        self.opt_str(field)?
            .ok_or_else(|| StoreError::invalid(missing_value(&self.field_path(field))))
    }

    pub fn opt_i64(&self, field: &str) -> Result<Option<i64>, StoreError> {
        self.get(field).map(|v| value_i64(At(self, field), v)).transpose()
    }

    pub fn i64(&self, field: &str) -> Result<i64, StoreError> {
        self.opt_i64(field)?
            .ok_or_else(|| StoreError::invalid(missing_value(&self.field_path(field))))
    }

    pub fn f64(&self, field: &str) -> Result<f64, StoreError> {
        let v = self
            .get(field)
            .ok_or_else(|| StoreError::invalid(missing_value(&self.field_path(field))))?;
        value_f64(At(self, field), v)
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, StoreError> {
        self.get(field).map(|v| value_bool(At(self, field), v)).transpose()
    }

    pub fn tag(&self) -> Result<Tag, StoreError> {
        Ok(Tag::new(self.str("key")?, self.opt_str("value")?.unwrap_or_default()))
    }

    pub fn tags(&self, field: &str) -> Result<Vec<Tag>, StoreError> {
        objects_in(&self.field_path(field), self.get(field))?
            .iter()
            .map(Obj::tag)
            .collect()
    }

    pub fn obj(&self, field: &str) -> Result<Obj<'a>, StoreError> {
        match self.get(field) {
            Some(Value::Object(map)) => Ok(Obj {
                list: self.field_path(field).into(),
                index: None,
                map,
            }),
            Some(other) => Err(wrong(At(self, field), other, "an object")),
            None => Err(StoreError::invalid(missing_value(&self.field_path(field)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_nonfinite_tokens_become_strings() {
        let v = parse_json(br#"{"value": NaN, "b": -Infinity, "s": "NaN in a string"}"#)
            .ok()
            .unwrap();
        assert_eq!(v["value"], "NaN");
        assert_eq!(v["b"], "-Infinity");
        assert_eq!(v["s"], "NaN in a string");
        assert!(parse_json(b"{not json").is_err());
    }

    #[test]
    fn query_strings_repeat_into_lists() {
        let mut m = Map::new();
        parse_query("run_ids=a&run_ids=b&metric_key=x%20y&path=a%2Fb", &mut m);
        assert_eq!(m["run_ids"], serde_json::json!(["a", "b"]));
        assert_eq!(m["metric_key"], "x y");
        assert_eq!(m["path"], "a/b");
    }

    #[test]
    fn fields_are_named_in_errors() {
        let r = Req(
            serde_json::from_str(
                r#"{"experiment_id": {"a": 1}, "step": "x", "max_results": "10", "ids": "0", "name": 5}"#,
            )
            .unwrap(),
            vec![],
        );
        assert!(
            r.list("ids").unwrap_err().message.contains("'ids'"),
            "a JSON string is not a list"
        );
        assert!(
            r.str("name").unwrap_err().message.contains("'name'"),
            "a number is not a string"
        );
        let q = Req(serde_json::from_str(r#"{"ids": "0"}"#).unwrap(), vec!["ids".into()]);
        assert_eq!(
            q.str_list("ids").unwrap(),
            vec!["0".to_string()],
            "a query-string scalar is a list of one"
        );
        assert!(r.str("experiment_id").unwrap_err().message.contains("'experiment_id'"));
        assert!(r.opt_i64("step").unwrap_err().message.contains("'step'"));
        assert_eq!(r.opt_i64("max_results").unwrap(), Some(10));
        assert!(r
            .str("absent")
            .unwrap_err()
            .message
            .contains("Missing value for required parameter 'absent'"));
        assert_eq!(
            value_f64("v", &Value::String("Infinity".into())).unwrap(),
            f64::INFINITY
        );
    }
}
