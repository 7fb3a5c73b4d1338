//! The studies API as the web UI's study pages use it: mirrored under
//! `/ajax-api/2.0/kiln/studies`, and `overview` (study, trials, Pareto front or
//! best trial, importances per objective, or why they are not available yet),
//! with client mistakes answered 4xx with a JSON error.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use kiln_server::{app, AppState};
use kiln_store::artifacts::ArtifactStore;
use kiln_store::Store;
use serde_json::{json, Value};
use tower::ServiceExt;

const S: &str = "/ajax-api/2.0/kiln/studies";

async fn state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &format!("sqlite:///{}", dir.path().join("k.db").display()),
        "mlflow-artifacts:",
    )
    .await
    .unwrap();
    let artifacts = ArtifactStore::open(dir.path().join("art").to_str().unwrap()).unwrap();
    (AppState { store, artifacts }, dir)
}

async fn call(s: &AppState, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .unwrap();
    let resp = app(s.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, v)
}

async fn ok(s: &AppState, method: &str, uri: &str, body: Option<Value>) -> Value {
    let (status, v) = call(s, method, uri, body).await;
    assert_eq!(status, StatusCode::OK, "{method} {uri}: {v}");
    v
}

/// Asks a trial and tells `outcome` (a JSON object merged into the tell).
async fn trial(s: &AppState, study: &str, outcome: Value) -> Value {
    let t = ok(s, "POST", &format!("{S}/ask"), Some(json!({"study": study}))).await;
    let n = t["trial"]["number"].as_u64().unwrap();
    let mut tell = json!({"study": study, "number": n});
    for (k, v) in outcome.as_object().unwrap() {
        tell[k] = v.clone();
    }
    ok(s, "POST", &format!("{S}/tell"), Some(tell)).await["trial"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_of_a_single_objective_study() {
    let (s, _dir) = state().await;
    ok(
        &s,
        "POST",
        &format!("{S}/create"),
        Some(
            json!({"name": "one", "direction": "minimize", "sampler": "random", "seed": 3,
                    "space": {"x": {"float": [0, 10]}, "k": {"choices": ["a", "b"]}}}),
        ),
    )
    .await;

    // No trial yet: an empty study, importances explained, no front.
    let v = ok(&s, "GET", &format!("{S}/overview?study=one"), None).await;
    assert_eq!(v["study"]["name"], "one");
    assert_eq!(v["trials"], json!([]));
    assert_eq!(v["front"], json!([]));
    assert_eq!(v["importances"][0]["importances"], json!([]));
    assert!(v["importances"][0]["message"]
        .as_str()
        .unwrap()
        .contains("at least 2 complete trials"));

    trial(&s, "one", json!({"value": 5.0})).await;
    trial(&s, "one", json!({"value": 1.5})).await;
    trial(&s, "one", json!({"state": "PRUNED"})).await;
    trial(&s, "one", json!({"state": "FAIL", "reason": "boom"})).await;
    trial(&s, "one", json!({"value": 3.0})).await;
    ok(&s, "POST", &format!("{S}/ask"), Some(json!({"study": "one"}))).await; // left RUNNING
    ok(
        &s,
        "POST",
        &format!("{S}/enqueue"),
        Some(json!({"study": "one", "params": {"x": 2.0, "k": "a"}})),
    )
    .await;

    let v = ok(&s, "GET", &format!("{S}/overview?study=one"), None).await;
    let states: Vec<&str> = v["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["COMPLETE", "COMPLETE", "PRUNED", "FAIL", "COMPLETE", "RUNNING", "WAITING"]
    );
    assert_eq!(v["study"]["n_complete"], 3);
    assert_eq!(v["study"]["n_waiting"], 1);
    // The best of one objective (minimise): trial 1.
    assert_eq!(v["front"], json!([1]));
    assert_eq!(v["trials"][3]["fail_reason"], "boom");
    assert!(v["trials"][0]["run_id"].as_str().is_some_and(|r| r.len() == 32));
    let imp = &v["importances"][0];
    assert_eq!(imp["metric"], "value");
    assert!(imp.get("message").is_none(), "{imp}");
    let items = imp["importances"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["param"].as_str().unwrap()).collect();
    assert!(names.contains(&"x"), "{imp}");
    let total: f64 = items.iter().map(|i| i["importance"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-6, "{imp}");

    // The same study through the public prefix.
    let v = ok(&s, "GET", "/api/2.0/kiln/studies/overview?study=one", None).await;
    assert_eq!(v["trials"].as_array().unwrap().len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_of_a_two_objective_study_gives_the_pareto_front() {
    let (s, _dir) = state().await;
    ok(
        &s,
        "POST",
        &format!("{S}/create"),
        Some(
            json!({"name": "two", "directions": ["minimize", "maximize"], "metrics": ["loss", "speed"],
                    "sampler": "random", "space": {"x": {"float": [0, 1]}}}),
        ),
    )
    .await;
    // (loss, speed): 0 and 2 are on the front, 1 is dominated by 0, 3 by 2.
    for values in [[1.0, 5.0], [2.0, 4.0], [0.5, 1.0], [0.6, 0.5]] {
        trial(&s, "two", json!({"values": values})).await;
    }
    let v = ok(&s, "GET", &format!("{S}/overview?study=two"), None).await;
    assert_eq!(v["front"], json!([0, 2]));
    assert_eq!(v["study"]["directions"], json!(["minimize", "maximize"]));
    let imp = v["importances"].as_array().unwrap();
    assert_eq!(imp.len(), 2);
    assert_eq!(imp[0]["metric"], "loss");
    assert_eq!(imp[1]["metric"], "speed");
    assert_eq!(imp[1]["objective"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_client_mistakes_are_4xx() {
    let (s, _dir) = state().await;
    let (status, v) = call(&s, "GET", &format!("{S}/overview?study=nope"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error_code"], "RESOURCE_DOES_NOT_EXIST");
    assert!(v["message"].as_str().unwrap().contains("nope"), "{v}");
    for uri in [format!("{S}/overview"), format!("{S}/overview?study=")] {
        let (status, v) = call(&s, "GET", &uri, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert_eq!(v["error_code"], "INVALID_PARAMETER_VALUE", "{uri}: {v}");
    }
    // The list is empty on a fresh store (and mirrored for the UI).
    assert_eq!(ok(&s, "GET", &format!("{S}/list"), None).await, json!({"studies": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn study_pages_are_served_by_the_ui() {
    let (s, _dir) = state().await;
    for uri in ["/studies", "/studies/", "/studies/my%20study"] {
        let req = Request::builder()
            .uri(uri)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap();
        let resp = app(s.clone()).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{uri}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("/static/js/main.js"), "{uri}");
    }
    // An unknown endpoint under the studies prefix stays a JSON 404.
    let (status, v) = call(&s, "GET", &format!("{S}/no-such-endpoint"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    assert!(v["error_code"].is_string(), "{v}");
}
