//! Search spaces: parameter values, distributions (float, int, categorical;
//! uniform, log, stepped) and declared spaces with conditional parameters.
//!
//! Every distribution has an *internal* representation as one `f64` (the
//! value for floats and ints, the choice index for categoricals), which is
//! what samplers work on and what the storage keeps next to the distribution.
//! Numeric distributions also map to the unit interval (`to_unit` /
//! `from_unit`, log-aware, ints and steps widened by half a step on each side)
//! so model-based samplers see one scale.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};

/// A parameter's value as the objective sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl ParamValue {
    /// The value as a float where it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// From JSON (numbers, strings, booleans).
    pub fn from_json(v: &serde_json::Value) -> Option<ParamValue> {
        match v {
            serde_json::Value::Bool(b) => Some(ParamValue::Bool(*b)),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(ParamValue::Int)
                .or_else(|| n.as_f64().map(ParamValue::Float)),
            serde_json::Value::String(s) => Some(ParamValue::Str(s.clone())),
            _ => None,
        }
    }

    /// Loose equality for conditions and categorical look-ups: 1 == 1.0.
    pub fn matches(&self, other: &ParamValue) -> bool {
        match (self.as_f64(), other.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => self == other,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => write!(f, "{s}"),
        }
    }
}

impl From<f64> for ParamValue {
    fn from(v: f64) -> Self {
        ParamValue::Float(v)
    }
}
impl From<i64> for ParamValue {
    fn from(v: i64) -> Self {
        ParamValue::Int(v)
    }
}
impl From<bool> for ParamValue {
    fn from(v: bool) -> Self {
        ParamValue::Bool(v)
    }
}
impl From<&str> for ParamValue {
    fn from(v: &str) -> Self {
        ParamValue::Str(v.to_string())
    }
}
impl From<String> for ParamValue {
    fn from(v: String) -> Self {
        ParamValue::Str(v)
    }
}

/// Where a parameter's values come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Distribution {
    /// A float in [low, high], optionally log-scaled or on a grid of `step`.
    Float {
        low: f64,
        high: f64,
        #[serde(default)]
        log: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<f64>,
    },
    /// An integer in [low, high] on a grid of `step` (1 by default), optionally log-scaled.
    Int {
        low: i64,
        high: i64,
        #[serde(default)]
        log: bool,
        #[serde(default = "one")]
        step: i64,
    },
    /// One of a list of choices.
    Categorical { choices: Vec<ParamValue> },
}

fn one() -> i64 {
    1
}

impl Distribution {
    /// A uniform float.
    pub fn float(low: f64, high: f64) -> Result<Distribution> {
        Distribution::Float {
            low,
            high,
            log: false,
            step: None,
        }
        .validated("")
    }

    /// A log-uniform float.
    pub fn float_log(low: f64, high: f64) -> Result<Distribution> {
        Distribution::Float {
            low,
            high,
            log: true,
            step: None,
        }
        .validated("")
    }

    /// A uniform integer.
    pub fn int(low: i64, high: i64) -> Result<Distribution> {
        Distribution::Int {
            low,
            high,
            log: false,
            step: 1,
        }
        .validated("")
    }

    /// A categorical.
    pub fn categorical(choices: Vec<ParamValue>) -> Result<Distribution> {
        Distribution::Categorical { choices }.validated("")
    }

    /// Checks the distribution (`name` is for the message) and returns it,
    /// with a stepped float's `high` snapped down onto the grid.
    pub fn validated(self, name: &str) -> Result<Distribution> {
        let what = if name.is_empty() {
            "parameter".to_string()
        } else {
            format!("parameter '{name}'")
        };
        match self {
            Distribution::Float { low, high, log, step } => {
                if !low.is_finite() || !high.is_finite() {
                    return Err(invalid(format!(
                        "{what}: bounds must be finite numbers, got low={low}, high={high}"
                    )));
                }
                if low > high {
                    return Err(invalid(format!(
                        "{what}: low ({low}) must not be greater than high ({high})"
                    )));
                }
                if log && low <= 0.0 {
                    return Err(invalid(format!(
                        "{what}: a log-scaled range needs low > 0, got low={low}"
                    )));
                }
                let mut high = high;
                if let Some(s) = step {
                    if log {
                        return Err(invalid(format!("{what}: step and log cannot be combined")));
                    }
                    if !(s.is_finite() && s > 0.0) {
                        return Err(invalid(format!("{what}: step must be a positive number, got {s}")));
                    }
                    let k = ((high - low) / s + 1e-9).floor();
                    high = low + k * s;
                }
                Ok(Distribution::Float { low, high, log, step })
            }
            Distribution::Int { low, high, log, step } => {
                if low > high {
                    return Err(invalid(format!(
                        "{what}: low ({low}) must not be greater than high ({high})"
                    )));
                }
                if step < 1 {
                    return Err(invalid(format!("{what}: step must be at least 1, got {step}")));
                }
                if log && low < 1 {
                    return Err(invalid(format!(
                        "{what}: a log-scaled integer range needs low >= 1, got low={low}"
                    )));
                }
                if log && step != 1 {
                    return Err(invalid(format!("{what}: step and log cannot be combined")));
                }
                let high = low + (high - low) / step * step;
                Ok(Distribution::Int { low, high, log, step })
            }
            Distribution::Categorical { choices } => {
                if choices.is_empty() {
                    return Err(invalid(format!("{what}: a categorical needs at least one choice")));
                }
                for (i, c) in choices.iter().enumerate() {
                    if let ParamValue::Float(f) = c {
                        if !f.is_finite() {
                            return Err(invalid(format!("{what}: choice {i} is not a finite number")));
                        }
                    }
                    if choices[..i].iter().any(|d| d.matches(c)) {
                        return Err(invalid(format!("{what}: choice '{c}' appears twice")));
                    }
                }
                Ok(Distribution::Categorical { choices })
            }
        }
    }

    /// Whether the distribution is a categorical.
    pub fn is_categorical(&self) -> bool {
        matches!(self, Distribution::Categorical { .. })
    }

    /// Whether it holds one value only.
    pub fn is_single(&self) -> bool {
        match self {
            Distribution::Float { low, high, .. } => low == high,
            Distribution::Int { low, high, .. } => low == high,
            Distribution::Categorical { choices } => choices.len() == 1,
        }
    }

    /// Number of choices for categoricals (None otherwise).
    pub fn n_choices(&self) -> Option<usize> {
        match self {
            Distribution::Categorical { choices } => Some(choices.len()),
            _ => None,
        }
    }

    /// The internal form of an external value, checking that it belongs here.
    pub fn to_internal(&self, v: &ParamValue) -> Result<f64> {
        match self {
            Distribution::Float { low, high, .. } => {
                let x = v
                    .as_f64()
                    .ok_or_else(|| invalid(format!("expected a number, got '{v}'")))?;
                if !(x >= *low && x <= *high) {
                    return Err(invalid(format!("{x} is outside [{low}, {high}]")));
                }
                Ok(x)
            }
            Distribution::Int { low, high, step, .. } => {
                let x = match v {
                    ParamValue::Int(i) => *i,
                    ParamValue::Float(f) if f.fract() == 0.0 && f.is_finite() => *f as i64,
                    _ => return Err(invalid(format!("expected an integer, got '{v}'"))),
                };
                if x < *low || x > *high || (x - low) % step != 0 {
                    return Err(invalid(format!("{x} is not in [{low}, {high}] with step {step}")));
                }
                Ok(x as f64)
            }
            Distribution::Categorical { choices } => choices
                .iter()
                .position(|c| c.matches(v))
                .map(|i| i as f64)
                .ok_or_else(|| invalid(format!("'{v}' is not one of the choices"))),
        }
    }

    /// The external value of an internal one (rounded/clamped into the distribution).
    pub fn to_external(&self, x: f64) -> ParamValue {
        match self {
            Distribution::Float { .. } => ParamValue::Float(self.snap(x)),
            Distribution::Int { .. } => ParamValue::Int(self.snap(x) as i64),
            Distribution::Categorical { choices } => {
                let i = (x.round().max(0.0) as usize).min(choices.len().saturating_sub(1));
                choices.get(i).cloned().unwrap_or(ParamValue::Int(0))
            }
        }
    }

    /// Clamps an internal value into range and onto the step grid.
    pub fn snap(&self, x: f64) -> f64 {
        let x = if x.is_finite() { x } else { 0.0 };
        match self {
            Distribution::Float { low, high, step, .. } => {
                let mut v = x.clamp(*low, *high);
                if let Some(s) = step {
                    v = (low + ((v - low) / s).round() * s).clamp(*low, *high);
                }
                v
            }
            Distribution::Int { low, high, step, .. } => {
                let (l, h, s) = (*low as f64, *high as f64, *step as f64);
                (l + ((x.clamp(l, h) - l) / s).round() * s).clamp(l, h)
            }
            Distribution::Categorical { choices } => x.round().clamp(0.0, choices.len().saturating_sub(1) as f64),
        }
    }

    /// The range model-based samplers work in: (low, high) of the transformed
    /// value (log for log scales; ints and steps widened by half a step).
    pub fn transformed_bounds(&self) -> (f64, f64) {
        match self {
            Distribution::Float { low, high, log, step } => {
                if *log {
                    (low.ln(), high.ln())
                } else if let Some(s) = step {
                    (low - s / 2.0, high + s / 2.0)
                } else {
                    (*low, *high)
                }
            }
            Distribution::Int { low, high, log, step } => {
                if *log {
                    ((*low as f64 - 0.5).ln(), (*high as f64 + 0.5).ln())
                } else {
                    let half = *step as f64 / 2.0;
                    (*low as f64 - half, *high as f64 + half)
                }
            }
            Distribution::Categorical { choices } => (0.0, choices.len() as f64),
        }
    }

    /// Internal value to the transformed scale.
    pub fn transform(&self, x: f64) -> f64 {
        match self {
            Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. } => x.max(1e-300).ln(),
            _ => x,
        }
    }

    /// Transformed value back to an internal value (snapped).
    pub fn untransform(&self, t: f64) -> f64 {
        match self {
            Distribution::Float { log: true, .. } | Distribution::Int { log: true, .. } => self.snap(t.exp()),
            _ => self.snap(t),
        }
    }

    /// Internal value to [0, 1] (numeric distributions; categoricals give index / n).
    pub fn to_unit(&self, x: f64) -> f64 {
        let (lo, hi) = self.transformed_bounds();
        if hi <= lo {
            return 0.5;
        }
        ((self.transform(x) - lo) / (hi - lo)).clamp(0.0, 1.0)
    }

    /// [0, 1] back to an internal value (snapped onto the distribution).
    pub fn from_unit(&self, u: f64) -> f64 {
        if let Distribution::Categorical { choices } = self {
            let k = choices.len();
            return ((u * k as f64).floor().max(0.0) as usize).min(k.saturating_sub(1)) as f64;
        }
        let (lo, hi) = self.transformed_bounds();
        self.untransform(lo + u.clamp(0.0, 1.0) * (hi - lo))
    }
}

/// A condition on earlier parameters: each named parameter must take one of the listed values.
pub type Condition = BTreeMap<String, Vec<ParamValue>>;

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    pub name: String,
    pub distribution: Distribution,
    /// Present only when every listed parameter has one of the listed values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub when: Condition,
}

/// A declared search space: parameters in an order where every condition
/// refers to parameters that come before it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SearchSpace {
    pub params: Vec<ParamSpec>,
}

/// A value or a list of values (for `when = { boosting = "gbdt" }` or `["gbdt", "dart"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    Many(Vec<ParamValue>),
    One(ParamValue),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<ParamValue> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(v) => vec![v],
        }
    }
}

/// A parameter as written in `kiln.toml` / a space file / the REST API:
/// `{ float = [0.005, 0.3], log = true }`, `{ int = [8, 256], step = 8 }`,
/// `{ choices = ["gbdt", "dart"] }`, with an optional `when = { other = value }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDecl {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub float: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<ParamValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<BTreeMap<String, OneOrMany>>,
}

impl ParamDecl {
    /// The distribution this declares (`name` is for messages).
    pub fn distribution(&self, name: &str) -> Result<Distribution> {
        let kinds = [self.float.is_some(), self.int.is_some(), self.choices.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(invalid(format!(
                "parameter '{name}': give exactly one of `float = [low, high]`, `int = [low, high]` or `choices = [...]`"
            )));
        }
        let pair = |v: &[f64], kind: &str| -> Result<(f64, f64)> {
            match v {
                [lo, hi] => Ok((*lo, *hi)),
                _ => Err(invalid(format!(
                    "parameter '{name}': `{kind}` takes two bounds [low, high], got {} values",
                    v.len()
                ))),
            }
        };
        let log = self.log.unwrap_or(false);
        if let Some(f) = &self.float {
            let (low, high) = pair(f, "float")?;
            return Distribution::Float {
                low,
                high,
                log,
                step: self.step,
            }
            .validated(name);
        }
        if let Some(i) = &self.int {
            let as_f: Vec<f64> = i.iter().map(|x| *x as f64).collect();
            pair(&as_f, "int")?;
            let step = match self.step {
                None => 1,
                Some(s) if s.fract() == 0.0 && (1.0..9.0e15).contains(&s) => s as i64,
                Some(s) => {
                    return Err(invalid(format!(
                        "parameter '{name}': an integer step must be a whole number >= 1, got {s}"
                    )))
                }
            };
            return Distribution::Int {
                low: i[0],
                high: i[1],
                log,
                step,
            }
            .validated(name);
        }
        if self.log.is_some() || self.step.is_some() {
            return Err(invalid(format!(
                "parameter '{name}': `log` and `step` apply to float and int ranges, not to choices"
            )));
        }
        Distribution::Categorical {
            choices: self.choices.clone().unwrap_or_default(),
        }
        .validated(name)
    }
}

impl SearchSpace {
    /// An unconditional space from (name, distribution) pairs.
    pub fn from_distributions(items: impl IntoIterator<Item = (String, Distribution)>) -> Result<SearchSpace> {
        let params = items
            .into_iter()
            .map(|(name, distribution)| ParamSpec {
                name,
                distribution,
                when: Condition::new(),
            })
            .collect();
        SearchSpace::new(params)
    }

    /// Validates a list of parameters: names unique, distributions valid,
    /// conditions referring to earlier parameters with values they can take.
    pub fn new(params: Vec<ParamSpec>) -> Result<SearchSpace> {
        let mut seen: BTreeMap<&str, &Distribution> = BTreeMap::new();
        for p in &params {
            if p.name.is_empty() {
                return Err(invalid("a parameter name must not be empty"));
            }
            if seen.contains_key(p.name.as_str()) {
                return Err(invalid(format!("parameter '{}' is declared twice", p.name)));
            }
            p.distribution.clone().validated(&p.name)?;
            for (parent, values) in &p.when {
                let Some(pd) = seen.get(parent.as_str()) else {
                    return Err(invalid(format!(
                        "parameter '{}': its condition names '{parent}', which is not declared before it (or at all)",
                        p.name
                    )));
                };
                if values.is_empty() {
                    return Err(invalid(format!(
                        "parameter '{}': the condition on '{parent}' lists no values",
                        p.name
                    )));
                }
                for v in values {
                    if pd.to_internal(v).is_err() {
                        return Err(invalid(format!(
                            "parameter '{}': the condition on '{parent}' uses '{v}', which '{parent}' can never take",
                            p.name
                        )));
                    }
                }
            }
            seen.insert(&p.name, &p.distribution);
        }
        Ok(SearchSpace { params })
    }

    /// Builds a space from declarations keyed by name, ordering parameters so
    /// that each comes after the parameters its condition names (then by name).
    pub fn from_decls(decls: &BTreeMap<String, ParamDecl>) -> Result<SearchSpace> {
        let mut specs: Vec<ParamSpec> = Vec::new();
        for (name, d) in decls {
            let when = d
                .when
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.into_vec()))
                .collect();
            specs.push(ParamSpec {
                name: name.clone(),
                distribution: d.distribution(name)?,
                when,
            });
        }
        // Topological order, stable by name.
        let mut placed: BTreeSet<String> = BTreeSet::new();
        let mut ordered = Vec::with_capacity(specs.len());
        while !specs.is_empty() {
            let before = specs.len();
            let mut rest = Vec::new();
            for s in specs {
                if s.when.keys().all(|k| placed.contains(k)) {
                    placed.insert(s.name.clone());
                    ordered.push(s);
                } else {
                    rest.push(s);
                }
            }
            specs = rest;
            if specs.len() == before {
                let s = &specs[0];
                let missing: Vec<&String> = s.when.keys().filter(|k| !placed.contains(*k)).collect();
                let undeclared = missing.iter().find(|m| !decls.contains_key(m.as_str()));
                return Err(match undeclared {
                    Some(m) => invalid(format!(
                        "parameter '{}': its condition names '{m}', which is not declared",
                        s.name
                    )),
                    None => invalid(format!(
                        "parameter '{}': its conditions form a cycle (through {:?})",
                        s.name, missing
                    )),
                });
            }
        }
        SearchSpace::new(ordered)
    }

    /// Parses declarations from JSON (`{"x": {"float": [0, 1]}, ...}`).
    pub fn from_json(v: &serde_json::Value) -> Result<SearchSpace> {
        let decls: BTreeMap<String, ParamDecl> =
            serde_json::from_value(v.clone()).map_err(|e| invalid(format!("invalid search space: {e}")))?;
        SearchSpace::from_decls(&decls)
    }

    /// The declarations (inverse of `from_decls`), for storing and showing.
    pub fn to_decls(&self) -> BTreeMap<String, ParamDecl> {
        self.params
            .iter()
            .map(|p| {
                let mut d = ParamDecl::default();
                match &p.distribution {
                    Distribution::Float { low, high, log, step } => {
                        d.float = Some(vec![*low, *high]);
                        d.log = log.then_some(true);
                        d.step = *step;
                    }
                    Distribution::Int { low, high, log, step } => {
                        d.int = Some(vec![*low, *high]);
                        d.log = log.then_some(true);
                        d.step = (*step != 1).then_some(*step as f64);
                    }
                    Distribution::Categorical { choices } => d.choices = Some(choices.clone()),
                }
                if !p.when.is_empty() {
                    d.when = Some(
                        p.when
                            .iter()
                            .map(|(k, v)| (k.clone(), OneOrMany::Many(v.clone())))
                            .collect(),
                    );
                }
                (p.name.clone(), d)
            })
            .collect()
    }

    /// Whether `spec` is active given the values chosen so far.
    pub fn is_active(spec: &ParamSpec, chosen: &BTreeMap<String, ParamValue>) -> bool {
        spec.when
            .iter()
            .all(|(parent, allowed)| chosen.get(parent).is_some_and(|v| allowed.iter().any(|a| a.matches(v))))
    }

    /// The parameters without conditions (what joint samplers model).
    pub fn unconditional(&self) -> BTreeMap<String, Distribution> {
        self.params
            .iter()
            .filter(|p| p.when.is_empty())
            .map(|p| (p.name.clone(), p.distribution.clone()))
            .collect()
    }

    /// Whether the space has no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Checks a full assignment (e.g. an enqueued trial) against the space.
    pub fn check_assignment(&self, values: &BTreeMap<String, ParamValue>) -> Result<()> {
        let mut chosen = BTreeMap::new();
        for p in &self.params {
            if !SearchSpace::is_active(p, &chosen) {
                if values.contains_key(&p.name) {
                    return Err(invalid(format!(
                        "parameter '{}' is given but its condition does not hold",
                        p.name
                    )));
                }
                continue;
            }
            let Some(v) = values.get(&p.name) else {
                return Err(invalid(format!("parameter '{}' is missing", p.name)));
            };
            p.distribution
                .to_internal(v)
                .map_err(|e| invalid(format!("parameter '{}': {}", p.name, e.message)))?;
            chosen.insert(p.name.clone(), v.clone());
        }
        if let Some(extra) = values.keys().find(|k| !self.params.iter().any(|p| &p.name == *k)) {
            return Err(invalid(format!("parameter '{extra}' is not in the search space")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(json: serde_json::Value) -> Result<SearchSpace> {
        SearchSpace::from_json(&json)
    }

    #[test]
    fn bad_ranges_are_clear_errors() {
        let cases = [
            (serde_json::json!({"x": {"float": [2.0, 1.0]}}), "must not be greater"),
            (serde_json::json!({"x": {"float": [0.0, 1.0], "log": true}}), "low > 0"),
            (serde_json::json!({"x": {"float": [-1.0, 1.0], "log": true}}), "low > 0"),
            (serde_json::json!({"x": {"int": [0, 10], "log": true}}), "low >= 1"),
            (serde_json::json!({"x": {"int": [5, 1]}}), "must not be greater"),
            (serde_json::json!({"x": {"choices": []}}), "at least one choice"),
            (serde_json::json!({"x": {"choices": ["a", "a"]}}), "appears twice"),
            (serde_json::json!({"x": {"float": [0.0]}}), "two bounds"),
            (
                serde_json::json!({"x": {"float": [0, 1], "int": [0, 1]}}),
                "exactly one",
            ),
            (serde_json::json!({"x": {}}), "exactly one"),
            (serde_json::json!({"x": {"float": [0, 1], "lg": true}}), "unknown field"),
            (serde_json::json!({"x": {"float": [0, 1], "step": 0}}), "positive"),
            (serde_json::json!({"x": {"int": [0, 10], "step": 1.5}}), "whole number"),
            (
                serde_json::json!({"x": {"choices": ["a"], "log": true}}),
                "not to choices",
            ),
            (
                serde_json::json!({"x": {"float": [0, 1], "when": {"nope": "a"}}}),
                "not declared",
            ),
            (
                serde_json::json!({"b": {"choices": ["g"]}, "x": {"float": [0, 1], "when": {"b": "z"}}}),
                "can never take",
            ),
            (
                serde_json::json!({"a": {"choices": [1], "when": {"b": 1}}, "b": {"choices": [1], "when": {"a": 1}}}),
                "cycle",
            ),
        ];
        for (json, want) in cases {
            let e = decl(json.clone()).unwrap_err();
            assert!(e.message.contains(want), "{json}: {}", e.message);
            assert!(
                e.message.contains("'x'") || e.message.contains("'a'") || e.message.contains("unknown"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn conditions_are_ordered_after_their_parents() {
        let s = decl(serde_json::json!({
            "a_leaves": {"int": [8, 256], "log": true, "when": {"boosting": "gbdt"}},
            "boosting": {"choices": ["gbdt", "dart"]},
            "lr": {"float": [0.005, 0.3], "log": true},
        }))
        .unwrap();
        let names: Vec<&str> = s.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["boosting", "lr", "a_leaves"]);
        let mut chosen = BTreeMap::new();
        chosen.insert("boosting".to_string(), ParamValue::from("dart"));
        assert!(!SearchSpace::is_active(&s.params[2], &chosen));
        chosen.insert("boosting".to_string(), ParamValue::from("gbdt"));
        assert!(SearchSpace::is_active(&s.params[2], &chosen));
        assert_eq!(s.unconditional().len(), 2);
        // Round trip through declarations.
        assert_eq!(SearchSpace::from_decls(&s.to_decls()).unwrap(), s);
    }

    #[test]
    fn internal_and_unit_round_trips() {
        let d = Distribution::Int {
            low: 8,
            high: 256,
            log: true,
            step: 1,
        };
        for v in [8, 9, 100, 256] {
            let x = d.to_internal(&ParamValue::Int(v)).unwrap();
            assert_eq!(d.from_unit(d.to_unit(x)), v as f64);
        }
        assert!(d.to_internal(&ParamValue::Int(7)).is_err());
        let s = Distribution::Float {
            low: 0.0,
            high: 1.0,
            log: false,
            step: Some(0.25),
        };
        assert_eq!(s.snap(0.3), 0.25);
        assert_eq!(s.to_external(0.9), ParamValue::Float(1.0));
        let stepped = Distribution::Float {
            low: 0.0,
            high: 1.1,
            log: false,
            step: Some(0.25),
        }
        .validated("s")
        .unwrap();
        assert_eq!(stepped, s, "high snapped onto the grid");
        let c = Distribution::categorical(vec!["a".into(), 2i64.into()]).unwrap();
        assert_eq!(c.to_internal(&ParamValue::Float(2.0)).unwrap(), 1.0);
        assert_eq!(c.to_external(1.0), ParamValue::Int(2));
        assert_eq!(c.from_unit(0.99), 1.0);
        assert!(c.to_internal(&"b".into()).is_err());
    }

    #[test]
    fn assignments_are_checked_against_conditions() {
        let s = decl(serde_json::json!({
            "boosting": {"choices": ["gbdt", "dart"]},
            "leaves": {"int": [8, 256], "when": {"boosting": ["gbdt"]}},
        }))
        .unwrap();
        let ok: BTreeMap<String, ParamValue> = [
            ("boosting".to_string(), "gbdt".into()),
            ("leaves".to_string(), 9i64.into()),
        ]
        .into();
        s.check_assignment(&ok).unwrap();
        let inactive: BTreeMap<String, ParamValue> = [
            ("boosting".to_string(), "dart".into()),
            ("leaves".to_string(), 9i64.into()),
        ]
        .into();
        assert!(s.check_assignment(&inactive).unwrap_err().message.contains("condition"));
        let missing: BTreeMap<String, ParamValue> = [("boosting".to_string(), "gbdt".into())].into();
        assert!(s.check_assignment(&missing).unwrap_err().message.contains("missing"));
    }
}
