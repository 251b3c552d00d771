//! `tl doctor` as a user calls it: a filter checks only the ops it names, and a filter that
//! names no op fails instead of passing with nothing checked.

use std::process::{Command, Output};

fn doctor(filter: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tl"))
        .args(["doctor", "--device", "cpu", "--filter", filter])
        .output()
        .expect("tl runs")
}

#[test]
fn a_filter_checks_only_the_ops_it_names() {
    let output = doctor("swiglu");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains(" 0 failed (1 ops,"), "{stdout}");
}

#[test]
fn a_filter_matching_no_op_fails_and_lists_the_ops() {
    let output = doctor("no-such-op");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("no op's name contains `no-such-op`") && stderr.contains("swiglu"),
        "{stderr}"
    );
}
