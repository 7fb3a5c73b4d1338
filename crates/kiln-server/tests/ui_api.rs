//! The web UI's routes through the whole app: the assets and the single-page
//! fallback, Kiln's UI endpoints and MLflow's `get-history-bulk-interval`, with
//! every client mistake answered 4xx with a JSON error (never 5xx).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use kiln_server::{app, AppState};
use kiln_store::artifacts::ArtifactStore;
use kiln_store::{Metric, RunCreate, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

struct Fixture {
    state: AppState,
    run: String,
    exp: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &format!("sqlite:///{}", dir.path().join("k.db").display()),
        "mlflow-artifacts:",
    )
    .await
    .unwrap();
    let artifacts = ArtifactStore::open(dir.path().join("art").to_str().unwrap()).unwrap();
    let exp = store.create_experiment("ui", None, &[]).await.unwrap();
    let run = store
        .create_run(RunCreate {
            experiment_id: exp.clone(),
            run_name: Some("r".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = run.info.run_id.clone();
    let metrics: Vec<Metric> = (0..3000).map(|s| Metric::new("loss", s as f64, 1000 + s, s)).collect();
    for chunk in metrics.chunks(1000) {
        store.log_batch(&id, chunk, &[], &[]).await.unwrap();
    }
    store.log_param(&id, "lr", "0.1").await.unwrap();
    let root = artifacts.path_for_uri(&run.info.artifact_uri).unwrap();
    artifacts
        .put_bytes(
            &format!("{root}/notes/a.txt"),
            bytes::Bytes::from_static(b"hello artifact"),
        )
        .await
        .unwrap();
    Fixture {
        state: AppState { store, artifacts },
        run: id,
        exp,
        _dir: dir,
    }
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

async fn send(f: &Fixture, method: &str, uri: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req.body(Body::from(body.unwrap_or("").to_string())).unwrap();
    let resp = app(f.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Resp { status, headers, body }
}

/// A client mistake: 4xx with `{"error_code", "message"}`.
async fn expect_4xx(f: &Fixture, method: &str, uri: &str, body: Option<&str>, status: u16) -> Value {
    let r = send(f, method, uri, body, &[]).await;
    assert_eq!(
        r.status.as_u16(),
        status,
        "{method} {uri} {body:?}: {}",
        String::from_utf8_lossy(&r.body)
    );
    let v = r.json();
    assert!(v["error_code"].is_string() && v["message"].is_string(), "{uri}: {v}");
    v
}

const K: &str = "/ajax-api/2.0/kiln";

#[tokio::test]
async fn assets_and_fallback() {
    let f = fixture().await;
    let r = send(&f, "GET", "/", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(String::from_utf8_lossy(&r.body).contains("/static/js/main.js"));

    let r = send(&f, "GET", "/static/js/main.js", None, &[("accept-encoding", "gzip")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_ENCODING], "gzip");
    let etag = r.headers[header::ETAG].to_str().unwrap().to_string();
    let r = send(&f, "GET", "/static/js/main.js", None, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());

    // Single-page paths and browser navigations get the page; API paths stay JSON 404s.
    for p in [
        "/experiments/3",
        "/runs/abc?tab=metrics",
        "/models/m/versions/1",
        "/compare?runs=a,b",
    ] {
        let r = send(&f, "GET", p, None, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{p}");
    }
    let r = send(&f, "GET", "/somewhere/else", None, &[("accept", "text/html,*/*")]).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&f, "GET", "/no/such/route", None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for p in ["/api/2.0/mlflow/nope", "/ajax-api/2.0/kiln/nope", "/static/nope.js"] {
        let r = send(&f, "GET", p, None, &[("accept", "text/html")]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{p}");
        if !p.starts_with("/static") {
            assert_eq!(r.json()["error_code"], "ENDPOINT_NOT_FOUND", "{p}");
        }
    }
}

#[tokio::test]
async fn ui_endpoints_answer() {
    let f = fixture().await;
    let v = send(&f, "GET", &format!("{K}/experiments/list"), None, &[])
        .await
        .json();
    let e = v["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "ui")
        .unwrap()
        .clone();
    assert_eq!(
        (e["run_count"].as_i64(), e["running_runs"].as_i64()),
        (Some(1), Some(1))
    );

    let v = send(&f, "GET", &format!("{K}/runs/keys?experiment_ids={}", f.exp), None, &[])
        .await
        .json();
    assert_eq!(v["params"], json!(["lr"]));
    assert_eq!(v["metrics"], json!(["loss"]));

    let body = json!({"experiment_ids": [f.exp], "columns": ["metrics.loss", "params.lr"]}).to_string();
    let v = send(&f, "POST", &format!("{K}/runs/table"), Some(&body), &[])
        .await
        .json();
    assert_eq!(v["total"], 1);
    let row = &v["rows"][0];
    assert_eq!(
        (row[0].as_str(), row[8].as_f64(), row[9].as_str()),
        (Some(f.run.as_str()), Some(2999.0), Some("0.1"))
    );
    let body = json!({"experiment_ids": [f.exp], "default_columns": 6}).to_string();
    let v = send(&f, "POST", &format!("{K}/runs/table"), Some(&body), &[])
        .await
        .json();
    assert_eq!(v["columns"], json!(["metrics.loss", "params.lr"]));
    assert_eq!(v["rows"][0][9], "0.1");

    let v = send(
        &f,
        "GET",
        &format!("{K}/runs/metric-summary?run_id={}", f.run),
        None,
        &[],
    )
    .await
    .json();
    assert_eq!(v["metrics"][0]["count"], 3000);
    assert_eq!(v["metrics"][0]["max"], 2999.0);

    let r = send(
        &f,
        "GET",
        &format!("{K}/metrics/sampled?run_ids={}&metric_keys=loss&max_points=100", f.run),
        None,
        &[],
    )
    .await;
    let v = r.json();
    let s = &v["series"][0];
    assert_eq!((s["total"].as_i64(), s["sampled"].as_bool()), (Some(3000), Some(true)));
    assert!(s["steps"].as_array().unwrap().len() <= 100);

    let v = send(
        &f,
        "GET",
        &format!(
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={}&metric_key=loss&max_results=10",
            f.run
        ),
        None,
        &[],
    )
    .await
    .json();
    let m = v["metrics"].as_array().unwrap();
    assert_eq!(m.len(), 10);
    assert_eq!((m[0]["step"].as_i64(), m[9]["step"].as_i64()), (Some(0), Some(2999)));
    assert_eq!(m[0]["run_id"].as_str(), Some(f.run.as_str()));

    let v = send(&f, "GET", &format!("{K}/artifacts/list?run_id={}", f.run), None, &[])
        .await
        .json();
    assert_eq!(v["files"][0]["path"], "notes");
    let v = send(
        &f,
        "GET",
        &format!("{K}/artifacts/list?run_id={}&path=notes", f.run),
        None,
        &[],
    )
    .await
    .json();
    assert_eq!(v["files"][0]["path"], "notes/a.txt");
    let r = send(
        &f,
        "GET",
        &format!("{K}/artifacts/get?run_id={}&path=notes/a.txt&limit=5", f.run),
        None,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"hello");
    assert_eq!(r.headers["x-kiln-truncated"], "true");
    assert_eq!(r.headers["x-kiln-file-size"], "14");
    let r = send(
        &f,
        "GET",
        &format!("{K}/artifacts/get?run_id={}&path=notes/a.txt&download=true", f.run),
        None,
        &[],
    )
    .await;
    assert_eq!(r.body, b"hello artifact");
    assert!(r.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(r.headers["x-kiln-truncated"], "false");
}

#[tokio::test]
async fn client_mistakes_are_4xx() {
    let f = fixture().await;
    let run = &f.run;
    let missing = "0123456789abcdef0123456789abcdef";
    for uri in [
        format!("{K}/experiments/list?max_results=abc"),
        format!("{K}/experiments/list?max_results=0"),
        format!("{K}/experiments/list?view_type=SOMETIMES"),
        format!("{K}/experiments/list?filter=name%20%3E%3E%3E%201"),
        format!("{K}/experiments/list?page_token=garbage"),
        format!("{K}/runs/keys"),
        format!("{K}/runs/keys?experiment_ids=abc"),
        format!("{K}/runs/metric-summary"),
        format!("{K}/metrics/sampled?metric_keys=loss"),
        format!("{K}/metrics/sampled?run_ids={run}"),
        format!("{K}/metrics/sampled?run_ids={run}&metric_keys=loss&x_axis=sideways"),
        format!("{K}/metrics/sampled?run_ids={run}&metric_keys=loss&start=5"),
        format!("{K}/metrics/sampled?run_ids={run}&metric_keys=loss&start=9&end=1"),
        format!("{K}/metrics/sampled?run_ids={run}&metric_keys=loss&max_points=0"),
        format!("{K}/metrics/sampled?run_ids={run}&metric_keys=loss&max_points=-3"),
        format!("{K}/metrics/sampled?run_ids={run}&metric_keys=loss&max_points=abc"),
        format!("{K}/metrics/sampled?run_ids={run}&metric_keys=loss&max_points=99999999"),
        format!("{K}/artifacts/list"),
        format!("{K}/artifacts/list?run_id={run}&model_id=m-1"),
        format!("{K}/artifacts/list?run_id={run}&path=../../etc"),
        format!("{K}/artifacts/get?run_id={run}"),
        format!("{K}/artifacts/get?run_id={run}&path=/etc/passwd"),
        format!("{K}/artifacts/get?run_id={run}&path=notes"),
        format!("{K}/artifacts/get?run_id={run}&path=notes/a.txt&limit=0"),
        format!("{K}/artifacts/get?run_id={run}&path=notes/a.txt&download=maybe"),
        "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?metric_key=loss".to_string(),
        format!("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run}"),
        format!("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run}&metric_key=loss&max_results=0"),
        format!("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run}&metric_key=loss&max_results=2501"),
        format!("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run}&metric_key=loss&start_step=1"),
        format!("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run}&metric_key=loss&start_step=9&end_step=1"),
    ] {
        expect_4xx(&f, "GET", &uri, None, 400).await;
    }
    let many: String = (0..101).map(|i| format!("run_ids=r{i}&")).collect();
    expect_4xx(
        &f,
        "GET",
        &format!("/api/2.0/mlflow/metrics/get-history-bulk-interval?{many}metric_key=loss"),
        None,
        400,
    )
    .await;
    let many: String = (0..201).map(|i| format!("run_ids=r{i}&")).collect();
    expect_4xx(
        &f,
        "GET",
        &format!("{K}/metrics/sampled?{many}metric_keys=loss"),
        None,
        400,
    )
    .await;
    for uri in [
        format!("{K}/runs/metric-summary?run_id={missing}"),
        format!("{K}/metrics/sampled?run_ids={missing}&metric_keys=loss"),
        format!("{K}/artifacts/list?run_id={missing}"),
        format!("{K}/artifacts/list?model_id=m-nope"),
        format!("{K}/artifacts/get?run_id={run}&path=notes/missing.txt"),
        format!("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={missing}&metric_key=loss"),
    ] {
        expect_4xx(&f, "GET", &uri, None, 404).await;
    }
    let table = format!("{K}/runs/table");
    let exp = &f.exp;
    for body in [
        "[1, 2]".to_string(),
        "not json".to_string(),
        "{}".to_string(),
        json!({"experiment_ids": "1"}).to_string(),
        json!({"experiment_ids": ["abc"]}).to_string(),
        json!({"experiment_ids": [exp], "columns": ["loss"]}).to_string(),
        json!({"experiment_ids": [exp], "columns": [5]}).to_string(),
        json!({"experiment_ids": [exp], "limit": -1}).to_string(),
        json!({"experiment_ids": [exp], "limit": "x"}).to_string(),
        json!({"experiment_ids": [exp], "limit": 50001}).to_string(),
        json!({"experiment_ids": [exp], "offset": -1}).to_string(),
        json!({"experiment_ids": [exp], "order_by": ["metrics.loss SIDEWAYS"]}).to_string(),
        json!({"experiment_ids": [exp], "filter": "metrics.loss >>> 1"}).to_string(),
        json!({"experiment_ids": [exp], "filter": 7}).to_string(),
        json!({"experiment_ids": [exp], "run_ids": 5}).to_string(),
        json!({"experiment_ids": [exp], "view_type": "SOMETIMES"}).to_string(),
        json!({"experiment_ids": [exp], "default_columns": 101}).to_string(),
        json!({"experiment_ids": [exp], "default_columns": -1}).to_string(),
    ] {
        expect_4xx(&f, "POST", &table, Some(&body), 400).await;
    }
    let too_many: Vec<String> = (0..501).map(|i| format!("r{i}")).collect();
    expect_4xx(
        &f,
        "POST",
        &table,
        Some(&json!({"experiment_ids": [exp], "run_ids": too_many}).to_string()),
        400,
    )
    .await;
    // Wrong methods are 405, not served as the page.
    let r = send(&f, "GET", &table, None, &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}
