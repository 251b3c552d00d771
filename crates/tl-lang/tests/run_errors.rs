//! Run-time errors name the statement and the cause: unknown files and tensor names, a
//! recursion that does not converge, values of the wrong kind, files `save` cannot write,
//! relations too large to hold densely. Each rendering is snapshot-tested.

use std::path::{Path, PathBuf};
use tl_lang::eval::npy_file::write_npy;
use tl_lang::eval::{run_codes, run_source, EvalOptions};
use tl_lang::{render, RenderOptions};
use tl_tensor::Device;

fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tl-lang-run-errors-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// Runs `source` in `dir`, expecting a run-time error with `code`; returns its rendering.
fn run_error(source: &str, dir: &Path, code: &str) -> String {
    let options = EvalOptions {
        max_iterations: 20,
        tolerance: 1e-6,
    };
    let failure = run_source(source, dir, Device::cpu_with_threads(1), options)
        .err()
        .unwrap_or_else(|| panic!("{source}: ran without error"));
    let diagnostics = failure.diagnostics();
    assert_eq!(diagnostics.len(), 1, "{failure:?}");
    assert_eq!(diagnostics[0].code, code, "{failure:?}");
    render(
        &diagnostics[0],
        "program.tl",
        source,
        RenderOptions::default(),
    )
}

#[test]
fn unknown_file() {
    let dir = scratch_dir("unknown-file");
    let text = run_error(
        "E = load(\"missing.npy\")\nY[i] = E[i]\n",
        &dir,
        run_codes::FILE,
    );
    insta::assert_snapshot!(text.replace(dir.to_str().expect("utf-8"), "<dir>"));
}

#[test]
fn unknown_tensor_name() {
    let dir = scratch_dir("unknown-tensor");
    std::fs::write(dir.join("x.csv"), "a, b\n1, 2\n3, 4\n").expect("written");
    let text = run_error(
        "C = load(\"x.csv\", \"c\")\nY[i] = C[i]\n",
        &dir,
        run_codes::MISSING_TENSOR,
    );
    insta::assert_snapshot!(text.replace(dir.to_str().expect("utf-8"), "<dir>"));
}

#[test]
fn recursion_that_does_not_converge() {
    let text = run_error(
        "B = [1, 1]\nX[i] = 2 * X[i] + B[i]\n",
        Path::new("."),
        run_codes::NOT_CONVERGED,
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_tensor_where_a_number_is_needed() {
    let text = run_error(
        "X = [1, 2]\nfn f(x) {\n    if x { return 1 }\n    return 0\n}\nlet y = f(X)\n",
        Path::new("."),
        run_codes::WRONG_VALUE,
    );
    insta::assert_snapshot!(text);
}

#[test]
fn save_to_a_format_it_cannot_write() {
    let dir = scratch_dir("save");
    let text = run_error("X = [1, 2]\nsave(\"x.gguf\", X)\n", &dir, run_codes::FILE);
    insta::assert_snapshot!(text.replace(dir.to_str().expect("utf-8"), "<dir>"));
}

#[test]
fn relation_too_large_for_a_dense_tensor() {
    let symbols: Vec<String> = (0..1100).map(|i| format!("S{i}")).collect();
    let source = format!(
        "domain Thing = {{{}}}\nTriple(S0, S1, S2).\nLinked(x, y, z) <- Triple(x, y, z).\n",
        symbols.join(", ")
    );
    let text = run_error(&source, Path::new("."), run_codes::TOO_LARGE);
    assert!(text.contains("1331000000 elements"), "{text}");
}

#[test]
fn saved_tensors_load_back() {
    let dir = scratch_dir("round-trip");
    std::fs::write(dir.join("w.npy"), write_npy(&[2, 2], &[1.0, 2.0, 3.0, 4.0])).expect("written");
    let source = "W = load(\"w.npy\")\nY[i, j] = 2 * W[j, i]\nsave(\"y.npy\", Y)\nsave(\"y.safetensors\", Y)\n";
    run_source(
        source,
        &dir,
        Device::cpu_with_threads(1),
        EvalOptions::default(),
    )
    .expect("runs");
    let again = "A = load(\"y.npy\")\nB = load(\"y.safetensors\", \"Y\")\nA?\nB?\n";
    let result = run_source(
        again,
        &dir,
        Device::cpu_with_threads(1),
        EvalOptions::default(),
    )
    .expect("runs");
    assert_eq!(
        result.evaluator.log().output,
        vec!["A?\n[[2, 6],\n [4, 8]]", "B?\n[[2, 6],\n [4, 8]]"]
    );
}

#[test]
fn a_file_of_several_tensors_loads_as_a_record() {
    let dir = scratch_dir("record");
    // Two tensors in one file, written by the safetensors crate itself.
    let a: Vec<u8> = [1f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let b: Vec<u8> = [1f32, 0.0, 0.0, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let views = [
        (
            "layer.0.bias".to_string(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &a)
                .expect("a view"),
        ),
        (
            "layer.0.weight".to_string(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 2], &b)
                .expect("a view"),
        ),
    ];
    let bytes = safetensors::serialize(views, None).expect("serialized");
    std::fs::write(dir.join("model.safetensors"), bytes).expect("written");
    let program = "fn layer(x, w) {\n    Y[o] = w.layer.0.weight[o, i] x[i] + w.layer.0.bias[o]\n    return Y\n}\n\
                   X = [1, 1]\nlet w = load(\"model.safetensors\")\nlet y = layer(X, w)\nprint(y)\n";
    let result = run_source(
        program,
        &dir,
        Device::cpu_with_threads(1),
        EvalOptions::default(),
    )
    .expect("runs");
    assert_eq!(result.evaluator.log().output, vec!["[2, 5]"]);
}
