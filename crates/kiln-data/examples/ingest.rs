//! Reads a table into its training matrix and prints what it took, for `bench/ingest`.
//!
//! ```text
//! cargo run --release -p kiln-data --example ingest -- data.csv --label label
//! ```
//!
//! Prints one JSON line: rows, columns, seconds for the read, the matrix and the
//! label, the total, the CPU seconds used (user + system; 10 ms ticks), peak resident memory (VmHWM, the same figure getrusage's
//! ru_maxrss gives on Linux) and checksums of the matrix and label.

use std::time::Instant;

use kiln_data::read::{read, ReadOptions};
use kiln_data::to_matrix::{column_f64, table_to_matrix};

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(source) = args.first() else {
        eprintln!("usage: ingest SOURCE [--label NAME]");
        std::process::exit(2);
    };
    let label = args
        .iter()
        .position(|a| a == "--label")
        .and_then(|i| args.get(i + 1))
        .map_or("label", String::as_str);

    let cpu0 = cpu_seconds().unwrap_or(0.0);
    let start = Instant::now();
    let table = match read(source, &ReadOptions::default()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let read_s = start.elapsed().as_secs_f64();
    let names = table.column_names();
    let features: Vec<&str> = names.iter().map(String::as_str).filter(|n| *n != label).collect();
    let t1 = Instant::now();
    let (m, y) = match (table_to_matrix(&table, &features), column_f64(&table, label)) {
        (Ok(m), Ok(y)) => (m, y),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let matrix_s = t1.elapsed().as_secs_f64();
    let total_s = start.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds().unwrap_or(0.0) - cpu0;
    let x_sum: f64 = m.as_col_major().iter().map(|&v| v as f64).sum();
    let y_sum: f64 = y.iter().sum();
    println!(
        "{{\"tool\": \"kiln\", \"rows\": {}, \"features\": {}, \"read_s\": {read_s:.4}, \"matrix_s\": {matrix_s:.4}, \
         \"total_s\": {total_s:.4}, \"cpu_s\": {cpu_s:.2}, \"peak_rss\": {}, \"x_sum\": {x_sum:.6}, \"y_sum\": {y_sum}, \"batches\": {}}}",
        m.n_rows(),
        m.n_cols(),
        peak_rss_bytes().unwrap_or(0),
        table.batches().len()
    );
}
