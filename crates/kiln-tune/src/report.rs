//! Results as text and JSON: a trial as JSON (the REST API's and the CLI's
//! shape), a readable table of trials, and the best parameters as TOML.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::space::ParamValue;
use crate::storage::FAIL_REASON_ATTR;
use crate::trial::FrozenTrial;

/// A trial as JSON: number, state, params, values, intermediate values
/// (`{"step": value}`), timings, its run, and the failure reason if any.
pub fn trial_json(t: &FrozenTrial) -> serde_json::Value {
    let params: serde_json::Map<String, serde_json::Value> =
        t.params.iter().map(|(k, p)| (k.clone(), p.value.to_json())).collect();
    let intermediate: serde_json::Map<String, serde_json::Value> = t
        .intermediate
        .iter()
        .map(|(s, v)| (s.to_string(), serde_json::json!(v)))
        .collect();
    let mut out = serde_json::json!({
        "number": t.number,
        "state": t.state.as_str(),
        "params": params,
        "values": t.values,
        "intermediate_values": intermediate,
        "start_time": t.start_ms,
        "end_time": t.end_ms,
        "duration_ms": t.duration_ms(),
        "run_id": t.run_id,
    });
    if let Some(r) = t.attrs.get(FAIL_REASON_ATTR) {
        out["fail_reason"] = r.clone();
    }
    let user: serde_json::Map<String, serde_json::Value> = t
        .attrs
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("user:").map(|k| (k.to_string(), v.clone())))
        .collect();
    if !user.is_empty() {
        out["user_attrs"] = serde_json::Value::Object(user);
    }
    out
}

fn shown(v: &ParamValue) -> String {
    match v {
        ParamValue::Float(f) => {
            let s = format!("{f:.6}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s.is_empty() || s == "-" {
                "0".into()
            } else {
                s.to_string()
            }
        }
        other => other.to_string(),
    }
}

/// A fixed-width table: number, state, value(s), duration, then one column per parameter.
pub fn trials_table(trials: &[Arc<FrozenTrial>], metric_names: &[String]) -> String {
    let mut names: Vec<String> = trials.iter().flat_map(|t| t.params.keys().cloned()).collect();
    names.sort();
    names.dedup();
    let mut header: Vec<String> = vec!["#".into(), "state".into()];
    header.extend(metric_names.iter().cloned());
    header.push("seconds".into());
    header.extend(names.iter().cloned());
    let mut rows = vec![header];
    for t in trials {
        let mut r = vec![t.number.to_string(), t.state.as_str().to_string()];
        for i in 0..metric_names.len() {
            r.push(
                t.values
                    .as_ref()
                    .and_then(|v| v.get(i))
                    .map(|v| shown(&ParamValue::Float(*v)))
                    .unwrap_or_else(|| "-".into()),
            );
        }
        r.push(
            t.duration_ms()
                .map(|d| format!("{:.2}", d as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
        );
        for n in &names {
            r.push(t.params.get(n).map(|p| shown(&p.value)).unwrap_or_else(|| "-".into()));
        }
        rows.push(r);
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Parameters as a TOML table body (`name = value` lines), e.g. to paste into
/// a `[[model]]` table; `header` is an optional table header line.
pub fn params_toml(params: &BTreeMap<String, ParamValue>, header: Option<&str>) -> String {
    let mut table = toml::Table::new();
    for (k, v) in params {
        let tv = match v {
            ParamValue::Bool(b) => toml::Value::Boolean(*b),
            ParamValue::Int(i) => toml::Value::Integer(*i),
            ParamValue::Float(f) => toml::Value::Float(*f),
            ParamValue::Str(s) => toml::Value::String(s.clone()),
        };
        table.insert(k.clone(), tv);
    }
    let body = toml::to_string(&table).unwrap_or_default();
    match header {
        Some(h) => format!("{h}\n{body}"),
        None => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Distribution;
    use crate::trial::{TrialParam, TrialState};

    #[test]
    fn toml_round_trips_and_table_lines_up() {
        let mut p = BTreeMap::new();
        p.insert("learning_rate".to_string(), ParamValue::Float(0.05));
        p.insert("num_leaves".to_string(), ParamValue::Int(31));
        p.insert("boosting".to_string(), ParamValue::from("gbdt"));
        p.insert("odd key".to_string(), ParamValue::Bool(true));
        let text = params_toml(&p, Some("[best]"));
        let back: toml::Table = text.parse().unwrap();
        let best = back["best"].as_table().unwrap();
        assert_eq!(best["num_leaves"].as_integer(), Some(31));
        assert_eq!(best["odd key"].as_bool(), Some(true));
        let mut t = FrozenTrial::new(1, 0, TrialState::Complete);
        t.values = Some(vec![0.5]);
        t.params.insert(
            "x".into(),
            TrialParam {
                value: ParamValue::Float(0.25),
                internal: 0.25,
                distribution: Distribution::float(0.0, 1.0).unwrap(),
            },
        );
        let table = trials_table(&[Arc::new(t.clone())], &["value".into()]);
        assert!(table.lines().next().unwrap().starts_with("#  state"), "{table}");
        assert!(table.contains("COMPLETE  0.5"), "{table}");
        assert_eq!(trial_json(&t)["params"]["x"], serde_json::json!(0.25));
    }
}
