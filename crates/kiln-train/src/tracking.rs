//! Where the pipeline's runs go: the embedded store (a SQLite file or a
//! PostgreSQL database opened directly, artifacts in a folder) or any
//! MLflow-compatible server over REST (`kiln server`, `mlflow server`).
//!
//! The interface is synchronous: the pipeline is CPU-bound code that calls it
//! between stages. The embedded tracker drives kiln-store on its own small
//! runtime; the REST tracker is a blocking HTTP client.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use kiln_store::artifacts::ArtifactStore;
use kiln_store::{Dataset, DatasetInput, Metric, ModelVersionCreate, RunCreate, Store, Tag};
use serde_json::{json, Value};

/// A run's final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

/// A registered model version, as the pipeline reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredVersion {
    pub name: String,
    pub version: String,
}

/// What the pipeline needs from a tracking backend.
pub trait Tracker: Send + Sync {
    /// The id of the experiment `name`, created (or restored) if needed.
    fn experiment(&self, name: &str) -> Result<String>;
    /// Starts a run; `parent` makes it a nested (child) run.
    fn start_run(&self, experiment_id: &str, name: &str, parent: Option<&str>, tags: &[Tag]) -> Result<String>;
    /// Params, metrics and tags in one call.
    fn log_batch(&self, run_id: &str, metrics: &[Metric], params: &[Tag], tags: &[Tag]) -> Result<()>;
    /// A dataset input (MLflow's `log_inputs`).
    fn log_dataset(&self, run_id: &str, dataset: Dataset, context: &str) -> Result<()>;
    /// A file under the run's artifact root (`path` like `model/kiln-model.json`).
    fn log_artifact(&self, run_id: &str, path: &str, bytes: Vec<u8>) -> Result<()>;
    /// Ends the run.
    fn end_run(&self, run_id: &str, status: RunStatus) -> Result<()>;
    /// Registers `<run artifact root>/<artifact_path>` as a new version of `name`.
    fn register(
        &self,
        name: &str,
        run_id: &str,
        artifact_path: &str,
        description: &str,
        tags: &[Tag],
    ) -> Result<RegisteredVersion>;
    /// Points `alias` at a version.
    fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()>;
    /// How to describe where the runs are, for the summary (`sqlite:///kiln.db`, `http://...`).
    fn describe(&self) -> String;
    /// The artifact root URI of a run.
    fn run_artifact_root(&self, run_id: &str) -> Result<String>;
    /// The source URI of a registered version: `selector` is a version number or `@alias`.
    fn model_source(&self, name: &str, selector: &str) -> Result<String>;
    /// The bytes of one artifact file, by URI (a run's or a version's source plus a path).
    fn download(&self, artifact_uri: &str) -> Result<Vec<u8>>;
}

/// Where a model URI points: `runs:/RUN/PATH`, `models:/NAME@ALIAS`,
/// `models:/NAME/VERSION`, or a file / folder path (returned as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    Run { run_id: String, path: String },
    Registered { name: String, selector: String },
    Path(String),
}

impl ModelUri {
    pub fn parse(uri: &str) -> Result<ModelUri> {
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let rest = rest.trim_start_matches('/');
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, "model"));
            if run_id.is_empty() {
                bail!("'{uri}': expected runs:/<run_id>/<artifact path>");
            }
            let path = if path.trim_matches('/').is_empty() {
                "model"
            } else {
                path.trim_matches('/')
            };
            return Ok(ModelUri::Run {
                run_id: run_id.to_string(),
                path: path.to_string(),
            });
        }
        if let Some(rest) = uri.strip_prefix("models:/") {
            let rest = rest.trim_start_matches('/').trim_end_matches('/');
            if let Some((name, alias)) = rest.split_once('@') {
                if name.is_empty() || alias.is_empty() {
                    bail!("'{uri}': expected models:/<name>@<alias>");
                }
                return Ok(ModelUri::Registered {
                    name: name.to_string(),
                    selector: format!("@{alias}"),
                });
            }
            return match rest.rsplit_once('/') {
                Some((name, version)) if !name.is_empty() && !version.is_empty() => Ok(ModelUri::Registered {
                    name: name.to_string(),
                    selector: version.to_string(),
                }),
                _ => bail!("'{uri}': expected models:/<name>/<version> or models:/<name>@<alias>"),
            };
        }
        Ok(ModelUri::Path(uri.to_string()))
    }
}

/// The bytes of the model bundle a model URI names.
pub fn fetch_model(uri: &str, tracker: Option<&dyn Tracker>) -> Result<Vec<u8>> {
    let file = kiln_learn::bundle::FILE_NAME;
    let need = || {
        tracker.ok_or_else(|| {
            anyhow!("'{uri}' names a tracked model: give a tracking URI (--tracking-uri or MLFLOW_TRACKING_URI)")
        })
    };
    match ModelUri::parse(uri)? {
        ModelUri::Path(p) => {
            let path = std::path::Path::new(&p);
            let path = if path.is_dir() {
                path.join(file)
            } else {
                path.to_path_buf()
            };
            std::fs::read(&path).with_context(|| format!("reading the model {}", path.display()))
        }
        ModelUri::Run { run_id, path } => {
            let t = need()?;
            let root = t.run_artifact_root(&run_id)?;
            t.download(&format!("{root}/{path}/{file}"))
                .with_context(|| format!("fetching {file} of {uri}"))
        }
        ModelUri::Registered { name, selector } => {
            let t = need()?;
            let source = t.model_source(&name, &selector)?;
            t.download(&format!("{}/{file}", source.trim_end_matches('/')))
                .with_context(|| format!("fetching {file} of {uri} (source {source})"))
        }
    }
}

/// Tracking straight into kiln-store.
pub struct EmbeddedTracker {
    rt: tokio::runtime::Runtime,
    store: Store,
    artifacts: ArtifactStore,
    uri: String,
}

impl EmbeddedTracker {
    /// Opens the store at `uri` (`sqlite:///kiln.db`, `postgresql://...`) with
    /// artifacts under `artifacts` (a folder, or an object-store URI with feature `cloud`).
    ///
    /// Must not be called from inside an async runtime.
    pub fn open(uri: &str, artifacts: &str) -> Result<EmbeddedTracker> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("starting the tracking runtime")?;
        let store = rt
            .block_on(Store::open(uri, "mlflow-artifacts:"))
            .map_err(|e| anyhow!("opening the store '{}': {}", kiln_store::db::redact(uri), e.message))?;
        let artifacts = ArtifactStore::open(artifacts)
            .map_err(|e| anyhow!("opening the artifact store '{artifacts}': {}", e.message))?;
        Ok(EmbeddedTracker {
            rt,
            store,
            artifacts,
            uri: kiln_store::db::redact(uri),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn artifacts(&self) -> &ArtifactStore {
        &self.artifacts
    }

    /// Runs a store future to completion.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

fn store_err(e: kiln_store::StoreError) -> anyhow::Error {
    anyhow!(e.message)
}

fn user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "kiln".into())
}

impl Tracker for EmbeddedTracker {
    fn experiment(&self, name: &str) -> Result<String> {
        self.block_on(async {
            match self.store.get_experiment_by_name(name).await {
                Ok(e) if e.lifecycle_stage == "active" => Ok(e.experiment_id),
                Ok(e) => {
                    self.store
                        .restore_experiment(&e.experiment_id)
                        .await
                        .map_err(store_err)?;
                    Ok(e.experiment_id)
                }
                Err(e) if e.code == kiln_store::ErrorCode::ResourceDoesNotExist => {
                    self.store.create_experiment(name, None, &[]).await.map_err(store_err)
                }
                Err(e) => Err(store_err(e)),
            }
        })
    }

    fn start_run(&self, experiment_id: &str, name: &str, parent: Option<&str>, tags: &[Tag]) -> Result<String> {
        let mut tags = tags.to_vec();
        if let Some(p) = parent {
            tags.push(Tag::new("mlflow.parentRunId", p));
        }
        let run = self
            .block_on(self.store.create_run(RunCreate {
                experiment_id: experiment_id.to_string(),
                user_id: user(),
                start_time: None,
                run_name: Some(name.to_string()),
                tags,
            }))
            .map_err(store_err)?;
        Ok(run.info.run_id)
    }

    fn log_batch(&self, run_id: &str, metrics: &[Metric], params: &[Tag], tags: &[Tag]) -> Result<()> {
        // MLflow caps a batch at 1000 metrics / 100 params / 100 tags; keep to it.
        for chunk in metrics.chunks(1000) {
            self.block_on(self.store.log_batch(run_id, chunk, &[], &[]))
                .map_err(store_err)?;
        }
        for chunk in params.chunks(100) {
            self.block_on(self.store.log_batch(run_id, &[], chunk, &[]))
                .map_err(store_err)?;
        }
        for chunk in tags.chunks(100) {
            self.block_on(self.store.log_batch(run_id, &[], &[], chunk))
                .map_err(store_err)?;
        }
        Ok(())
    }

    fn log_dataset(&self, run_id: &str, dataset: Dataset, context: &str) -> Result<()> {
        self.block_on(self.store.log_inputs(
            run_id,
            &[DatasetInput {
                tags: vec![Tag::new("mlflow.data.context", context)],
                dataset,
            }],
            &[],
        ))
        .map_err(store_err)
    }

    fn log_artifact(&self, run_id: &str, path: &str, bytes: Vec<u8>) -> Result<()> {
        self.block_on(async {
            let info = self.store.get_run_info(run_id).await.map_err(store_err)?;
            let root = self.artifacts.path_for_uri(&info.artifact_uri).map_err(store_err)?;
            let rel = kiln_store::artifacts::safe_relative_path(path).map_err(store_err)?;
            self.artifacts
                .put_bytes(&format!("{root}/{rel}"), bytes::Bytes::from(bytes))
                .await
                .map_err(store_err)?;
            Ok(())
        })
    }

    fn end_run(&self, run_id: &str, status: RunStatus) -> Result<()> {
        self.block_on(
            self.store
                .update_run(run_id, Some(status.as_str()), Some(kiln_store::now_ms()), None),
        )
        .map_err(store_err)?;
        Ok(())
    }

    fn register(
        &self,
        name: &str,
        run_id: &str,
        artifact_path: &str,
        description: &str,
        tags: &[Tag],
    ) -> Result<RegisteredVersion> {
        self.block_on(async {
            if let Err(e) = self.store.get_registered_model(name).await {
                if e.code != kiln_store::ErrorCode::ResourceDoesNotExist {
                    return Err(store_err(e));
                }
                self.store
                    .create_registered_model(name, &[], None)
                    .await
                    .map_err(store_err)?;
            }
            let info = self.store.get_run_info(run_id).await.map_err(store_err)?;
            let mv = self
                .store
                .create_model_version(ModelVersionCreate {
                    name: name.to_string(),
                    source: format!("{}/{artifact_path}", info.artifact_uri),
                    run_id: Some(run_id.to_string()),
                    tags: tags.to_vec(),
                    description: Some(description.to_string()),
                    ..Default::default()
                })
                .await
                .map_err(store_err)?;
            Ok(RegisteredVersion {
                name: mv.name,
                version: mv.version,
            })
        })
    }

    fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        self.block_on(self.store.set_registered_model_alias(name, alias, version))
            .map_err(store_err)
    }

    fn describe(&self) -> String {
        self.uri.clone()
    }

    fn run_artifact_root(&self, run_id: &str) -> Result<String> {
        let info = self.block_on(self.store.get_run_info(run_id)).map_err(store_err)?;
        Ok(info.artifact_uri)
    }

    fn model_source(&self, name: &str, selector: &str) -> Result<String> {
        let mv = match selector.strip_prefix('@') {
            Some(alias) => self.block_on(self.store.get_model_version_by_alias(name, alias)),
            None => self.block_on(self.store.get_model_version(name, selector)),
        }
        .map_err(store_err)?;
        Ok(mv.source)
    }

    fn download(&self, artifact_uri: &str) -> Result<Vec<u8>> {
        use futures::TryStreamExt;
        let path = self.artifacts.path_for_uri(artifact_uri).map_err(store_err)?;
        self.block_on(async {
            let (_, stream) = self.artifacts.get(&path).await.map_err(store_err)?;
            let chunks: Vec<bytes::Bytes> = stream.try_collect().await.context("reading the artifact")?;
            Ok(chunks.concat())
        })
    }
}

/// Tracking over MLflow's REST API.
pub struct RestTracker {
    base: String,
    agent: ureq::Agent,
}

impl RestTracker {
    /// `base` is the server's root URL (`http://127.0.0.1:5000`).
    pub fn new(base: &str) -> Result<RestTracker> {
        let base = base.trim_end_matches('/').to_string();
        if base.starts_with("https://") && !cfg!(feature = "tls") {
            bail!("'{base}': https tracking URIs need Kiln built with `--features tls`");
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let t = RestTracker { base, agent };
        // Fail early, with the address, if nothing answers.
        t.call("GET", "/api/2.0/mlflow/experiments/search?max_results=1", None)
            .with_context(|| format!("reaching the tracking server at {}", t.base))?;
        Ok(t)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(serde_json::to_vec(b)?.as_slice()),
            ("PATCH", Some(b)) => self
                .agent
                .patch(&url)
                .header("Content-Type", "application/json")
                .send(serde_json::to_vec(b)?.as_slice()),
            _ => bail!("unsupported request {method} {path}"),
        }
        .map_err(|e| anyhow!("{method} {url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .into_body()
            .read_to_string()
            .map_err(|e| anyhow!("{method} {url}: reading the answer: {e}"))?;
        if !(200..300).contains(&status) {
            let msg = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    Some(format!(
                        "{}: {}",
                        v.get("error_code")?.as_str()?,
                        v.get("message")?.as_str()?
                    ))
                })
                .unwrap_or(text);
            bail!("{method} {path} answered {status}: {msg}");
        }
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_str(&text).map_err(|e| anyhow!("{method} {path}: the answer is not JSON: {e}"))
    }

    fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.call("POST", &format!("/api/2.0/mlflow/{path}"), Some(&body))
    }

    fn run_artifact_uri(&self, run_id: &str) -> Result<String> {
        let v = self.call("GET", &format!("/api/2.0/mlflow/runs/get?run_id={run_id}"), None)?;
        v.pointer("/run/info/artifact_uri")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("run {run_id} has no artifact_uri"))
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn metric_json(m: &Metric) -> Value {
    let value = if m.value.is_nan() {
        json!("NaN")
    } else if m.value.is_infinite() {
        json!(if m.value > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(m.value)
    };
    json!({"key": m.key, "value": value, "timestamp": m.timestamp, "step": m.step})
}

fn tags_json(tags: &[Tag]) -> Vec<Value> {
    tags.iter().map(|t| json!({"key": t.key, "value": t.value})).collect()
}

impl Tracker for RestTracker {
    fn experiment(&self, name: &str) -> Result<String> {
        let q = query_escape(name);
        match self.call(
            "GET",
            &format!("/api/2.0/mlflow/experiments/get-by-name?experiment_name={q}"),
            None,
        ) {
            Ok(v) => {
                let id = v
                    .pointer("/experiment/experiment_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("experiments/get-by-name: no experiment_id in the answer"))?
                    .to_string();
                if v.pointer("/experiment/lifecycle_stage").and_then(Value::as_str) == Some("deleted") {
                    self.post("experiments/restore", json!({"experiment_id": id}))?;
                }
                Ok(id)
            }
            Err(e) if e.to_string().contains("RESOURCE_DOES_NOT_EXIST") => {
                let v = self.post("experiments/create", json!({"name": name}))?;
                v.get("experiment_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("experiments/create: no experiment_id in the answer"))
            }
            Err(e) => Err(e),
        }
    }

    fn start_run(&self, experiment_id: &str, name: &str, parent: Option<&str>, tags: &[Tag]) -> Result<String> {
        let mut tags = tags.to_vec();
        if let Some(p) = parent {
            tags.push(Tag::new("mlflow.parentRunId", p));
        }
        tags.push(Tag::new("mlflow.user", user()));
        let v = self.post(
            "runs/create",
            json!({
                "experiment_id": experiment_id,
                "run_name": name,
                "start_time": kiln_store::now_ms(),
                "user_id": user(),
                "tags": tags_json(&tags),
            }),
        )?;
        v.pointer("/run/info/run_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("runs/create: no run_id in the answer"))
    }

    fn log_batch(&self, run_id: &str, metrics: &[Metric], params: &[Tag], tags: &[Tag]) -> Result<()> {
        for chunk in metrics.chunks(1000) {
            let m: Vec<Value> = chunk.iter().map(metric_json).collect();
            self.post("runs/log-batch", json!({"run_id": run_id, "metrics": m}))?;
        }
        for chunk in params.chunks(100) {
            self.post("runs/log-batch", json!({"run_id": run_id, "params": tags_json(chunk)}))?;
        }
        for chunk in tags.chunks(100) {
            self.post("runs/log-batch", json!({"run_id": run_id, "tags": tags_json(chunk)}))?;
        }
        Ok(())
    }

    fn log_dataset(&self, run_id: &str, d: Dataset, context: &str) -> Result<()> {
        let mut ds = json!({
            "name": d.name, "digest": d.digest, "source_type": d.source_type, "source": d.source,
        });
        if let Some(s) = d.schema {
            ds["schema"] = json!(s);
        }
        if let Some(p) = d.profile {
            ds["profile"] = json!(p);
        }
        self.post(
            "runs/log-inputs",
            json!({"run_id": run_id, "datasets": [{"tags": [{"key": "mlflow.data.context", "value": context}], "dataset": ds}]}),
        )?;
        Ok(())
    }

    fn log_artifact(&self, run_id: &str, path: &str, bytes: Vec<u8>) -> Result<()> {
        let root = self.run_artifact_uri(run_id)?;
        let rel = kiln_store::artifacts::safe_relative_path(path).map_err(store_err)?;
        if let Some(rest) = root.strip_prefix("mlflow-artifacts:") {
            let rest = rest.trim_start_matches('/');
            // mlflow-artifacts://host:port/path carries a host; the path is what follows it.
            let rest = if root.starts_with("mlflow-artifacts://") {
                rest.split_once('/').map(|(_, p)| p).unwrap_or("")
            } else {
                rest
            };
            let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{rest}/{rel}", self.base);
            let resp = self
                .agent
                .put(&url)
                .header("Content-Type", "application/octet-stream")
                .send(bytes.as_slice())
                .map_err(|e| anyhow!("PUT {url}: {e}"))?;
            let status = resp.status().as_u16();
            if !(200..300).contains(&status) {
                let text = resp.into_body().read_to_string().unwrap_or_default();
                bail!("uploading {rel} answered {status}: {text}");
            }
            return Ok(());
        }
        let local = root
            .strip_prefix("file://")
            .or_else(|| (root.starts_with('/')).then_some(root.as_str()));
        match local {
            Some(dir) => {
                let target = std::path::Path::new(dir).join(&rel);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                }
                std::fs::write(&target, bytes).with_context(|| format!("writing {}", target.display()))
            }
            None => bail!(
                "run {run_id} stores artifacts at '{root}', which Kiln cannot write over REST; start the server with proxied artifacts (mlflow-artifacts:)"
            ),
        }
    }

    fn end_run(&self, run_id: &str, status: RunStatus) -> Result<()> {
        self.post(
            "runs/update",
            json!({"run_id": run_id, "status": status.as_str(), "end_time": kiln_store::now_ms()}),
        )?;
        Ok(())
    }

    fn register(
        &self,
        name: &str,
        run_id: &str,
        artifact_path: &str,
        description: &str,
        tags: &[Tag],
    ) -> Result<RegisteredVersion> {
        if let Err(e) = self.post("registered-models/create", json!({"name": name})) {
            if !e.to_string().contains("RESOURCE_ALREADY_EXISTS") {
                return Err(e);
            }
        }
        let root = self.run_artifact_uri(run_id)?;
        let v = self.post(
            "model-versions/create",
            json!({
                "name": name,
                "source": format!("{root}/{artifact_path}"),
                "run_id": run_id,
                "description": description,
                "tags": tags_json(tags),
            }),
        )?;
        let version = v
            .pointer("/model_version/version")
            .and_then(|x| {
                x.as_str()
                    .map(str::to_string)
                    .or_else(|| x.as_i64().map(|i| i.to_string()))
            })
            .ok_or_else(|| anyhow!("model-versions/create: no version in the answer"))?;
        Ok(RegisteredVersion {
            name: name.to_string(),
            version,
        })
    }

    fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        self.post(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": version}),
        )?;
        Ok(())
    }

    fn describe(&self) -> String {
        self.base.clone()
    }

    fn run_artifact_root(&self, run_id: &str) -> Result<String> {
        self.run_artifact_uri(run_id)
    }

    fn model_source(&self, name: &str, selector: &str) -> Result<String> {
        let q = query_escape;
        let v = match selector.strip_prefix('@') {
            Some(alias) => self.call(
                "GET",
                &format!(
                    "/api/2.0/mlflow/registered-models/alias?name={}&alias={}",
                    q(name),
                    q(alias)
                ),
                None,
            )?,
            None => self.call(
                "GET",
                &format!(
                    "/api/2.0/mlflow/model-versions/get?name={}&version={}",
                    q(name),
                    q(selector)
                ),
                None,
            )?,
        };
        v.pointer("/model_version/source")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("model {name} {selector}: no source in the answer"))
    }

    fn download(&self, artifact_uri: &str) -> Result<Vec<u8>> {
        let Some(rest) = artifact_uri.strip_prefix("mlflow-artifacts:") else {
            let local = artifact_uri.strip_prefix("file://").unwrap_or(artifact_uri);
            return std::fs::read(local).with_context(|| format!("reading {local}"));
        };
        let rest = rest.trim_start_matches('/');
        let rest = if artifact_uri.starts_with("mlflow-artifacts://") {
            rest.split_once('/').map(|(_, p)| p).unwrap_or("")
        } else {
            rest
        };
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{rest}", self.base);
        let resp = self.agent.get(&url).call().map_err(|e| anyhow!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let bytes = body
            .with_config()
            .limit(4 << 30)
            .read_to_vec()
            .map_err(|e| anyhow!("GET {url}: {e}"))?;
        if !(200..300).contains(&status) {
            bail!("GET {url} answered {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(bytes)
    }
}

/// Opens the tracker a URI names: `http(s)://` is a server, anything else a store.
pub fn open(uri: &str, artifacts: &str) -> Result<Box<dyn Tracker>> {
    if uri.starts_with("http://") || uri.starts_with("https://") {
        Ok(Box::new(RestTracker::new(uri)?))
    } else {
        Ok(Box::new(EmbeddedTracker::open(uri, artifacts)?))
    }
}
