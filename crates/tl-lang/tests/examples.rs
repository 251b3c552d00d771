//! Every program in examples/ runs, and its tensors and Datalog answers match what numpy
//! and clingo computed from the same inputs (examples/data/generate.py writes both); the
//! plans `tl run --explain` prints for them are snapshot-tested.

use std::path::{Path, PathBuf};
use tl_lang::eval::npy_file::read_npy;
use tl_lang::eval::{explain_source, run_source, EvalOptions, RunResult};
use tl_tensor::Device;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn run_example(name: &str) -> RunResult {
    let dir = examples_dir();
    let source = std::fs::read_to_string(dir.join(format!("{name}.tl"))).expect("the example");
    run_source(
        &source,
        &dir,
        Device::cpu_with_threads(2),
        EvalOptions::default(),
    )
    .unwrap_or_else(|failure| panic!("{name}: {failure:?}"))
}

/// Compares every tensor numpy computed for `name` with the program's.
fn check_tensors(name: &str, result: &RunResult) -> usize {
    let folder = examples_dir().join("data/expected").join(name);
    let mut compared = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&folder)
        .expect("expected values (run examples/data/generate.py)")
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let tensor_name = path.file_stem().and_then(|s| s.to_str()).expect("a name");
        let expected = read_npy(&std::fs::read(&path).expect("readable")).expect("an npy file");
        let actual = result
            .evaluator
            .tensor(tensor_name)
            .unwrap_or_else(|| panic!("{name}: no tensor {tensor_name}"));
        assert_eq!(
            actual.shape(),
            expected.shape.as_slice(),
            "{name}: {tensor_name}"
        );
        let values = actual.to_f64_vec().expect("readable");
        for (i, (a, e)) in values.iter().zip(&expected.data).enumerate() {
            let e = f64::from(*e);
            assert!(
                (a - e).abs() <= 1e-4 + 1e-4 * e.abs(),
                "{name}: {tensor_name}[{i}] is {a}, numpy says {e}"
            );
        }
        compared += 1;
    }
    compared
}

#[test]
fn perceptron_and_mlp_match_numpy() {
    let result = run_example("perceptron");
    assert_eq!(check_tensors("perceptron", &result), 3);
    assert!(result.evaluator.log().output[0].starts_with("Y? ["));
}

#[test]
fn attention_matches_numpy() {
    assert_eq!(check_tensors("attention", &run_example("attention")), 5);
}

#[test]
fn gnn_layer_matches_numpy() {
    assert_eq!(check_tensors("gnn", &run_example("gnn")), 2);
}

#[test]
fn cnn_with_max_pooling_matches_numpy() {
    assert_eq!(check_tensors("cnn", &run_example("cnn")), 3);
}

#[test]
fn kernel_machine_matches_numpy() {
    assert_eq!(check_tensors("kernel", &run_example("kernel")), 3);
}

#[test]
fn embedding_reasoning_matches_numpy() {
    let result = run_example("embedding");
    assert_eq!(check_tensors("embedding", &result), 4);
    assert_eq!(
        result.evaluator.log().output,
        vec!["Likes(Ann, y)? 1 answer (y)\n  (Bob)"]
    );
}

#[test]
fn family_datalog_matches_clingo() {
    let result = run_example("family");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(examples_dir().join("data/expected/family.json"))
            .expect("expected answers"),
    )
    .expect("json");
    let as_tuples = |value: &serde_json::Value| -> Vec<Vec<String>> {
        let mut tuples: Vec<Vec<String>> = value
            .as_array()
            .expect("a list")
            .iter()
            .map(|t| {
                t.as_array()
                    .expect("a tuple")
                    .iter()
                    .map(|s| s.as_str().expect("a symbol").to_string())
                    .collect()
            })
            .collect();
        tuples.sort();
        tuples
    };
    for relation in ["Ancestor", "Aunt", "GreatAunt"] {
        let mut ours = result
            .evaluator
            .relation(relation)
            .unwrap_or_else(|| panic!("no relation {relation}"))
            .tuples()
            .expect("tuples");
        ours.sort();
        assert_eq!(ours, as_tuples(&expected[relation]), "{relation}");
    }
    // The rule written as an equation gives the same relation.
    let aunt = result.evaluator.tensor("Aunt").expect("Aunt");
    let by_equation = result
        .evaluator
        .tensor("AuntByEquation")
        .expect("the equation");
    assert_eq!(
        aunt.to_f64_vec().expect("readable"),
        by_equation.to_f64_vec().expect("readable")
    );
}

#[test]
fn explained_plans_of_the_examples() {
    let dir = examples_dir();
    for name in [
        "perceptron",
        "attention",
        "gnn",
        "cnn",
        "kernel",
        "embedding",
        "family",
    ] {
        let source = std::fs::read_to_string(dir.join(format!("{name}.tl"))).expect("example");
        let text = explain_source(&source, &dir).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        insta::assert_snapshot!(format!("explain_{name}"), text);
    }
}
