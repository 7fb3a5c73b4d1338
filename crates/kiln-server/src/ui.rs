//! The web UI's assets: hand-written HTML, CSS and ES modules under
//! `crates/kiln-server/ui/`, embedded into the binary at compile time (no
//! build step, no third-party code) and served at `/` with a single-page
//! fallback: the UI's own paths (`/experiments/...`, `/runs/...`, `/compare`,
//! `/models/...`, `/studies/...`) and any other browser navigation answer
//! `index.html`, while unknown API paths stay JSON 404s.
//!
//! Every asset carries a content-hash ETag (`If-None-Match` answers 304) and is
//! gzip-compressed once, on first use, for clients that accept it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

/// One embedded file: its path under `ui/` and its bytes.
struct Source {
    path: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Source { path: $path, bytes: include_bytes!(concat!("../ui/", $path)) }),*]
    };
}

/// Every file of the UI. A unit test checks this list against the `ui/` folder.
const SOURCES: &[Source] = assets![
    "index.html",
    "favicon.svg",
    "css/app.css",
    "js/main.js",
    "js/api.js",
    "js/dom.js",
    "js/format.js",
    "js/state.js",
    "js/pages/experiments.js",
    "js/pages/experiment.js",
    "js/pages/run.js",
    "js/pages/compare.js",
    "js/pages/models.js",
    "js/pages/studies.js",
    "js/pages/notfound.js",
    "js/components/runtable.js",
    "js/components/filterbox.js",
    "js/components/artifacts.js",
    "js/components/dialog.js",
    "js/components/metriccharts.js",
    "js/charts/scale.js",
    "js/charts/line.js",
    "js/charts/parallel.js",
    "js/charts/scatter.js",
];

/// A servable asset.
struct Asset {
    bytes: &'static [u8],
    gzip: Option<Vec<u8>>,
    etag: String,
    mime: &'static str,
}

fn mime_of(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bits: a content hash for ETags (not for security).
fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Gzip at the default level; `None` when it would not save anything.
pub(crate) fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3), flate2::Compression::default());
    enc.write_all(bytes).ok()?;
    let out = enc.finish().ok()?;
    (out.len() + 64 < bytes.len()).then_some(out)
}

fn assets() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        SOURCES
            .iter()
            .map(|s| {
                let asset = Asset {
                    bytes: s.bytes,
                    gzip: if s.bytes.len() > 512 { gzip(s.bytes) } else { None },
                    etag: format!("\"{:016x}\"", fnv64(s.bytes)),
                    mime: mime_of(s.path),
                };
                (s.path, asset)
            })
            .collect()
    })
}

/// Whether the client accepts gzip (`Accept-Encoding: gzip`, without `q=0`).
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut it = part.split(';');
            let name = it.next().unwrap_or("").trim();
            let zero_q = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero_q
        })
}

/// The page's security policy: only our own scripts; images also from blob: URLs (artifact previews).
const CSP: &str = "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; \
                   object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = assets().get(path) else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag || t.trim() == "*"));
    let mut resp = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match (&asset.gzip, accepts_gzip(headers)) {
            (Some(gz), true) => {
                let mut r = Response::new(Body::from(gz.clone()));
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            _ => Response::new(Body::from(asset.bytes)),
        }
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    if let Ok(v) = HeaderValue::from_str(&asset.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if path == "index.html" {
        h.insert("content-security-policy", HeaderValue::from_static(CSP));
        h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    }
    resp
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn static_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// The UI's routes: `/`, `/static/*` and the single-page paths.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new()
        .route("/", get(index))
        .route("/static/{*path}", get(static_file))
        .route(
            "/favicon.ico",
            get(|h: HeaderMap| async move { serve("favicon.svg", &h) }),
        );
    for page in ["/experiments", "/compare", "/models", "/runs", "/studies"] {
        r = r
            .route(page, get(index))
            .route(&format!("{page}/"), get(index))
            .route(&format!("{page}/{{*rest}}"), get(index));
    }
    r
}

/// What the server answers for a path no route matched: `index.html` for a
/// browser navigation outside the API (the UI shows its own "not found"), a
/// JSON `ENDPOINT_NOT_FOUND` under `/api` and `/ajax-api`, else a plain 404.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let api = ["/api/", "/ajax-api/", "/static/"].iter().any(|p| path.starts_with(p));
    if api {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({
                "error_code": "ENDPOINT_NOT_FOUND",
                "message": format!("No API endpoint at {method} {path}"),
            })),
        )
            .into_response();
    }
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if method == Method::GET && wants_html {
        return serve("index.html", &headers);
    }
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")
    }

    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p.strip_prefix(ui_dir()).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_ui_file_is_embedded_and_nothing_else() {
        let mut on_disk = Vec::new();
        walk(&ui_dir(), &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = SOURCES.iter().map(|s| s.path.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "ui/ and SOURCES in ui.rs disagree");
    }

    /// Resolves `./x.js` / `../x.js` against the importing module's folder.
    fn resolve(from: &str, spec: &str) -> String {
        let mut parts: Vec<&str> = from.split('/').collect();
        parts.pop();
        for seg in spec.split('/') {
            match seg {
                "." => {}
                ".." => {
                    parts.pop();
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    }

    #[test]
    fn every_module_import_resolves_to_an_embedded_file() {
        let names: Vec<&str> = SOURCES.iter().map(|s| s.path).collect();
        for s in SOURCES.iter().filter(|s| s.path.ends_with(".js")) {
            let text = std::str::from_utf8(s.bytes).unwrap();
            for line in text.lines() {
                let l = line.trim_start();
                if !(l.starts_with("import ") || l.starts_with("} from ") || l.starts_with("export ")) {
                    continue;
                }
                let Some(spec) = l.split(" from ").nth(1).or_else(|| l.strip_prefix("import ")) else {
                    continue;
                };
                let spec = spec
                    .trim()
                    .trim_end_matches(';')
                    .trim_matches(|c| c == '\'' || c == '"');
                if !spec.starts_with('.') {
                    assert!(!spec.ends_with(".js"), "{}: bare import '{spec}'", s.path);
                    continue;
                }
                let target = resolve(s.path, spec);
                assert!(
                    names.contains(&target.as_str()),
                    "{}: import '{spec}' -> '{target}' is not embedded",
                    s.path
                );
            }
        }
        // Dynamic imports: `import('./pages/x.js')`.
        for s in SOURCES.iter().filter(|s| s.path.ends_with(".js")) {
            let text = std::str::from_utf8(s.bytes).unwrap();
            for part in text.split("import('").skip(1) {
                let spec = part.split('\'').next().unwrap();
                let target = resolve(s.path, spec);
                assert!(
                    names.contains(&target.as_str()),
                    "{}: import('{spec}') is not embedded",
                    s.path
                );
            }
        }
        let index = std::str::from_utf8(assets()["index.html"].bytes).unwrap();
        for part in index.split("\"/static/").skip(1) {
            let target = part.split('"').next().unwrap();
            assert!(
                names.contains(&target),
                "index.html references /static/{target}, not embedded"
            );
        }
    }

    #[test]
    fn etags_and_gzip() {
        let a = &assets()["js/main.js"];
        assert!(a.etag.starts_with('"') && a.etag.len() == 18);
        let gz = a.gzip.as_ref().expect("main.js compresses");
        let mut out = String::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out.as_bytes(), a.bytes);
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br, gzip;q=0.8"));
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0, br"));
        assert!(!accepts_gzip(&h));
        assert_ne!(fnv64(b"a"), fnv64(b"b"));
    }
}
