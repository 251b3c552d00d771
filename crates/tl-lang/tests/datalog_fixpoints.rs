//! Datalog fixpoints — reachability on random graphs, Ancestor on random forests,
//! same-generation on random trees — compared with clingo's answers (and networkx's for
//! reachability), written by tests/data/datalog_fixpoints_reference.py.

use std::path::Path;
use tl_lang::eval::{run_source, EvalOptions};
use tl_tensor::Device;

const CASES: &str = include_str!("data/datalog_fixpoints_reference.json");

#[test]
fn fixpoints_match_clingo() {
    let cases: serde_json::Value = serde_json::from_str(CASES).expect("json");
    let cases = cases.as_array().expect("a list");
    assert_eq!(cases.len(), 12);
    let device = Device::cpu_with_threads(1);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let source = case["source"].as_str().expect("source");
        let relation = case["relation"].as_str().expect("relation");
        let mut expected: Vec<Vec<String>> = case["tuples"]
            .as_array()
            .expect("tuples")
            .iter()
            .map(|t| {
                t.as_array()
                    .expect("a tuple")
                    .iter()
                    .map(|s| s.as_str().expect("a symbol").to_string())
                    .collect()
            })
            .collect();
        expected.sort();
        let result = run_source(
            source,
            Path::new("."),
            device.clone(),
            EvalOptions::default(),
        )
        .unwrap_or_else(|failure| panic!("{name}: {failure:?}"));
        let mut ours = result
            .evaluator
            .relation(relation)
            .unwrap_or_else(|| panic!("{name}: no relation {relation}"))
            .tuples()
            .expect("tuples");
        ours.sort();
        assert_eq!(ours.len(), expected.len(), "{name}: tuple count");
        assert_eq!(ours, expected, "{name}");
        assert!(
            result
                .evaluator
                .log()
                .notes
                .iter()
                .any(|n| n.contains("semi-naive")),
            "{name}: ran semi-naive"
        );
    }
}
