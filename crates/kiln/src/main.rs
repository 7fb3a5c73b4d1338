//! `kiln`: the one binary. Commands parse flags and call the library crates;
//! no business logic lives here.

mod data;
mod predict;
mod quickstart;
mod study;
mod train;
mod tune;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use kiln_server::AppState;
use kiln_store::artifacts::ArtifactStore;
use kiln_store::Store;

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Train, tune, track and ship machine-learning models from one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the MLflow-compatible tracking + model-registry server.
    ///
    /// Example: kiln server --backend-store-uri sqlite:///kiln.db --artifacts-destination ./kiln-artifacts --port 5000
    Server(ServerArgs),
    /// Train models on a generated data set, track them in the embedded store, and print where to look.
    ///
    /// Example: kiln quickstart
    Quickstart(quickstart::Args),
    /// Run the training pipeline of a kiln.toml: ingest, validate, split, preprocess, train every
    /// candidate, evaluate, track, register the best.
    ///
    /// Example: kiln train kiln.toml --experiment churn
    Train(train::Args),
    /// Score a file with a model: runs:/RUN_ID/model, models:/NAME@ALIAS, models:/NAME/VERSION or a path.
    ///
    /// Example: kiln predict models:/churn@champion new_customers.csv -o scores.csv
    Predict(predict::Args),
    /// Data tools: infer a contract, validate against one, profile (and drift), split, fingerprint.
    ///
    /// Example: kiln data validate data/churn.csv --contract churn.contract.toml
    Data(data::Args),
    /// Ask-and-tell: create a study, ask for trials, tell their values, see the best and the trials.
    ///
    /// Example: kiln study create demo --space space.toml && kiln study ask --study demo --json
    Study(study::Args),
    /// Tune a command that prints a value (or, with a kiln.toml, its models).
    ///
    /// Example: kiln tune --objective-cmd 'python train.py' --space space.toml --trials 50 --n-jobs 4
    Tune(tune::Args),
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Interface to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 5000)]
    port: u16,
    /// Tracking + registry store: sqlite:///path.db or postgresql://user@host:port/db.
    #[arg(long, env = "KILN_BACKEND_STORE_URI", default_value = "sqlite:///kiln.db")]
    backend_store_uri: String,
    /// Where proxied artifacts are stored: a folder, or s3:// gs:// az:// (feature `cloud`).
    #[arg(long, env = "KILN_ARTIFACTS_DESTINATION", default_value = "./kiln-artifacts")]
    artifacts_destination: String,
    /// Artifact root recorded for new experiments (default: mlflow-artifacts:, proxied through this server).
    #[arg(long)]
    default_artifact_root: Option<String>,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

async fn open_state(store_uri: &str, artifacts: &str, default_root: Option<&str>) -> Result<AppState> {
    let root = default_root.unwrap_or("mlflow-artifacts:");
    let store = Store::open(store_uri, root)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let artifacts = ArtifactStore::open(artifacts).map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(AppState { store, artifacts })
}

async fn run_server(args: ServerArgs) -> Result<()> {
    let state = open_state(
        &args.backend_store_uri,
        &args.artifacts_destination,
        args.default_artifact_root.as_deref(),
    )
    .await
    .with_context(|| {
        format!(
            "opening the store '{}'",
            kiln_store::db::redact(&args.backend_store_uri)
        )
    })?;
    let addr: SocketAddr = format!("{}:{}", args.host, args.port).parse().or_else(|_| {
        use std::net::ToSocketAddrs;
        format!("{}:{}", args.host, args.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| anyhow::anyhow!("cannot resolve --host '{}'", args.host))
    })?;
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
    };
    let store_shown = kiln_store::db::redact(&args.backend_store_uri);
    let artifacts_shown = args.artifacts_destination.clone();
    kiln_server::serve(state, addr, shutdown, move |bound| {
        tracing::info!(store = %store_shown, artifacts = %artifacts_shown, "kiln server listening on http://{bound}");
        println!("Kiln {} tracking server: http://{bound}", kiln_server::VERSION);
    })
    .await
    .with_context(|| format!("serving on {addr}"))?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // Commands that run CPU-bound work (and open the store on their own
    // runtime) stay outside the async runtime.
    let sync = match cli.command {
        Command::Train(a) => Some(train::run(a)),
        Command::Predict(a) => Some(predict::run(a)),
        Command::Data(a) => Some(data::run(a)),
        Command::Quickstart(a) => Some(quickstart::run(a)),
        Command::Study(a) => Some(study::run(a)),
        Command::Tune(a) => Some(tune::run(a)),
        other => {
            return run_async(other);
        }
    };
    match sync {
        Some(Ok(())) | None => std::process::ExitCode::SUCCESS,
        Some(Err(e)) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_async(command: Command) -> std::process::ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match command {
            Command::Server(a) => run_server(a).await,
            Command::Train(_)
            | Command::Predict(_)
            | Command::Quickstart(_)
            | Command::Data(_)
            | Command::Study(_)
            | Command::Tune(_) => {
                unreachable!("synchronous commands are dispatched in main")
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Absolute form of a path for messages and URIs.
pub(crate) fn absolute(p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir().map(|d| d.join(&path)).unwrap_or(path)
    }
}
