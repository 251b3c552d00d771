//! `tl run`, `tl check` and `tl repl` as a user calls them: outputs, diagnostics and exit
//! statuses.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn tl(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tl"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tl starts");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("written");
    }
    child.wait_with_output().expect("tl ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_prints_the_answers() {
    let family = examples().join("family.tl");
    let output = tl(&["run", family.to_str().expect("utf-8")], None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("Aunt(x, z)? 5 answers (x, z)\n  (Cleo, Dina)\n"),
        "{stdout}"
    );
    assert!(text(&output.stderr).contains("semi-naive"));
}

#[test]
fn run_explain_prints_plans_first() {
    let attention = examples().join("attention.tl");
    let output = tl(
        &["run", "--explain", attention.to_str().expect("utf-8")],
        None,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("plan Emb = load("), "{stdout}");
    assert!(stdout.contains("softmax axis=1"), "{stdout}");
}

#[test]
fn errors_are_rendered_with_a_failing_status() {
    let dir = std::env::temp_dir().join(format!("tl-cli-language-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let bad = dir.join("bad.tl");
    std::fs::write(&bad, "X = [1, 2]\nY[i] = X[i] Z[i]\n").expect("written");
    for command in ["check", "run"] {
        let output = tl(&[command, bad.to_str().expect("utf-8")], None);
        assert_eq!(output.status.code(), Some(1), "{command}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("[E0101] Error: cannot find tensor `Z`"),
            "{stderr}"
        );
        assert!(stderr.contains("Y[i] = X[i] Z[i]"), "{stderr}");
    }
    let missing = dir.join("missing.tl");
    std::fs::write(&missing, "E = load(\"nowhere.npy\")\n").expect("written");
    let output = tl(&["run", missing.to_str().expect("utf-8")], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("[E0703]"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn repl_answers_queries_over_several_inputs() {
    let input = "X = [1, 2, 3]\nW = [[1, 0, 0],\n     [0, 1, 1]]\nY[i] = W[i, j] X[j]\nY?\nZ[i] = Q[i]\nY?\n:quit\n";
    let output = tl(&["repl"], Some(input));
    assert!(output.status.success());
    assert_eq!(text(&output.stdout), "Y? [1, 5]\nY? [1, 5]\n");
    assert!(text(&output.stderr).contains("cannot find tensor `Q`"));
}
