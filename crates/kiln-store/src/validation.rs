//! MLflow's validation rules (`mlflow/utils/validation.py`) with its messages,
//! so clients see the same errors from Kiln as from `mlflow server`.

use crate::error::{Result, StoreError};

pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_PARAM_VAL_LENGTH: usize = 6000;
pub const MAX_TAG_VAL_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_EXPERIMENT_TAG_KEY_LENGTH: usize = 250;
pub const MAX_EXPERIMENT_TAG_VAL_LENGTH: usize = 20000;
pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_MODEL_REGISTRY_TAG_KEY_LENGTH: usize = 250;
pub const MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH: usize = 100_000;
pub const MAX_DATASET_NAME_SIZE: usize = 500;
pub const MAX_DATASET_DIGEST_SIZE: usize = 36;
pub const MAX_DATASET_SCHEMA_SIZE: usize = 1_048_575;
pub const MAX_DATASET_SOURCE_SIZE: usize = 65_535;
pub const MAX_DATASET_PROFILE_SIZE: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_SIZE: usize = 255;
pub const MAX_INPUT_TAG_VALUE_SIZE: usize = 500;
pub const MAX_REGISTERED_MODEL_ALIAS_LENGTH: usize = 255;

const BAD_CHARACTER_MESSAGE: &str =
    "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).";
const MISSING_KEY_NAME_MESSAGE: &str = "A key name must be provided.";

/// `Invalid value "x" for parameter 'path' supplied: message` (value JSON-encoded, as MLflow does).
pub fn invalid_value(path: &str, value: &str, message: Option<&str>) -> String {
    let v = serde_json::to_string(value).unwrap_or_default();
    match message {
        Some(m) => format!("Invalid value {v} for parameter '{path}' supplied: {m}"),
        None => format!("Invalid value {v} for parameter '{path}' supplied."),
    }
}

pub fn missing_value(path: &str) -> String {
    format!("Missing value for required parameter '{path}'.")
}

pub fn exceeds_maximum_length(path: &str, limit: usize) -> String {
    format!("'{path}' exceeds the maximum length of {limit} characters")
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `^[/\w.\- :]*$`
fn valid_name_chars(name: &str) -> bool {
    name.chars()
        .all(|c| is_word(c) || matches!(c, '/' | '.' | '-' | ' ' | ':'))
}

/// Python's `posixpath.normpath`.
pub fn posix_normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial == 0 && parts.is_empty()) || parts.last() == Some(&"..") {
            parts.push(comp);
        } else if !parts.is_empty() {
            parts.pop();
        }
    }
    let joined = parts.join("/");
    let out = format!("{}{}", "/".repeat(initial), joined);
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

fn path_not_unique(name: &str) -> bool {
    let norm = posix_normpath(name);
    norm != name || norm == "." || norm.starts_with("..") || norm.starts_with('/')
}

fn bad_path_message(name: &str) -> String {
    format!(
        "Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '{}'",
        posix_normpath(name)
    )
}

/// Metric, param and tag names.
pub fn validate_key_name(name: &str, path: &str) -> Result<()> {
    if !valid_name_chars(name) {
        return Err(StoreError::invalid(invalid_value(
            path,
            name,
            Some(BAD_CHARACTER_MESSAGE),
        )));
    }
    if path_not_unique(name) {
        return Err(StoreError::invalid(invalid_value(
            path,
            name,
            Some(&bad_path_message(name)),
        )));
    }
    Ok(())
}

pub fn validate_length(what: &str, limit: usize, value: &str) -> Result<()> {
    if value.chars().count() > limit {
        return Err(StoreError::invalid(exceeds_maximum_length(what, limit)));
    }
    Ok(())
}

/// The first `limit` characters of `value`, logging when something is cut.
pub fn truncate(value: &str, limit: usize) -> String {
    match value.char_indices().nth(limit) {
        None => value.to_string(),
        Some((cut, _)) => {
            tracing::warn!(
                limit,
                len = value.chars().count(),
                "value truncated to the length limit"
            );
            value[..cut].to_string()
        }
    }
}

fn join_path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

pub fn validate_metric_key(key: &str, path: &str) -> Result<()> {
    if key.is_empty() {
        return Err(StoreError::invalid(invalid_value(
            &join_path(path, "name"),
            key,
            Some(&format!("Metric name cannot be None. {MISSING_KEY_NAME_MESSAGE}")),
        )));
    }
    validate_key_name(key, &join_path(path, "name"))?;
    validate_length("Metric name", MAX_ENTITY_KEY_LENGTH, key)
}

pub fn validate_metric(key: &str, timestamp: i64, path: &str) -> Result<()> {
    validate_metric_key(key, path)?;
    if timestamp < 0 {
        return Err(StoreError::invalid(invalid_value(
            &join_path(path, "timestamp"),
            &timestamp.to_string(),
            Some(&format!(
                "metric '{key}'. Timestamp must be a nonnegative long (64-bit integer) "
            )),
        )));
    }
    Ok(())
}

pub fn validate_param(key: &str, value: &str, path: &str) -> Result<()> {
    validate_key_name(key, &join_path(path, "key"))?;
    validate_length("Param key", MAX_ENTITY_KEY_LENGTH, key)?;
    validate_length("Param value", MAX_PARAM_VAL_LENGTH, value)
}

pub fn validate_tag(key: &str, value: &str, path: &str) -> Result<()> {
    validate_key_name(key, &join_path(path, "key"))?;
    validate_length(&join_path(path, "key"), MAX_ENTITY_KEY_LENGTH, key)?;
    validate_length(&join_path(path, "value"), MAX_TAG_VAL_LENGTH, value)
}

pub fn validate_experiment_tag(key: &str, value: &str) -> Result<()> {
    validate_key_name(key, "key")?;
    validate_length("key", MAX_EXPERIMENT_TAG_KEY_LENGTH, key)?;
    validate_length("value", MAX_EXPERIMENT_TAG_VAL_LENGTH, value)
}

pub fn validate_registry_tag(key: &str, value: &str) -> Result<()> {
    validate_key_name(key, "key")?;
    validate_length("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key)?;
    validate_length("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value)
}

fn batch_limit(entity: &str, limit: usize, len: usize) -> Result<()> {
    if len > limit {
        return Err(StoreError::invalid(format!(
            "A batch logging request can contain at most {limit} {entity}. Got {len} {entity}. Please split up {entity} across multiple requests and try again."
        )));
    }
    Ok(())
}

pub fn validate_batch_limits(metrics: usize, params: usize, tags: usize) -> Result<()> {
    batch_limit("metrics", MAX_METRICS_PER_BATCH, metrics)?;
    batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, params)?;
    batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, tags)?;
    batch_limit(
        "metrics, params, and tags",
        MAX_ENTITIES_PER_BATCH,
        metrics + params + tags,
    )
}

pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(StoreError::invalid(format!("Invalid experiment name: '{name}'")));
    }
    validate_length("name", MAX_EXPERIMENT_NAME_LENGTH, name)
}

/// `^[a-zA-Z0-9][\w\-]{0,255}$`
pub fn validate_run_id(run_id: &str, path: &str) -> Result<()> {
    let mut chars = run_id.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => run_id.chars().count() <= 256 && chars.all(|c| is_word(c) || c == '-'),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(invalid_value(path, run_id, None)))
    }
}

pub fn validate_model_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid(missing_value("name")));
    }
    if name.contains('/') || name.contains(':') {
        return Err(StoreError::invalid(format!(
            "Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )));
    }
    if path_not_unique(name) {
        return Err(StoreError::invalid(invalid_value(
            "name",
            name,
            Some(&bad_path_message(name)),
        )));
    }
    Ok(())
}

pub fn parse_version(version: &str) -> Result<i64> {
    version
        .trim()
        .parse::<i64>()
        .map_err(|_| StoreError::invalid(format!("Parameter 'version' must be an integer, got '{version}'.")))
}

pub fn validate_alias(alias: &str) -> Result<()> {
    if alias.is_empty() {
        return Err(StoreError::invalid("Registered model alias name cannot be empty."));
    }
    if !alias.chars().all(|c| is_word(c) || c == '-') {
        return Err(StoreError::invalid(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )));
    }
    validate_length("Registered model alias name", MAX_REGISTERED_MODEL_ALIAS_LENGTH, alias)
}

/// Aliases that cannot be set: `latest` and version-like names such as `v3`.
pub fn validate_alias_not_reserved(alias: &str) -> Result<()> {
    if alias.eq_ignore_ascii_case("latest") {
        return Err(StoreError::invalid(
            "'latest' alias name (case insensitive) is reserved.",
        ));
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V')) && alias.len() > 1 && chars.all(|c| c.is_ascii_digit()) {
        return Err(StoreError::invalid(format!(
            "Version alias name '{alias}' is reserved."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normpath_matches_python() {
        for (i, o) in [
            ("a/b", "a/b"),
            ("a//b", "a/b"),
            ("a/./b", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("/a/../..", "/"),
            ("a/", "a"),
            ("", "."),
            ("//a", "//a"),
            ("///a", "/a"),
        ] {
            assert_eq!(posix_normpath(i), o, "normpath({i:?})");
        }
    }

    #[test]
    fn key_names() {
        assert!(validate_key_name("loss", "key").is_ok());
        assert!(validate_key_name("train/loss:1 a-b.c", "key").is_ok());
        let e = validate_key_name("bad!", "key").unwrap_err();
        assert!(
            e.message.contains("'key'") && e.message.contains("alphanumerics"),
            "{}",
            e.message
        );
        assert!(validate_key_name("../x", "key").is_err());
        assert!(validate_key_name("/abs", "key").is_err());
        assert!(validate_key_name("a//b", "key").is_err());
        assert!(validate_key_name("", "key").is_err());
    }

    #[test]
    fn batch_limits() {
        assert!(validate_batch_limits(1000, 0, 0).is_ok());
        assert!(validate_batch_limits(1001, 0, 0)
            .unwrap_err()
            .message
            .contains("at most 1000 metrics"));
        assert!(validate_batch_limits(0, 101, 0).is_err());
        assert!(validate_batch_limits(900, 100, 1).is_err());
    }

    #[test]
    fn aliases() {
        assert!(validate_alias("champion").is_ok());
        assert!(validate_alias("bad alias").is_err());
        assert!(validate_alias_not_reserved("Latest").is_err());
        assert!(validate_alias_not_reserved("v12").is_err());
        assert!(validate_alias_not_reserved("v").is_ok());
        assert!(validate_alias_not_reserved("vip").is_ok());
    }

    #[test]
    fn run_ids_and_models() {
        assert!(validate_run_id("0123abcd", "run_id").is_ok());
        assert!(validate_run_id("../etc", "run_id").is_err());
        assert!(validate_run_id("", "run_id").is_err());
        assert!(validate_model_name("churn").is_ok());
        assert!(validate_model_name("a/b").is_err());
        assert!(validate_model_name(" ").is_err());
        assert_eq!(parse_version("3").unwrap(), 3);
        assert!(parse_version("x").is_err());
    }
}
