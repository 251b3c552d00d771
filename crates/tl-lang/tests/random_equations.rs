//! 250 random tensor equations (index patterns, diagonals, projections, nonlinearities,
//! softmax) run through the evaluator and compared with numpy.einsum's values, written by
//! tests/data/random_equations.py.

use std::path::Path;
use tl_lang::eval::{run_source, EvalOptions};
use tl_tensor::Device;

const CASES: &str = include_str!("data/random_equations.json");

#[test]
fn random_equations_match_numpy() {
    let cases: serde_json::Value = serde_json::from_str(CASES).expect("json");
    let cases = cases.as_array().expect("a list");
    assert!(cases.len() >= 200);
    let device = Device::cpu_with_threads(1);
    let mut failures = Vec::new();
    for (number, case) in cases.iter().enumerate() {
        let source = case["source"].as_str().expect("source");
        let shape: Vec<usize> = case["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| d.as_u64().expect("a size") as usize)
            .collect();
        let expected: Vec<f64> = case["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| v.as_f64().expect("a number"))
            .collect();
        let result = match run_source(
            source,
            Path::new("."),
            device.clone(),
            EvalOptions::default(),
        ) {
            Ok(result) => result,
            Err(failure) => {
                failures.push(format!("case {number}:\n{source}{failure:?}"));
                continue;
            }
        };
        let y = result.evaluator.tensor("Y").expect("Y");
        if y.shape() != shape.as_slice() {
            failures.push(format!(
                "case {number}:\n{source}shape {:?}, numpy {shape:?}",
                y.shape()
            ));
            continue;
        }
        let values = y.to_f64_vec().expect("readable");
        if let Some((i, (a, e))) = values
            .iter()
            .zip(&expected)
            .enumerate()
            .find(|(_, (a, e))| (*a - *e).abs() > 1e-4 + 1e-4 * e.abs())
        {
            failures.push(format!("case {number}:\n{source}Y[{i}] = {a}, numpy {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
