//! Reading a learner's hyperparameters from a config table, strictly: a wrong
//! type names the key and what was expected; a key no one read is an error that
//! lists the keys the learner knows.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::learner::{LearnError, Result};

/// Hyperparameters as given (a `[[model]]` table without `kind`), read key by key.
pub struct Params {
    kind: String,
    values: BTreeMap<String, Value>,
    known: Vec<&'static str>,
}

impl Params {
    pub fn new(kind: &str, values: &BTreeMap<String, Value>) -> Params {
        Params {
            kind: kind.to_string(),
            values: values.clone(),
            known: Vec::new(),
        }
    }

    fn take(&mut self, key: &'static str) -> Option<Value> {
        self.known.push(key);
        self.values.remove(key)
    }

    fn wrong(&self, key: &str, expected: &str, got: &Value) -> LearnError {
        LearnError::new(format!(
            "model '{}': hyperparameter '{key}' must be {expected}, got {got}",
            self.kind
        ))
    }

    /// A number (integers accepted).
    pub fn f64(&mut self, key: &'static str, default: f64) -> Result<f64> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(x),
                _ => Err(self.wrong(key, "a finite number", &v)),
            },
        }
    }

    /// A number within `[lo, hi]`.
    pub fn f64_in(&mut self, key: &'static str, default: f64, lo: f64, hi: f64) -> Result<f64> {
        let x = self.f64(key, default)?;
        if x < lo || x > hi {
            return Err(LearnError::new(format!(
                "model '{}': hyperparameter '{key}' must be between {lo} and {hi}, got {x}",
                self.kind
            )));
        }
        Ok(x)
    }

    /// A whole number (a float with no fraction accepted, as TOML users write `1e3`).
    pub fn i64(&mut self, key: &'static str, default: i64) -> Result<i64> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => match (v.as_i64(), v.as_f64()) {
                (Some(i), _) => Ok(i),
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9e15 => Ok(f as i64),
                _ => Err(self.wrong(key, "a whole number", &v)),
            },
        }
    }

    /// A whole number within `[lo, hi]`.
    pub fn i64_in(&mut self, key: &'static str, default: i64, lo: i64, hi: i64) -> Result<i64> {
        let x = self.i64(key, default)?;
        if x < lo || x > hi {
            return Err(LearnError::new(format!(
                "model '{}': hyperparameter '{key}' must be between {lo} and {hi}, got {x}",
                self.kind
            )));
        }
        Ok(x)
    }

    /// An optional whole number `>= lo`.
    pub fn opt_i64(&mut self, key: &'static str, lo: i64) -> Result<Option<i64>> {
        if !self.values.contains_key(key) {
            self.known.push(key);
            return Ok(None);
        }
        self.i64_in(key, lo, lo, i64::MAX).map(Some)
    }

    pub fn bool(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.take(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(b),
            Some(v) => Err(self.wrong(key, "true or false", &v)),
        }
    }

    /// One of `choices`.
    pub fn choice(&mut self, key: &'static str, default: &str, choices: &[&str]) -> Result<String> {
        match self.take(key) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) if choices.contains(&s.as_str()) => Ok(s),
            Some(v) => Err(self.wrong(key, &format!("one of {}", choices.join(", ")), &v)),
        }
    }

    /// Errors if any key was not read: names it and lists the known ones.
    pub fn finish(self) -> Result<()> {
        if let Some(k) = self.values.keys().next() {
            let mut known = self.known.clone();
            known.sort_unstable();
            known.dedup();
            return Err(LearnError::new(format!(
                "model '{}': unknown hyperparameter '{k}'; known: {}",
                self.kind,
                known.join(", ")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn reads_typed_values_and_rejects_the_rest() {
        let m = map(json!({"lr": 0.1, "rounds": 200, "deep": true, "mode": "gbdt"}));
        let mut p = Params::new("lightgbm", &m);
        assert_eq!(p.f64("lr", 0.3).unwrap(), 0.1);
        assert_eq!(p.i64("rounds", 100).unwrap(), 200);
        assert!(p.bool("deep", false).unwrap());
        assert_eq!(p.choice("mode", "gbdt", &["gbdt", "dart"]).unwrap(), "gbdt");
        assert_eq!(p.f64("missing", 2.0).unwrap(), 2.0);
        p.finish().unwrap();

        let m = map(json!({"rounds": "many"}));
        let e = Params::new("lightgbm", &m).i64("rounds", 1).unwrap_err();
        assert!(e.message.contains("'rounds' must be a whole number"), "{e}");

        let m = map(json!({"num_leafs": 3}));
        let mut p = Params::new("lightgbm", &m);
        p.i64("num_leaves", 31).unwrap();
        let e = p.finish().unwrap_err();
        assert!(
            e.message.contains("unknown hyperparameter 'num_leafs'") && e.message.contains("num_leaves"),
            "{e}"
        );

        let m = map(json!({"frac": 1.5}));
        let e = Params::new("lightgbm", &m).f64_in("frac", 1.0, 0.0, 1.0).unwrap_err();
        assert!(e.message.contains("between 0 and 1"), "{e}");
        let m = map(json!({"mode": "x"}));
        let e = Params::new("m", &m).choice("mode", "a", &["a", "b"]).unwrap_err();
        assert!(e.message.contains("one of a, b"), "{e}");
    }
}
