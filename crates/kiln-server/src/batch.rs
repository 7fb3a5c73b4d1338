//! `runs/log-batch`, the hot write path: a typed parse of the request straight
//! into the store's types, falling back to the field-by-field parse of
//! [`Req`](crate::req::Req) when the fast parse fails, so a mistake still gets a
//! message that names the field.

use std::fmt;

use axum::extract::{FromRequest, Request};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use kiln_store::{Metric, Param, StoreError, Tag};

use crate::req::{check_content_type, read_body, Req};
use crate::ApiError;

/// A parsed log-batch request.
pub struct Batch {
    pub run_id: String,
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

#[derive(Deserialize)]
struct FastBatch {
    run_id: Option<String>,
    run_uuid: Option<String>,
    #[serde(default)]
    metrics: Vec<FastMetric>,
    #[serde(default)]
    params: Vec<FastKv>,
    #[serde(default)]
    tags: Vec<FastKv>,
}

#[derive(Deserialize)]
struct FastMetric {
    key: String,
    value: Lenient<f64>,
    timestamp: Lenient<i64>,
    step: Option<Lenient<i64>>,
    model_id: Option<String>,
    dataset_name: Option<String>,
    dataset_digest: Option<String>,
}

#[derive(Deserialize)]
struct FastKv {
    key: String,
    value: Option<String>,
}

/// A proto3-JSON number: a JSON number, or a string holding one ("NaN" and
/// "Infinity" included for doubles).
struct Lenient<T>(T);

impl<'de> Deserialize<'de> for Lenient<f64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = f64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
                crate::req::value_f64("value", &serde_json::Value::String(v.to_string()))
                    .map_err(|e| E::custom(e.message))
            }
        }
        d.deserialize_any(V).map(Lenient)
    }
}

impl<'de> Deserialize<'de> for Lenient<i64> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 64-bit integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| E::custom("out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
                v.trim().parse().map_err(|_| E::custom("not an integer"))
            }
        }
        d.deserialize_any(V).map(Lenient)
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl FastBatch {
    /// `None` sends the request down the careful path, which explains what is wrong.
    fn into_batch(self) -> Option<Batch> {
        let has_nul = |s: &str| s.contains('\0');
        let opt_nul = |s: &Option<String>| s.as_deref().is_some_and(has_nul);
        let any_nul = opt_nul(&self.run_id)
            || opt_nul(&self.run_uuid)
            || self.metrics.iter().any(|m| {
                has_nul(&m.key) || opt_nul(&m.model_id) || opt_nul(&m.dataset_name) || opt_nul(&m.dataset_digest)
            })
            || self
                .params
                .iter()
                .chain(&self.tags)
                .any(|p| has_nul(&p.key) || opt_nul(&p.value));
        if any_nul {
            return None;
        }
        let run_id = non_empty(self.run_id).or(non_empty(self.run_uuid))?;
        let metrics = self
            .metrics
            .into_iter()
            .map(|m| Metric {
                key: m.key,
                value: m.value.0,
                timestamp: m.timestamp.0,
                step: m.step.map(|s| s.0).unwrap_or(0),
                dataset_name: non_empty(m.dataset_name),
                dataset_digest: non_empty(m.dataset_digest),
                model_id: non_empty(m.model_id),
                run_id: None,
            })
            .collect::<Vec<_>>();
        let kv = |v: Vec<FastKv>| {
            v.into_iter()
                .map(|p| Tag::new(p.key, p.value.unwrap_or_default()))
                .collect()
        };
        Some(Batch {
            run_id,
            metrics,
            params: kv(self.params),
            tags: kv(self.tags),
        })
    }
}

impl Batch {
    /// The careful path: every field checked by name.
    fn from_req(r: &Req) -> Result<Batch, StoreError> {
        let run_id = r.run_id()?;
        let metrics = r.objects("metrics")?;
        let params = r.tags("params")?;
        let tags = r.tags("tags")?;
        kiln_store::validation::validate_batch_limits(metrics.len(), params.len(), tags.len())?;
        let metrics = metrics
            .iter()
            .map(crate::api::metric_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Batch {
            run_id,
            metrics,
            params,
            tags,
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for Batch {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        check_content_type(req.method(), req.headers())?;
        let query = req.uri().query().map(str::to_string);
        let body = read_body(req, state).await?;
        if query.is_none() {
            if let Ok(fast) = serde_json::from_slice::<FastBatch>(&body) {
                if let Some(b) = fast.into_batch() {
                    return Ok(b);
                }
            }
        }
        let r = Req::from_parts(query.as_deref(), &body)?;
        Ok(Batch::from_req(&r)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(body: &str) -> Option<Batch> {
        serde_json::from_str::<FastBatch>(body)
            .ok()
            .and_then(|b| b.into_batch())
    }

    #[test]
    fn fast_path_reads_proto_json_numbers() {
        let b = fast(
            r#"{"run_id":"r1","metrics":[{"key":"a","value":"NaN","timestamp":"5","step":2},{"key":"b","value":1,"timestamp":6}],
                "params":[{"key":"p","value":"1"}],"tags":[{"key":"t"}]}"#,
        )
        .unwrap();
        assert_eq!(b.run_id, "r1");
        assert!(b.metrics[0].value.is_nan());
        assert_eq!((b.metrics[0].timestamp, b.metrics[0].step), (5, 2));
        assert_eq!((b.metrics[1].value, b.metrics[1].step), (1.0, 0));
        assert_eq!(b.params, vec![Tag::new("p", "1")]);
        assert_eq!(b.tags, vec![Tag::new("t", "")]);
    }

    #[test]
    fn mistakes_fall_back_to_the_named_path() {
        assert!(fast(r#"{"run_id":"r","metrics":[{"key":"a","value":"abc","timestamp":1}]}"#).is_none());
        assert!(fast(r#"{"run_id":"r","metrics":{"not":"a list"}}"#).is_none());
        assert!(fast(r#"{"metrics":[]}"#).is_none(), "no run id");
        assert!(
            fast(r#"{"run_id":"r","params":[{"key":"p","value":"a\u0000b"}]}"#).is_none(),
            "NUL in a value"
        );
        let r = Req::from_parts(
            None,
            br#"{"run_id":"r","metrics":[{"key":"a","value":"abc","timestamp":1}]}"#,
        )
        .ok()
        .unwrap();
        let e = Batch::from_req(&r).err().unwrap();
        assert!(e.message.contains("metrics[0].value"), "{}", e.message);
    }
}
