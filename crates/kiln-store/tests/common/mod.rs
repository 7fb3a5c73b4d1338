//! Runs each store test against SQLite and PostgreSQL.
//!
//! PostgreSQL is expected at 127.0.0.1:5432 (user postgres, database `test`),
//! or at `KILN_TEST_POSTGRES_URL`. When it is absent the PostgreSQL half is
//! skipped with a loud message, except under `CI=true`, where it fails.

use kiln_store::Store;
use sqlx::Executor;

pub struct Backend {
    pub name: &'static str,
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    pg_db: Option<String>,
}

fn pg_admin_url() -> String {
    std::env::var("KILN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn postgres() -> Option<(Store, String)> {
    sqlx::any::install_default_drivers();
    let admin = pg_admin_url();
    let pool = match sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&admin)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL is required under CI=true but {admin} is unreachable: {e}");
            }
            eprintln!("\n!!!!!!!! SKIPPING the PostgreSQL half of this test: {admin} is unreachable ({e}) !!!!!!!!\n");
            return None;
        }
    };
    let db = format!("kiln_test_{}", kiln_store::new_id());
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .expect("CREATE DATABASE");
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
    let store = Store::open(&format!("{base}/{db}"), "mlflow-artifacts:")
        .await
        .expect("open postgres store");
    Some((store, db))
}

pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("kiln.db").display());
    let sqlite = Store::open(&uri, "mlflow-artifacts:").await.expect("open sqlite store");
    let mut out = vec![Backend {
        name: "sqlite",
        store: sqlite,
        _dir: Some(dir),
        pg_db: None,
    }];
    if let Some((store, db)) = postgres().await {
        out.push(Backend {
            name: "postgres",
            store,
            _dir: None,
            pg_db: Some(db),
        });
    }
    out
}

impl Backend {
    /// Drops the PostgreSQL test database (the SQLite one goes with its temp dir).
    pub async fn finish(self) {
        self.store.close().await;
        if let Some(db) = self.pg_db {
            if let Ok(pool) = sqlx::any::AnyPoolOptions::new()
                .max_connections(1)
                .connect(&pg_admin_url())
                .await
            {
                let _ = pool
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                    )))
                    .await;
                pool.close().await;
            }
        }
    }
}
