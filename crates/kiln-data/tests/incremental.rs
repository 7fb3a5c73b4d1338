//! Incremental loads: files and column watermarks, re-runs, and crashes at every step.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use kiln_data::arrow::array::AsArray;
use kiln_data::arrow::datatypes::Int64Type;
use kiln_data::incremental::{CrashPoint, Dataset, LoadOptions, Watermark, STATE_FILE};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn ids(ds: &Dataset) -> Vec<i64> {
    let t = ds.read().unwrap();
    let mut v: Vec<i64> = t.column("id").unwrap().as_primitive::<Int64Type>().values().to_vec();
    v.sort_unstable();
    v
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "_kiln_lock")
        .collect();
    v.sort();
    v
}

#[test]
fn files_watermark_reads_only_new_files() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    write(&src.path().join("a.csv"), "id,x\n1,0.5\n2,1.5\n");
    write(&src.path().join("b.csv"), "id,x\n3,2.5\n");
    let ds = Dataset::open(dst.path().join("ds")).unwrap();
    assert!(ds.state().unwrap().is_none());
    let source = src.path().to_str().unwrap();
    let opts = LoadOptions::default();
    let out = ds.load(source, &Watermark::Files, &opts).unwrap();
    assert_eq!(out.rows, 3);
    assert_eq!(out.part.as_deref(), Some("part-000001.parquet"));
    assert_eq!(out.files.len(), 2);
    assert_eq!(ids(&ds), vec![1, 2, 3]);

    // A re-run with nothing new writes nothing.
    let before = std::fs::read(ds.dir().join(STATE_FILE)).unwrap();
    let out = ds.load(source, &Watermark::Files, &opts).unwrap();
    assert_eq!((out.rows, out.part.clone()), (0, None));
    assert!(out.files.is_empty());
    assert_eq!(std::fs::read(ds.dir().join(STATE_FILE)).unwrap(), before);

    // A new file: only its rows are read.
    write(&src.path().join("c.csv"), "id,x\n4,3.5\n5,4.5\n");
    let out = ds.load(source, &Watermark::Files, &opts).unwrap();
    assert_eq!(out.rows, 2);
    assert_eq!(out.files, vec![src.path().join("c.csv").display().to_string()]);
    assert_eq!(out.part.as_deref(), Some("part-000002.parquet"));
    assert_eq!(ids(&ds), vec![1, 2, 3, 4, 5]);
    let state = ds.state().unwrap().unwrap();
    assert_eq!(state.parts.len(), 2);
    assert_eq!(state.rows(), 5);
    assert_eq!(state.files.len(), 3);
    assert_eq!(
        names(ds.dir()),
        vec!["_kiln_state.json", "part-000001.parquet", "part-000002.parquet"]
    );
}

#[test]
fn a_loaded_file_that_changed_is_an_error() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let a = src.path().join("a.csv");
    write(&a, "id\n1\n");
    let ds = Dataset::open(dst.path()).unwrap();
    let source = src.path().to_str().unwrap();
    ds.load(source, &Watermark::Files, &LoadOptions::default()).unwrap();
    append(&a, "2\n");
    let e = ds.load(source, &Watermark::Files, &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("a.csv") && e.message.contains("now has"), "{e}");
    assert_eq!(ids(&ds), vec![1], "nothing half-loaded");
}

#[test]
fn column_watermark_reads_only_rows_above_it() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let f = src.path().join("events.csv");
    write(
        &f,
        "id,ts\n1,2024-01-01T00:00:00\n2,2024-01-02T00:00:00\n3,2024-01-03T00:00:00\n",
    );
    let ds = Dataset::open(dst.path()).unwrap();
    let wm = Watermark::Column { column: "ts".into() };
    let source = f.to_str().unwrap();
    let out = ds.load(source, &wm, &LoadOptions::default()).unwrap();
    assert_eq!(out.rows, 3);
    assert_eq!(out.watermark.as_deref(), Some("2024-01-03T00:00:00"));
    // The file grows: only the new rows load.
    append(&f, "4,2024-01-04T00:00:00\n5,2024-01-05T12:00:00\n");
    let out = ds.load(source, &wm, &LoadOptions::default()).unwrap();
    assert_eq!((out.rows, out.skipped_rows), (2, 3));
    assert_eq!(out.watermark.as_deref(), Some("2024-01-05T12:00:00"));
    assert_eq!(ids(&ds), vec![1, 2, 3, 4, 5]);
    // Nothing new: nothing written.
    let out = ds.load(source, &wm, &LoadOptions::default()).unwrap();
    assert_eq!((out.rows, out.part.clone(), out.skipped_rows), (0, None, 5));
    // A late row at or below the watermark is not loaded, and is counted.
    append(&f, "6,2024-01-02T00:00:00\n7,2024-01-06T00:00:00\n");
    let out = ds.load(source, &wm, &LoadOptions::default()).unwrap();
    assert_eq!((out.rows, out.skipped_rows), (1, 6));
    assert_eq!(ids(&ds), vec![1, 2, 3, 4, 5, 7]);
    let state = ds.state().unwrap().unwrap();
    assert_eq!(state.mark_text.as_deref(), Some("2024-01-06T00:00:00"));
}

#[test]
fn integer_and_text_watermarks() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let f = src.path().join("d.csv");
    write(&f, "id,seq,day\n1,10,a\n2,20,b\n");
    let by_seq = Dataset::open(dst.path().join("seq")).unwrap();
    let by_day = Dataset::open(dst.path().join("day")).unwrap();
    let seq = Watermark::Column { column: "seq".into() };
    let day = Watermark::Column { column: "day".into() };
    let source = f.to_str().unwrap();
    by_seq.load(source, &seq, &LoadOptions::default()).unwrap();
    by_day.load(source, &day, &LoadOptions::default()).unwrap();
    append(&f, "3,30,c\n4,15,a\n");
    assert_eq!(by_seq.load(source, &seq, &LoadOptions::default()).unwrap().rows, 1);
    assert_eq!(by_day.load(source, &day, &LoadOptions::default()).unwrap().rows, 1);
    assert_eq!(ids(&by_seq), vec![1, 2, 3]);
    assert_eq!(ids(&by_day), vec![1, 2, 3]);
}

#[test]
fn a_null_watermark_value_is_an_error_naming_file_and_row() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let f = src.path().join("e.csv");
    write(&f, "id,seq\n1,10\n2,\n");
    let ds = Dataset::open(dst.path()).unwrap();
    let e = ds
        .load(
            f.to_str().unwrap(),
            &Watermark::Column { column: "seq".into() },
            &LoadOptions::default(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("e.csv, row 2, column 'seq'"), "{e}");
    let e = ds
        .load(
            f.to_str().unwrap(),
            &Watermark::Column { column: "nope".into() },
            &LoadOptions::default(),
        )
        .unwrap_err();
    assert!(e.message.contains("no column 'nope'"), "{e}");
    assert!(ds.state().unwrap().is_none());
}

/// Runs a load that crashes at `point`, then a clean one; returns the ids loaded in the end.
fn crash_then_recover(point: CrashPoint, wm: &Watermark) -> (Vec<i64>, Vec<String>) {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let f = src.path().join("a.csv");
    write(&f, "id,seq\n1,1\n2,2\n");
    let source = src.path().to_str().unwrap();
    let ds = Dataset::open(dst.path()).unwrap();
    ds.load(source, wm, &LoadOptions::default()).unwrap();
    // New data arrives; the load of it crashes.
    match wm {
        Watermark::Files => write(&src.path().join("b.csv"), "id,seq\n3,3\n4,4\n"),
        Watermark::Column { .. } => append(&f, "3,3\n4,4\n"),
    }
    let crashing = LoadOptions {
        crash_at: Some(point),
        ..LoadOptions::default()
    };
    let e = ds.load(source, wm, &crashing).unwrap_err();
    assert!(e.message.contains("simulated crash"), "{e}");
    // What a reader sees after the crash: the old rows, or all of them once committed.
    let seen = ids(&ds);
    if point == CrashPoint::Committed {
        assert_eq!(seen, vec![1, 2, 3, 4]);
    } else {
        assert_eq!(seen, vec![1, 2], "uncommitted rows are invisible");
    }
    // The next process opens the dataset and loads again.
    let ds = Dataset::open(dst.path()).unwrap();
    let out = ds.load(source, wm, &LoadOptions::default()).unwrap();
    if point == CrashPoint::Committed {
        assert_eq!(out.rows, 0, "committed rows are not read again");
    } else {
        assert_eq!(out.rows, 2);
    }
    let again = ds.load(source, wm, &LoadOptions::default()).unwrap();
    assert_eq!(again.rows, 0);
    (ids(&ds), names(dst.path()))
}

#[test]
fn a_crash_at_any_step_loses_nothing_and_doubles_nothing() {
    for wm in [Watermark::Files, Watermark::Column { column: "seq".into() }] {
        for point in [
            CrashPoint::PartWritten,
            CrashPoint::PartRenamed,
            CrashPoint::StateWritten,
            CrashPoint::Committed,
        ] {
            let (ids, files) = crash_then_recover(point, &wm);
            assert_eq!(ids, vec![1, 2, 3, 4], "{wm:?} {point:?}");
            // No leftovers: the state and exactly the parts it names.
            assert_eq!(
                files,
                vec!["_kiln_state.json", "part-000001.parquet", "part-000002.parquet"],
                "{wm:?} {point:?}"
            );
        }
    }
}

#[test]
fn leftovers_are_cleaned_on_open() {
    let dst = tempfile::tempdir().unwrap();
    write(&dst.path().join("part-000009.parquet"), "half a part");
    write(&dst.path().join(".part-000009.parquet.tmp-123"), "temp");
    write(&dst.path().join("._kiln_state.json.tmp-123"), "{");
    write(&dst.path().join("notes.txt"), "mine");
    let ds = Dataset::open(dst.path()).unwrap();
    assert_eq!(names(ds.dir()), vec!["notes.txt"], "only the user's file is kept");
    let src = tempfile::tempdir().unwrap();
    write(&src.path().join("a.csv"), "id\n1\n");
    write(&dst.path().join("part-000001.parquet"), "stray");
    let out = ds
        .load(src.path().to_str().unwrap(), &Watermark::Files, &LoadOptions::default())
        .unwrap();
    assert_eq!(out.cleaned, vec!["part-000001.parquet"]);
    assert_eq!(ids(&ds), vec![1]);
}

#[test]
fn schema_changes_and_mode_changes_are_errors() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    write(&src.path().join("a.csv"), "id,x\n1,2\n");
    let ds = Dataset::open(dst.path()).unwrap();
    let source = src.path().to_str().unwrap();
    ds.load(source, &Watermark::Files, &LoadOptions::default()).unwrap();
    // A value that does not fit the pinned type names its file, row and column.
    write(&src.path().join("b.csv"), "id,x\n2,3\n3,abc\n");
    let e = ds.load(source, &Watermark::Files, &LoadOptions::default()).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("b.csv") && s.contains("row 2") && s.contains("'x'"), "{s}");
    std::fs::remove_file(src.path().join("b.csv")).unwrap();
    // Different columns.
    write(&src.path().join("c.csv"), "id,x,y\n4,5,6\n");
    let e = ds.load(source, &Watermark::Files, &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("y"), "{e}");
    std::fs::remove_file(src.path().join("c.csv")).unwrap();
    let e = ds
        .load(
            source,
            &Watermark::Column { column: "id".into() },
            &LoadOptions::default(),
        )
        .unwrap_err();
    assert!(
        e.message.contains("loaded by file") && e.message.contains("column 'id'"),
        "{e}"
    );
    assert_eq!(ids(&ds), vec![1]);
}

#[test]
fn a_second_writer_is_refused() {
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    write(&src.path().join("a.csv"), "id\n1\n");
    let ds = Dataset::open(dst.path()).unwrap();
    let held = std::fs::File::open(dst.path().join("_kiln_lock")).unwrap();
    held.lock().unwrap();
    let e = ds
        .load(src.path().to_str().unwrap(), &Watermark::Files, &LoadOptions::default())
        .unwrap_err();
    assert!(e.message.contains("another load"), "{e}");
    drop(held);
    assert_eq!(
        ds.load(src.path().to_str().unwrap(), &Watermark::Files, &LoadOptions::default())
            .unwrap()
            .rows,
        1
    );
}

#[test]
fn reading_an_empty_or_corrupt_dataset_is_a_clear_error() {
    let dst = tempfile::tempdir().unwrap();
    let ds = Dataset::open(dst.path()).unwrap();
    let e = ds.read().unwrap_err();
    assert!(e.message.contains("no data yet"), "{e}");
    write(&dst.path().join(STATE_FILE), "{not json");
    let e = ds.state().unwrap_err();
    assert!(
        e.to_string().contains(STATE_FILE) && e.message.contains("not a Kiln dataset state"),
        "{e}"
    );
}
