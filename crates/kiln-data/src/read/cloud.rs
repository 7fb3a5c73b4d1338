//! Object-store sources (cargo feature `cloud`): `s3://`, `gs://`, `az://`...
//! through `object_store`, with credentials and endpoints from the usual
//! environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`). Objects are fetched
//! whole into memory and then read like local files.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::source::{has_glob, select_by_format};
use super::ReadOptions;
use crate::error::{DataError, Result};

/// A store, the key of `uri` in it, and the `scheme://bucket` prefix to rebuild URIs.
fn open(uri: &str) -> Result<(Arc<dyn ObjectStore>, ObjectPath, String)> {
    let url = url::Url::parse(uri).map_err(|e| DataError::in_file(uri, format!("invalid URI: {e}")))?;
    let env =
        std::env::vars().filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_"));
    let (store, path) = object_store::parse_url_opts(&url, env)
        .map_err(|e| DataError::in_file(uri, format!("unsupported object store URI: {e}")))?;
    let base = match url.host_str() {
        Some(h) => format!("{}://{h}", url.scheme()),
        None => format!("{}://", url.scheme()),
    };
    Ok((Arc::from(store), path, base))
}

/// Runs a future to completion on a private runtime in its own thread (safe
/// to call from inside another tokio runtime).
fn block_on<T: Send + 'static>(f: impl std::future::Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DataError::msg(format!("starting the object-store runtime: {e}")))?;
        rt.block_on(f)
    })
    .join()
    .map_err(|_| DataError::msg("the object-store thread panicked"))?
}

fn join(base: &str, key: &ObjectPath) -> String {
    format!("{base}/{key}")
}

fn hidden(key: &ObjectPath) -> bool {
    key.parts().any(|p| {
        let s = p.as_ref();
        s.starts_with('.') || s.starts_with('_')
    })
}

/// The objects of a URI: one object, a prefix ("folder") or a glob.
pub(crate) fn list(source: &str, opts: &ReadOptions) -> Result<Vec<String>> {
    if has_glob(source) {
        // List under the part before the first wildcard, then match the keys.
        let cut = source.find(['*', '?', '[']).unwrap_or(source.len());
        let dir = &source[..source[..cut].rfind('/').map_or(cut, |i| i + 1)];
        let (store, prefix, base) = open(dir)?;
        let key_pattern = source.strip_prefix(&format!("{base}/")).unwrap_or(source).to_string();
        let pattern = glob::Pattern::new(&key_pattern)
            .map_err(|e| DataError::in_file(source, format!("invalid glob pattern: {e}")))?;
        let keys = block_on(async move {
            let metas: Vec<object_store::ObjectMeta> = store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|e| DataError::msg(format!("listing: {e}")))?;
            Ok(metas.into_iter().map(|m| m.location).collect::<Vec<_>>())
        })
        .map_err(|e| e.with_file(source))?;
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let mut files: Vec<String> = keys
            .iter()
            .filter(|k| pattern.matches_with(k.as_ref(), options))
            .map(|k| join(&base, k))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(DataError::in_file(source, "the glob matched no objects"));
        }
        return Ok(files);
    }
    let (store, key, base) = open(source)?;
    if !source.ends_with('/') {
        let s = store.clone();
        let k = key.clone();
        let exists = block_on(async move {
            match s.head(&k).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(DataError::msg(format!("looking up the object: {e}"))),
            }
        })
        .map_err(|e| e.with_file(source))?;
        if exists {
            return Ok(vec![source.to_string()]);
        }
    }
    let keys = block_on(async move {
        let metas: Vec<object_store::ObjectMeta> = store
            .list(Some(&key))
            .try_collect()
            .await
            .map_err(|e| DataError::msg(format!("listing: {e}")))?;
        Ok(metas.into_iter().map(|m| m.location).collect::<Vec<_>>())
    })
    .map_err(|e| e.with_file(source))?;
    if keys.is_empty() {
        return Err(DataError::in_file(source, "no such object or prefix"));
    }
    let mut all: Vec<String> = keys.iter().filter(|k| !hidden(k)).map(|k| join(&base, k)).collect();
    all.sort();
    select_by_format(source, all, opts)
}

/// The whole object at `uri`.
pub(crate) fn fetch(uri: &str) -> Result<Bytes> {
    let (store, key, _) = open(uri)?;
    block_on(async move {
        let got = store.get(&key).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => DataError::msg("no such object"),
            e => DataError::msg(format!("fetching: {e}")),
        })?;
        got.bytes().await.map_err(|e| DataError::msg(format!("fetching: {e}")))
    })
    .map_err(|e| e.with_file(uri))
}
