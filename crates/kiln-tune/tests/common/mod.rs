//! Database URIs for the SQL-storage tests: a fresh SQLite file and, when
//! PostgreSQL answers at 127.0.0.1:5432 (user postgres, database `test`, or
//! `KILN_TEST_POSTGRES_URL`), a fresh PostgreSQL database. PostgreSQL absent:
//! a loud skip, except under `CI=true`, where it fails.

use sqlx::Executor;

pub struct Db {
    pub name: &'static str,
    pub uri: String,
    _dir: Option<tempfile::TempDir>,
    pg_db: Option<String>,
}

fn pg_admin_url() -> String {
    std::env::var("KILN_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("kiln.db").display());
    let mut out = vec![Db {
        name: "sqlite",
        uri,
        _dir: Some(dir),
        pg_db: None,
    }];
    sqlx::any::install_default_drivers();
    let admin = pg_admin_url();
    match sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&admin)
        .await
    {
        Ok(pool) => {
            let db = format!("kiln_tune_test_{}", kiln_store::new_id());
            pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                .await
                .expect("CREATE DATABASE");
            pool.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
            out.push(Db {
                name: "postgres",
                uri: format!("{base}/{db}"),
                _dir: None,
                pg_db: Some(db),
            });
        }
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("PostgreSQL is required under CI=true but {admin} is unreachable: {e}");
            }
            eprintln!("\n!!!!!!!! SKIPPING the PostgreSQL half of this test: {admin} is unreachable ({e}) !!!!!!!!\n");
        }
    }
    out
}

impl Db {
    /// Drops the PostgreSQL database (the SQLite one goes with its folder).
    pub async fn finish(self) {
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
