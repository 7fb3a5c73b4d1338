//! `kiln data ...` end to end: the built binary on small generated CSV files,
//! good inputs and bad ones.

use std::path::Path;
use std::process::{Command, Output};

fn kiln(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .current_dir(cwd)
        .env("KILN_LOG", "warn")
        .output()
        .expect("running kiln")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// 200 rows: id, age (18..80), plan (3 categories), churned (0/1), day.
fn write_csv(path: &Path) {
    let mut s = String::from("id,age,plan,churned,day\n");
    for i in 0..200 {
        let plan = ["basic", "pro", "team"][i % 3];
        s.push_str(&format!(
            "{i},{},{plan},{},2024-01-{:02}\n",
            18 + (i * 7) % 62,
            (i % 4 == 0) as u8,
            1 + i % 28
        ));
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn infer_then_validate_passes_and_a_bad_file_fails_with_locations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(&d.join("data.csv"));
    let o = kiln(&["data", "infer", "data.csv", "-o", "c.toml"], d);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("wrote a contract for 5 columns"), "{out}");
    let toml = std::fs::read_to_string(d.join("c.toml")).unwrap();
    assert!(
        toml.contains("name = \"plan\"") && toml.contains("categories"),
        "{toml}"
    );

    let o = kiln(&["data", "validate", "data.csv", "--contract", "c.toml"], d);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("PASSED"), "{out}");

    // A bad row: an age out of range, a text in a number column, an unknown plan.
    let mut bad = std::fs::read_to_string(d.join("data.csv")).unwrap();
    bad.push_str("200,150,pro,0,2024-01-01\n201,abc,gold,1,2024-01-02\n");
    std::fs::write(d.join("bad.csv"), bad).unwrap();
    let o = kiln(&["data", "validate", "bad.csv", "--contract", "c.toml"], d);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}{err}");
    assert!(out.contains("FAILED"), "{out}");
    assert!(
        out.contains("bad.csv, row 201, column 'age': 150 is above the maximum 79"),
        "{out}"
    );
    assert!(
        out.contains("bad.csv, row 202, column 'age': expected int, found 'abc'"),
        "{out}"
    );
    assert!(out.contains("'gold' is not an allowed category"), "{out}");
    assert!(err.contains("error:") && err.contains("does not keep"), "{err}");

    // JSON for machines: exact counts per rule.
    let o = kiln(&["data", "validate", "bad.csv", "--contract", "c.toml", "--json"], d);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["invalid_rows"], 2);
    assert_eq!(v["passed"], false);

    // Quarantine: good rows load, bad rows go to the side file with file and row.
    let toml = std::fs::read_to_string(d.join("c.toml")).unwrap();
    assert!(toml.contains("policy = \"fail\""), "{toml}");
    std::fs::write(
        d.join("q.toml"),
        toml.replace("policy = \"fail\"", "policy = \"quarantine\""),
    )
    .unwrap();
    let o = kiln(
        &[
            "data",
            "validate",
            "bad.csv",
            "--contract",
            "q.toml",
            "--quarantine",
            "bad_rows.csv",
            "--output",
            "good.parquet",
        ],
        d,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("quarantined 2 rows to bad_rows.csv"), "{out}");
    assert!(out.contains("wrote 200 good rows"), "{out}");
    let q = std::fs::read_to_string(d.join("bad_rows.csv")).unwrap();
    assert!(q
        .lines()
        .next()
        .unwrap()
        .starts_with("_kiln_reason,_kiln_file,_kiln_row,_kiln_column"));
    assert!(q.contains(",bad.csv,201,") && q.contains(",bad.csv,202,"), "{q}");
    assert_eq!(q.lines().count(), 3, "{q}");
}

#[test]
fn profile_and_drift() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(&d.join("data.csv"));
    let o = kiln(&["data", "profile", "data.csv", "-o", "p.json"], d);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("200 rows, 5 columns") && out.contains("plan"), "{out}");
    let p: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("p.json")).unwrap()).unwrap();
    assert_eq!(p["rows"], 200);
    // Same data: no drift. Shifted ages: major drift, and --fail-on makes it an error.
    let o = kiln(
        &[
            "data",
            "profile",
            "data.csv",
            "--compare",
            "p.json",
            "--fail-on",
            "moderate",
        ],
        d,
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let mut s = String::from("id,age,plan,churned,day\n");
    for i in 0..200 {
        s.push_str(&format!("{i},{},team,0,2024-01-01\n", 60 + i % 20));
    }
    std::fs::write(d.join("new.csv"), s).unwrap();
    let o = kiln(
        &[
            "data",
            "profile",
            "new.csv",
            "--compare",
            "p.json",
            "--fail-on",
            "major",
            "--json",
        ],
        d,
    );
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(err.contains("drift against p.json"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let age = v["drift"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "age")
        .unwrap()
        .clone();
    assert_eq!(age["level"], "major");
}

#[test]
fn split_writes_files_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(&d.join("data.csv"));
    let args = [
        "data",
        "split",
        "data.csv",
        "-o",
        "out",
        "--scheme",
        "stratified",
        "--column",
        "churned",
        "--output-format",
        "csv",
    ];
    let o = kiln(&args, d);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let rows = |p: &str| std::fs::read_to_string(d.join(p)).unwrap().lines().count() - 1;
    assert_eq!(
        rows("out/train.csv") + rows("out/valid.csv") + rows("out/test.csv"),
        200
    );
    assert_eq!(rows("out/train.csv"), 140);
    let manifest = std::fs::read_to_string(d.join("out/split.json")).unwrap();
    let first = std::fs::read_to_string(d.join("out/train.csv")).unwrap();
    // Same seed, same files.
    let o = kiln(&args, d);
    assert!(o.status.success());
    assert_eq!(std::fs::read_to_string(d.join("out/train.csv")).unwrap(), first);
    assert_eq!(std::fs::read_to_string(d.join("out/split.json")).unwrap(), manifest);
    // Folds.
    let o = kiln(
        &["data", "split", "data.csv", "-o", "folds", "--folds", "4", "--json"],
        d,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["parts"].as_array().unwrap().len(), 8);
    assert!(d.join("folds/fold-4/valid.parquet").exists());
    // Bad inputs: an unknown column, a scheme without its column, fractions that do not fit.
    let o = kiln(
        &[
            "data",
            "split",
            "data.csv",
            "-o",
            "x",
            "--scheme",
            "stratified",
            "--column",
            "nope",
        ],
        d,
    );
    let (_, err) = text(&o);
    assert!(!o.status.success() && err.contains("no column 'nope'"), "{err}");
    let o = kiln(&["data", "split", "data.csv", "-o", "x", "--scheme", "time"], d);
    assert!(
        !o.status.success() && text(&o).1.contains("needs a time column"),
        "{:?}",
        text(&o)
    );
    let o = kiln(
        &[
            "data", "split", "data.csv", "-o", "x", "--valid", "0.6", "--test", "0.6",
        ],
        d,
    );
    assert!(
        !o.status.success() && text(&o).1.contains("--valid/--test"),
        "{:?}",
        text(&o)
    );
}

#[test]
fn fingerprint_ignores_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.csv"), "x,y\n1,a\n2,b\n3,c\n").unwrap();
    std::fs::write(d.join("b.csv"), "x,y\n3,c\n1,a\n2,b\n").unwrap();
    std::fs::write(d.join("c.csv"), "x,y\n3,c\n1,a\n2,z\n").unwrap();
    let fp = |f: &str| {
        let o = kiln(&["data", "fingerprint", f, "--json"], d);
        assert!(o.status.success(), "{:?}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["rows"], 3);
        v["fingerprint"].as_str().unwrap().to_string()
    };
    assert_eq!(fp("a.csv"), fp("b.csv"));
    assert_ne!(fp("a.csv"), fp("c.csv"));
    let o = kiln(&["data", "fingerprint", "a.csv"], d);
    let (out, _) = text(&o);
    assert!(
        out.starts_with(&fp("a.csv")) && out.contains("(3 rows, 2 columns)"),
        "{out}"
    );
}

#[test]
fn bad_inputs_exit_non_zero_with_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = kiln(&["data", "profile", "missing.csv"], d);
    let (_, err) = text(&o);
    assert!(
        !o.status.success() && err.contains("missing.csv") && err.contains("no such file"),
        "{err}"
    );
    // A row with the wrong number of fields.
    std::fs::write(d.join("ragged.csv"), "a,b\n1,2\n3\n").unwrap();
    let o = kiln(&["data", "fingerprint", "ragged.csv"], d);
    let (_, err) = text(&o);
    assert!(
        !o.status.success() && err.contains("ragged.csv") && err.contains("row 2"),
        "{err}"
    );
    // A contract with a typo.
    std::fs::write(d.join("ok.csv"), "a\n1\n").unwrap();
    std::fs::write(
        d.join("c.toml"),
        "[[column]]\nname = \"a\"\ntype = \"int\"\nnulable = false\n",
    )
    .unwrap();
    let o = kiln(&["data", "validate", "ok.csv", "--contract", "c.toml"], d);
    let (_, err) = text(&o);
    assert!(
        !o.status.success() && err.contains("c.toml") && err.contains("nulable"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // Help has an example for each subcommand.
    for sub in ["infer", "validate", "profile", "split", "fingerprint"] {
        let o = kiln(&["data", sub, "--help"], d);
        let (out, _) = text(&o);
        assert!(o.status.success() && out.contains("Example: kiln data"), "{sub}: {out}");
    }
}
