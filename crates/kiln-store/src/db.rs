//! Connection handling: one `AnyPool` over SQLite or PostgreSQL, chosen by URI,
//! with per-dialect migrations. Timestamps are epoch-ms integers and ids are
//! text, so the same SQL (with `$N` placeholders) runs on both engines.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use crate::error::{Result, StoreError};
use crate::filter::Dialect;

const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_studies.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_studies.sql")),
];

/// Where the store lives, parsed from a backend-store URI.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendUri {
    /// A SQLite file (created when missing).
    Sqlite(PathBuf),
    /// A PostgreSQL URL, passed to the driver as given.
    Postgres(String),
}

impl BackendUri {
    /// Accepts MLflow's spellings: `sqlite:///relative.db`, `sqlite:////abs/path.db`,
    /// `postgresql://...`, `postgres://...`, `postgresql+psycopg2://...`, and a bare file path.
    pub fn parse(uri: &str) -> Result<BackendUri> {
        if let Some(rest) = uri.strip_prefix("sqlite://") {
            // sqlite:///x.db -> "x.db" (relative), sqlite:////abs -> "/abs"
            let path = rest.strip_prefix('/').unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() || path == ":memory:" {
                return Err(StoreError::invalid(format!(
                    "backend store URI '{uri}' names no file; use sqlite:///path/to/kiln.db"
                )));
            }
            return Ok(BackendUri::Sqlite(PathBuf::from(path)));
        }
        for scheme in [
            "postgresql+psycopg2://",
            "postgresql+psycopg://",
            "postgresql://",
            "postgres://",
        ] {
            if let Some(rest) = uri.strip_prefix(scheme) {
                return Ok(BackendUri::Postgres(format!("postgres://{rest}")));
            }
        }
        if uri.contains("://") {
            return Err(StoreError::invalid(format!(
                "unsupported backend store URI '{uri}': expected sqlite:///path/to/file.db or postgresql://user@host:port/db"
            )));
        }
        Ok(BackendUri::Sqlite(PathBuf::from(uri)))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            BackendUri::Sqlite(_) => Dialect::Sqlite,
            BackendUri::Postgres(_) => Dialect::Postgres,
        }
    }
}

/// A connected, migrated database.
#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub dialect: Dialect,
    /// SQLite allows one writer; serialising writers in-process avoids
    /// `SQLITE_BUSY` on read-to-write upgrades inside transactions.
    pub write_lock: Arc<tokio::sync::Mutex<()>>,
}

impl Db {
    pub async fn connect(uri: &BackendUri) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let (url, dialect, max) = match uri {
            BackendUri::Sqlite(path) => {
                ensure_parent(path)?;
                (format!("sqlite://{}?mode=rwc", path.display()), Dialect::Sqlite, 4)
            }
            BackendUri::Postgres(url) => (url.clone(), Dialect::Postgres, 8),
        };
        let is_sqlite = dialect == Dialect::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            // A ping before each acquire is a round trip to SQLite's worker
            // thread for a local file that cannot have dropped the connection.
            .test_before_acquire(!is_sqlite)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if is_sqlite {
                        conn.execute(
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=OFF;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| connect_error(uri, e))?;
        let db = Db {
            pool,
            dialect,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<()> {
        let _w = self.write_lock.lock().await;
        self.pool
            .execute(
                "CREATE TABLE IF NOT EXISTS kiln_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .await?;
        let migrations = match self.dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS,
            Dialect::Postgres => POSTGRES_MIGRATIONS,
        };
        for (version, sql) in migrations {
            let mut tx = self.pool.begin().await?;
            if self.dialect == Dialect::Postgres {
                // Two servers starting at once must not both apply a migration.
                tx.execute("LOCK TABLE kiln_migrations IN EXCLUSIVE MODE").await?;
            }
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM kiln_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                tx.commit().await?;
                continue;
            }
            tracing::info!(version, "applying store migration");
            tx.execute(sqlx::raw_sql(*sql)).await?;
            sqlx::query("INSERT INTO kiln_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(crate::now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Takes the in-process writer lock (SQLite only; PostgreSQL has row locks).
    pub async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.dialect {
            Dialect::Sqlite => Some(self.write_lock.lock().await),
            Dialect::Postgres => None,
        }
    }
}

fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::invalid(format!(
                    "cannot create folder '{}' for the SQLite store: {e}",
                    parent.display()
                ))
            })?;
        }
    }
    Ok(())
}

fn connect_error(uri: &BackendUri, e: sqlx::Error) -> StoreError {
    match uri {
        BackendUri::Sqlite(p) => StoreError::internal(format!("cannot open SQLite store '{}': {e}", p.display())),
        BackendUri::Postgres(url) => {
            let shown = redact(url);
            StoreError::internal(format!("cannot connect to PostgreSQL at '{shown}': {e}"))
        }
    }
}

/// Hides the password of a URL for messages.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mlflow_style_uris() {
        assert_eq!(
            BackendUri::parse("sqlite:///kiln.db").unwrap(),
            BackendUri::Sqlite("kiln.db".into())
        );
        assert_eq!(
            BackendUri::parse("sqlite:////tmp/k.db").unwrap(),
            BackendUri::Sqlite("/tmp/k.db".into())
        );
        assert_eq!(
            BackendUri::parse("postgresql://postgres@127.0.0.1:5432/test").unwrap(),
            BackendUri::Postgres("postgres://postgres@127.0.0.1:5432/test".into())
        );
        assert!(BackendUri::parse("mysql://x").is_err());
        assert!(BackendUri::parse("sqlite://").is_err());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
