//! The artifact store: a local folder by default, S3 / GCS / Azure by URI
//! (cargo feature `cloud`), all through `object_store`. Every path is checked
//! by [`safe_relative_path`] before it reaches the store, so no request can
//! name a file outside the artifact root.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::error::{ErrorCode, Result, StoreError};

/// One entry of a listing (MLflow's `FileInfo`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileInfo {
    pub path: String,
    pub is_dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct ArtifactStore {
    inner: Arc<dyn ObjectStore>,
    /// Shown in messages and `kiln server`'s banner.
    pub location: String,
}

/// Validates a client-supplied artifact path and returns it normalised
/// (no leading/trailing slashes). Rejects what MLflow's `validate_path_is_safe`
/// rejects: `..` segments, absolute paths, drive letters, backslashes, `#`,
/// plus NUL and other control characters and `.` segments.
pub fn safe_relative_path(path: &str) -> Result<String> {
    let bad = |why: &str| StoreError::invalid(format!("Invalid path '{path}': {why}"));
    if path.contains('#') {
        return Err(bad("'#' is not allowed"));
    }
    if path.contains('\\') {
        return Err(bad("backslashes are not allowed"));
    }
    if path.chars().any(|c| c.is_control()) {
        return Err(bad("control characters are not allowed"));
    }
    if path.starts_with('/') {
        return Err(bad("absolute paths are not allowed"));
    }
    let b = path.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(bad("drive letters are not allowed"));
    }
    if path.contains("://") || path.starts_with("file:") {
        return Err(bad("URIs are not allowed"));
    }
    let mut parts = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" => continue,
            ".." => return Err(bad("'..' is not allowed")),
            "." => continue,
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

fn map_err(path: &str, e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => {
            StoreError::new(ErrorCode::ResourceDoesNotExist, format!("Artifact '{path}' not found"))
        }
        object_store::Error::InvalidPath { .. } => StoreError::invalid(format!("Invalid path '{path}'")),
        other => StoreError::internal(format!("artifact store error on '{path}': {other}")),
    }
}

impl ArtifactStore {
    /// `/some/folder`, `file:///some/folder`, or (feature `cloud`) `s3://bucket/prefix`, `gs://...`, `az://...`.
    pub fn open(uri: &str) -> Result<ArtifactStore> {
        let local = uri
            .strip_prefix("file://")
            .or_else(|| (!uri.contains("://")).then_some(uri));
        if let Some(dir) = local {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::invalid(format!("cannot create artifact folder '{dir}': {e}")))?;
            let fs = LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| StoreError::invalid(format!("cannot use artifact folder '{dir}': {e}")))?;
            return Ok(ArtifactStore {
                inner: Arc::new(fs),
                location: dir.to_string(),
            });
        }
        Self::open_cloud(uri)
    }

    #[cfg(feature = "cloud")]
    fn open_cloud(uri: &str) -> Result<ArtifactStore> {
        let url = url_parse(uri)?;
        // Credentials and endpoints come from the usual environment variables
        // (AWS_ACCESS_KEY_ID, AWS_ENDPOINT, GOOGLE_SERVICE_ACCOUNT, AZURE_STORAGE_ACCOUNT_NAME, ...).
        let env = std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_"));
        let (store, prefix) = object_store::parse_url_opts(&url, env)
            .map_err(|e| StoreError::invalid(format!("unsupported artifact destination '{uri}': {e}")))?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::from(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(ArtifactStore {
            inner: store,
            location: uri.to_string(),
        })
    }

    #[cfg(not(feature = "cloud"))]
    fn open_cloud(uri: &str) -> Result<ArtifactStore> {
        Err(StoreError::invalid(format!(
            "artifact destination '{uri}' needs an object store; this kiln was built without the `cloud` feature \
             (rebuild with `cargo build --features cloud`) -- or give a local folder"
        )))
    }

    /// Maps an artifact URI handed out with this store (`mlflow-artifacts:/1/abc/artifacts`,
    /// or a path under the store's own location) to a path inside the store.
    pub fn path_for_uri(&self, uri: &str) -> Result<String> {
        let rel = if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
            // mlflow-artifacts:/1/abc or mlflow-artifacts://host:port/1/abc
            let rest = match rest.strip_prefix("//") {
                Some(with_host) => with_host.split_once('/').map(|(_, p)| p).unwrap_or(""),
                None => rest,
            };
            rest.trim_start_matches('/').to_string()
        } else {
            let loc = self.location.trim_end_matches('/');
            let plain = uri.strip_prefix("file://").unwrap_or(uri);
            match plain.strip_prefix(loc) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.trim_start_matches('/').to_string(),
                _ => {
                    return Err(StoreError::invalid(format!(
                        "artifact URI '{uri}' is not served by this store (artifact root: {loc})"
                    )))
                }
            }
        };
        safe_relative_path(&rel)
    }

    fn obj(path: &str) -> Result<ObjPath> {
        let clean = safe_relative_path(path)?;
        ObjPath::parse(&clean).map_err(|e| StoreError::invalid(format!("Invalid path '{path}': {e}")))
    }

    /// Lists the direct children of `dir` ("" is the root). A missing folder lists as empty.
    pub async fn list(&self, dir: &str) -> Result<Vec<FileInfo>> {
        let clean = safe_relative_path(dir)?;
        let prefix = if clean.is_empty() {
            None
        } else {
            Some(Self::obj(&clean)?)
        };
        let res = match self.inner.list_with_delimiter(prefix.as_ref()).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(map_err(dir, e)),
        };
        let mut out = Vec::new();
        for p in res.common_prefixes {
            out.push(FileInfo {
                path: p.to_string(),
                is_dir: true,
                file_size: None,
            });
        }
        for o in res.objects {
            out.push(FileInfo {
                path: o.location.to_string(),
                is_dir: false,
                file_size: Some(o.size),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Whether `path` is an existing file.
    pub async fn is_file(&self, path: &str) -> Result<bool> {
        let p = Self::obj(path)?;
        match self.inner.head(&p).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(map_err(path, e)),
        }
    }

    /// Streams a file's bytes; `(size, stream)`.
    pub async fn get(&self, path: &str) -> Result<(u64, BoxStream<'static, std::io::Result<Bytes>>)> {
        let p = Self::obj(path)?;
        if p.as_ref().is_empty() {
            return Err(StoreError::invalid("Invalid path '': a file path is required"));
        }
        let res = self.inner.get(&p).await.map_err(|e| map_err(path, e))?;
        let size = res.meta.size;
        let stream = res.into_stream().map_err(std::io::Error::other).boxed();
        Ok((size, stream))
    }

    /// Writes a file from a stream of chunks; the file appears whole or not at all.
    pub async fn put_stream<S, E>(&self, path: &str, mut body: S) -> Result<u64>
    where
        S: futures::Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let p = Self::obj(path)?;
        if p.as_ref().is_empty() {
            return Err(StoreError::invalid("Invalid path '': a file path is required"));
        }
        let upload = self.inner.put_multipart(&p).await.map_err(|e| map_err(path, e))?;
        let mut writer = WriteMultipart::new(upload);
        let mut total = 0u64;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => {
                    total += bytes.len() as u64;
                    writer.write(&bytes);
                }
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(StoreError::new(
                        ErrorCode::BadRequest,
                        format!("upload of '{path}' broke off: {e}"),
                    ));
                }
            }
        }
        writer.finish().await.map_err(|e| map_err(path, e))?;
        Ok(total)
    }

    pub async fn put_bytes(&self, path: &str, bytes: Bytes) -> Result<u64> {
        let len = bytes.len() as u64;
        let p = Self::obj(path)?;
        self.inner.put(&p, bytes.into()).await.map_err(|e| map_err(path, e))?;
        Ok(len)
    }

    /// Deletes a file, or everything under a folder.
    pub async fn delete(&self, path: &str) -> Result<()> {
        let p = Self::obj(path)?;
        if p.as_ref().is_empty() {
            return Err(StoreError::invalid(
                "Invalid path '': refusing to delete the artifact root",
            ));
        }
        if self.is_file(path).await? {
            return self.inner.delete(&p).await.map_err(|e| map_err(path, e));
        }
        let children: Vec<_> = self
            .inner
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(|e| map_err(path, e))?;
        if children.is_empty() {
            return Err(StoreError::not_found(format!("Artifact '{path}' not found")));
        }
        for c in children {
            self.inner.delete(&c.location).await.map_err(|e| map_err(path, e))?;
        }
        Ok(())
    }
}

#[cfg(feature = "cloud")]
fn url_parse(uri: &str) -> Result<url::Url> {
    url::Url::parse(uri).map_err(|e| StoreError::invalid(format!("invalid artifact destination URI '{uri}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_escapes() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\\..\\b",
            "C:/x",
            "c:x",
            "a#b",
            "file:///etc",
            "a/\0b",
            "..",
            "s3://b/k",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad:?} must be rejected");
        }
        assert_eq!(safe_relative_path("a//b/./c/").unwrap(), "a/b/c");
        assert_eq!(safe_relative_path("").unwrap(), "");
        assert_eq!(safe_relative_path("%2e%2e").unwrap(), "%2e%2e");
    }

    #[tokio::test]
    async fn local_round_trip_stays_inside_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("art");
        let store = ArtifactStore::open(root.to_str().unwrap()).unwrap();
        store
            .put_bytes("1/r/artifacts/a.txt", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        let chunks = futures::stream::iter(vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"ab")),
            Ok(Bytes::from_static(b"cd")),
        ]);
        assert_eq!(store.put_stream("1/r/artifacts/sub/b.bin", chunks).await.unwrap(), 4);
        let listing = store.list("1/r/artifacts").await.unwrap();
        assert_eq!(
            listing,
            vec![
                FileInfo {
                    path: "1/r/artifacts/a.txt".into(),
                    is_dir: false,
                    file_size: Some(5)
                },
                FileInfo {
                    path: "1/r/artifacts/sub".into(),
                    is_dir: true,
                    file_size: None
                },
            ]
        );
        let (size, stream) = store.get("1/r/artifacts/sub/b.bin").await.unwrap();
        let body: Vec<Bytes> = stream.try_collect().await.unwrap();
        assert_eq!((size, body.concat()), (4, b"abcd".to_vec()));
        assert!(store
            .put_bytes("../escape.txt", Bytes::from_static(b"x"))
            .await
            .is_err());
        assert!(!dir.path().join("escape.txt").exists());
        assert_eq!(
            store.get("nope").await.err().map(|e| e.code),
            Some(ErrorCode::ResourceDoesNotExist)
        );
        store.delete("1/r/artifacts/sub").await.unwrap();
        assert!(!store.is_file("1/r/artifacts/sub/b.bin").await.unwrap());
        assert!(store.list("missing/dir").await.unwrap().is_empty());
        assert_eq!(
            store.path_for_uri("mlflow-artifacts:/1/r/artifacts").unwrap(),
            "1/r/artifacts"
        );
        assert_eq!(store.path_for_uri("mlflow-artifacts://h:5000/1/r").unwrap(), "1/r");
        assert!(store.path_for_uri("mlflow-artifacts:/1/../../etc").is_err());
        assert!(store.path_for_uri("s3://elsewhere/x").is_err());
    }
}
