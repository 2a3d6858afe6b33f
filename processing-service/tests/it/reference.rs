//! The Rust analytics against the NumPy/SciPy reference (`bench/glove_metrics.py`).
//!
//! `cargo test` must not need Python: without python3 + numpy + scipy these tests
//! print why they skip and pass. The unit tests carry verified numbers regardless.

use std::process::Command;

use crate::helpers::{TempFile, analyze, bench_dir, sample_recording};

fn python_with_scipy() -> bool {
    Command::new("python3")
        .args(["-c", "import numpy, scipy.signal"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compares the CLI's report with the reference's on `file` in `mode`.
fn assert_agrees_with_reference(file: &std::path::Path, extra: &[&str]) {
    if !python_with_scipy() {
        eprintln!(
            "SKIPPED: python3 with numpy and scipy is not available (pip install numpy scipy)"
        );
        return;
    }
    let ours = analyze(file, extra);
    let script = bench_dir().join("glove_metrics.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg("analyze")
        .arg(file)
        .args(extra)
        .output()
        .expect("python3 starts");
    assert!(
        output.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ours_file = TempFile::with_contents("ours.json", &ours.to_string());
    let theirs_file =
        TempFile::with_contents("reference.json", &String::from_utf8_lossy(&output.stdout));
    let compare = Command::new("python3")
        .arg(bench_dir().join("compare_reports.py"))
        .arg(&ours_file.0)
        .arg(&theirs_file.0)
        .args(["--rtol", "1e-9"])
        .output()
        .expect("python3 starts");
    assert!(
        compare.status.success(),
        "reports differ:\n{}",
        String::from_utf8_lossy(&compare.stdout)
    );
}

#[test]
fn raw_analysis_agrees_with_the_numpy_reference_to_1e_9() {
    assert_agrees_with_reference(&sample_recording(), &["--raw"]);
}

#[test]
fn filtered_analysis_agrees_with_the_numpy_reference_to_1e_9() {
    assert_agrees_with_reference(&sample_recording(), &[]);
}

#[test]
fn a_50_hz_recording_agrees_with_the_numpy_reference_to_1e_9() {
    if !python_with_scipy() {
        eprintln!(
            "SKIPPED: python3 with numpy and scipy is not available (pip install numpy scipy)"
        );
        return;
    }
    let output = Command::new("python3")
        .arg(bench_dir().join("gen_recording.py"))
        .args(["--seconds", "7", "--fs", "50", "--seed", "3"])
        .output()
        .expect("python3 starts");
    assert!(
        output.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let file = TempFile::with_contents("rec50.json", &String::from_utf8_lossy(&output.stdout));
    assert_agrees_with_reference(&file.0, &["--raw"]);
    assert_agrees_with_reference(&file.0, &["--lowpass-hz", "6"]);
}
