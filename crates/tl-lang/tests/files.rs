//! `load` of files written by other tools: a GGUF file from gguf-py (F32, F16 and Q8_0
//! tensors, compared with gguf-py's own dequantization) and `.npy` files from numpy.

use std::path::Path;
use tl_lang::eval::npy_file::read_npy;
use tl_lang::eval::{run_source, EvalOptions};
use tl_tensor::Device;

fn data() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

#[test]
fn gguf_tensors_load_by_name() {
    let source = "W = load(\"small.gguf\", \"blk.0.weight\")\n\
                  B = load(\"small.gguf\", \"blk.0.bias\")\n\
                  Q = load(\"small.gguf\", \"blk.0.q8\")\n\
                  Y[o] = W[o, i] B[i]\n";
    let result = run_source(
        source,
        data(),
        Device::cpu_with_threads(1),
        EvalOptions::default(),
    )
    .expect("runs");
    for (name, file) in [("W", "weight"), ("B", "bias"), ("Q", "q8")] {
        let expected = read_npy(
            &std::fs::read(data().join(format!("small_gguf_{file}.npy"))).expect("expected"),
        )
        .expect("npy");
        let tensor = result.evaluator.tensor(name).expect("loaded");
        assert_eq!(tensor.shape(), expected.shape.as_slice(), "{name}");
        let values = tensor.to_f64_vec().expect("readable");
        for (a, e) in values.iter().zip(&expected.data) {
            assert!((a - f64::from(*e)).abs() < 1e-6, "{name}: {a} vs {e}");
        }
    }
    assert_eq!(result.evaluator.tensor("Y").expect("Y").shape(), &[3]);
}

#[test]
fn a_missing_gguf_tensor_names_what_the_file_holds() {
    let source = "W = load(\"small.gguf\", \"blk.9.weight\")\n";
    let failure = run_source(
        source,
        data(),
        Device::cpu_with_threads(1),
        EvalOptions::default(),
    )
    .err()
    .expect("an error");
    let diagnostic = &failure.diagnostics()[0];
    assert_eq!(diagnostic.code, "E0704");
    assert!(
        diagnostic
            .message
            .contains("holds no tensor `blk.9.weight`")
            && diagnostic.message.contains("blk.0.weight"),
        "{}",
        diagnostic.message
    );
    assert_eq!(
        diagnostic.primary_span().text(source),
        "load(\"small.gguf\", \"blk.9.weight\")"
    );
}
