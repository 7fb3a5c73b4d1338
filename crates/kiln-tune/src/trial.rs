//! Trials as stored: state, parameters (value, internal value, distribution),
//! objective values, intermediate values, timings and sampler attributes;
//! and optimisation directions.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};
use crate::space::{Distribution, ParamValue};

/// A trial's life cycle: WAITING (enqueued, e.g. a retry) -> RUNNING -> COMPLETE | PRUNED | FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TrialState {
    Running,
    Complete,
    Pruned,
    Fail,
    Waiting,
}

impl TrialState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Running => "RUNNING",
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Fail => "FAIL",
            TrialState::Waiting => "WAITING",
        }
    }

    /// Parses the stored spelling (case-insensitive).
    pub fn parse(s: &str) -> Result<TrialState> {
        match s.to_ascii_uppercase().as_str() {
            "RUNNING" => Ok(TrialState::Running),
            "COMPLETE" => Ok(TrialState::Complete),
            "PRUNED" => Ok(TrialState::Pruned),
            "FAIL" => Ok(TrialState::Fail),
            "WAITING" => Ok(TrialState::Waiting),
            _ => Err(invalid(format!(
                "unknown trial state '{s}': expected RUNNING, COMPLETE, PRUNED, FAIL or WAITING"
            ))),
        }
    }

    /// Whether the trial is over.
    pub fn is_finished(self) -> bool {
        matches!(self, TrialState::Complete | TrialState::Pruned | TrialState::Fail)
    }

    /// The MLflow run status of the trial's child run.
    pub fn run_status(self) -> &'static str {
        match self {
            TrialState::Running => "RUNNING",
            TrialState::Waiting => "SCHEDULED",
            TrialState::Complete => "FINISHED",
            TrialState::Pruned => "KILLED",
            TrialState::Fail => "FAILED",
        }
    }
}

impl fmt::Display for TrialState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an objective is minimised or maximised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Minimize,
    Maximize,
}

impl Direction {
    /// Parses `minimize` / `maximize` (also `min`, `max`).
    pub fn parse(s: &str) -> Result<Direction> {
        match s.to_ascii_lowercase().as_str() {
            "minimize" | "min" | "minimise" => Ok(Direction::Minimize),
            "maximize" | "max" | "maximise" => Ok(Direction::Maximize),
            _ => Err(invalid(format!(
                "unknown direction '{s}': expected minimize or maximize"
            ))),
        }
    }

    /// The value in minimisation form (negated when maximising).
    pub fn to_min(self, v: f64) -> f64 {
        match self {
            Direction::Minimize => v,
            Direction::Maximize => -v,
        }
    }

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        }
    }
}

/// One parameter of a trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialParam {
    pub value: ParamValue,
    /// The internal value (float/int value or categorical index).
    pub internal: f64,
    pub distribution: Distribution,
}

/// A trial as the storage holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrozenTrial {
    /// Storage-wide id.
    pub trial_id: i64,
    /// 0-based number within its study.
    pub number: u64,
    pub state: TrialState,
    pub params: BTreeMap<String, TrialParam>,
    /// One value per direction, for COMPLETE trials.
    pub values: Option<Vec<f64>>,
    /// step -> value, as reported while running.
    pub intermediate: BTreeMap<i64, f64>,
    /// Sampler and system attributes (generation numbers, retry links...).
    pub attrs: BTreeMap<String, serde_json::Value>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub heartbeat_ms: Option<i64>,
    pub worker: Option<String>,
    /// The MLflow child run that mirrors this trial.
    pub run_id: Option<String>,
}

impl FrozenTrial {
    /// A fresh trial record (storages fill ids and timings).
    pub fn new(trial_id: i64, number: u64, state: TrialState) -> FrozenTrial {
        FrozenTrial {
            trial_id,
            number,
            state,
            params: BTreeMap::new(),
            values: None,
            intermediate: BTreeMap::new(),
            attrs: BTreeMap::new(),
            start_ms: None,
            end_ms: None,
            heartbeat_ms: None,
            worker: None,
            run_id: None,
        }
    }

    /// The single objective value (first direction).
    pub fn value(&self) -> Option<f64> {
        self.values.as_ref().and_then(|v| v.first().copied())
    }

    /// External parameter values by name.
    pub fn param_values(&self) -> BTreeMap<String, ParamValue> {
        self.params.iter().map(|(k, p)| (k.clone(), p.value.clone())).collect()
    }

    /// The internal value of a parameter.
    pub fn internal(&self, name: &str) -> Option<f64> {
        self.params.get(name).map(|p| p.internal)
    }

    /// The last reported (step, value).
    pub fn last_intermediate(&self) -> Option<(i64, f64)> {
        self.intermediate.iter().next_back().map(|(s, v)| (*s, *v))
    }

    /// Duration in milliseconds where known.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.end_ms? - self.start_ms?)
    }

    /// Params as stored: `{name: {"value": v, "distribution": {...}}}`.
    pub fn params_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (k, p) in &self.params {
            m.insert(
                k.clone(),
                serde_json::json!({"value": p.value.to_json(), "distribution": p.distribution}),
            );
        }
        serde_json::Value::Object(m)
    }

    /// Parses stored params.
    pub fn params_from_json(v: &serde_json::Value) -> Result<BTreeMap<String, TrialParam>> {
        let mut out = BTreeMap::new();
        let Some(obj) = v.as_object() else {
            return Err(invalid("stored trial params are not a JSON object"));
        };
        for (k, p) in obj {
            let dist: Distribution = serde_json::from_value(p.get("distribution").cloned().unwrap_or_default())
                .map_err(|e| invalid(format!("stored param '{k}': bad distribution: {e}")))?;
            let value = p
                .get("value")
                .and_then(ParamValue::from_json)
                .ok_or_else(|| invalid(format!("stored param '{k}' has no value")))?;
            let internal = dist
                .to_internal(&value)
                .map_err(|e| invalid(format!("stored param '{k}': {}", e.message)))?;
            out.insert(
                k.clone(),
                TrialParam {
                    value,
                    internal,
                    distribution: dist,
                },
            );
        }
        Ok(out)
    }

    /// Intermediate values as stored: `[[step, value], ...]`.
    pub fn intermediate_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.intermediate
                .iter()
                .map(|(s, v)| serde_json::json!([s, v]))
                .collect(),
        )
    }

    /// Parses stored intermediate values.
    pub fn intermediate_from_json(v: &serde_json::Value) -> BTreeMap<i64, f64> {
        let mut out = BTreeMap::new();
        if let Some(items) = v.as_array() {
            for it in items {
                if let (Some(s), Some(x)) = (it.get(0).and_then(|s| s.as_i64()), it.get(1).and_then(|x| x.as_f64())) {
                    out.insert(s, x);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip_through_json() {
        let mut t = FrozenTrial::new(1, 0, TrialState::Running);
        let d = Distribution::categorical(vec!["a".into(), "b".into()]).unwrap();
        t.params.insert(
            "c".into(),
            TrialParam {
                value: "b".into(),
                internal: 1.0,
                distribution: d,
            },
        );
        let f = Distribution::float_log(1e-3, 1.0).unwrap();
        t.params.insert(
            "lr".into(),
            TrialParam {
                value: ParamValue::Float(0.01),
                internal: 0.01,
                distribution: f,
            },
        );
        let back = FrozenTrial::params_from_json(&t.params_json()).unwrap();
        assert_eq!(back, t.params);
        t.intermediate.insert(3, 0.5);
        assert_eq!(
            FrozenTrial::intermediate_from_json(&t.intermediate_json()),
            t.intermediate
        );
        assert!(FrozenTrial::params_from_json(
            &serde_json::json!({"x": {"value": 5, "distribution": {"type": "int", "low": 0, "high": 3}}})
        )
        .is_err());
    }

    #[test]
    fn states_and_directions_parse() {
        assert_eq!(TrialState::parse("pruned").unwrap(), TrialState::Pruned);
        assert!(TrialState::parse("DONE").is_err());
        assert_eq!(Direction::parse("max").unwrap(), Direction::Maximize);
        assert!(Direction::parse("up")
            .unwrap_err()
            .message
            .contains("minimize or maximize"));
    }
}
