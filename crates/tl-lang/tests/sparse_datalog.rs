//! The sparse Datalog engine against clingo: every fixpoint and query answer of
//! `data/datalog_reference.json` (written by `data/datalog_reference.py`) — reachability,
//! non-linear reachability, same generation, mutual recursion, constants, wildcards and
//! propositions at several sizes, and the 20,000-person Ancestor example.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tl_lang::ast::{Query, StmtKind};
use tl_lang::sparse::{FixpointLimits, SparseProgram, SparseRelation, SymbolTable};

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/datalog_reference.json");
    let text = std::fs::read_to_string(&path).expect("datalog_reference.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Tuples as comma-joined names, sorted as strings: the canonical text the reference
/// script hashes.
fn canonical_lines(relation: &SparseRelation, symbols: &SymbolTable) -> Vec<String> {
    let mut lines: Vec<String> = relation
        .tuples()
        .map(|tuple| {
            tuple
                .iter()
                .map(|&id| symbols.name(id).expect("symbol of the program"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    lines.sort();
    lines
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn names(value: &Value) -> Vec<Vec<String>> {
    value
        .as_array()
        .expect("a list of tuples")
        .iter()
        .map(|tuple| {
            tuple
                .as_array()
                .expect("a tuple")
                .iter()
                .map(|name| name.as_str().expect("a name").to_string())
                .collect()
        })
        .collect()
}

fn check_case(case: &Value) {
    let name = case["name"].as_str().unwrap();
    let source = match case["program"].as_str() {
        Some(program) => program.to_string(),
        None => {
            let path = repository_root().join(case["example"].as_str().unwrap());
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
    };
    let (program, errors) = tl_lang::parse(&source);
    assert!(errors.is_empty(), "{name}: {errors:?}");
    let sparse = SparseProgram::from_program(&program).unwrap_or_else(|e| panic!("{name}: {e}"));
    let relations = sparse
        .fixpoint(&FixpointLimits::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));

    for (relation, expected) in case["relations"].as_object().unwrap() {
        let ours = &relations[relation];
        let lines = canonical_lines(ours, sparse.symbols());
        assert_eq!(
            lines.len() as u64,
            expected["count"].as_u64().unwrap(),
            "{name}: number of {relation} tuples"
        );
        if let Some(tuples) = expected.get("tuples") {
            let ours: Vec<Vec<String>> = lines
                .iter()
                .map(|line| line.split(',').map(str::to_string).collect())
                .filter(|t: &Vec<String>| !(t.len() == 1 && t[0].is_empty()))
                .collect();
            let mut theirs = names(tuples);
            theirs.sort_by_key(|t| t.join(","));
            // A proposition's one empty tuple is `[]` for clingo and one empty line here.
            let ours_sorted = if ours.is_empty() && !lines.is_empty() {
                vec![Vec::new(); lines.len()]
            } else {
                ours
            };
            assert_eq!(ours_sorted, theirs, "{name}: {relation}");
        }
        assert_eq!(
            sha256_hex(&lines.join("\n")),
            expected["sha256"].as_str().unwrap(),
            "{name}: hash of {relation}"
        );
    }

    for query in case["queries"].as_array().unwrap() {
        let atom_text = query["atom"].as_str().unwrap();
        let (parsed, errors) = tl_lang::parse(&format!("{atom_text}?\n"));
        assert!(errors.is_empty(), "{atom_text}: {errors:?}");
        let atom = match &parsed.statements[0].kind {
            StmtKind::Query(Query::Atom(atom)) => atom,
            other => panic!("{atom_text} parsed as {other:?}"),
        };
        let answer = sparse.answer(&relations, atom).unwrap();
        assert_eq!(
            answer.names(sparse.symbols()),
            names(&query["answers"]),
            "{name}: {atom_text}"
        );
    }
}

#[test]
fn fixpoints_and_answers_match_clingo() {
    let reference = reference();
    let cases = reference["cases"].as_array().unwrap();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        if name == "ancestor_20k" {
            continue;
        }
        let family = name.rsplit_once('_').map_or(name, |(family, _)| family);
        *seen.entry(family).or_default() += 1;
        check_case(case);
    }
    for family in [
        "reachability",
        "reachability_nonlinear",
        "same_generation",
        "even_odd",
        "mixed",
    ] {
        assert!(
            seen.get(family).copied().unwrap_or(0) >= 2,
            "{family} at several sizes"
        );
    }
}

#[test]
fn ancestor_20k_matches_clingo() {
    let reference = reference();
    let case = reference["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|case| case["name"] == "ancestor_20k")
        .expect("the ancestor_20k case");
    check_case(case);
}

/// What `tl run examples/ancestor_20k.tl` does: the evaluator sees 19,000 facts over
/// ~19,000 symbols, stores the relations as tuples, and prints clingo's answers.
#[test]
fn ancestor_20k_runs_through_the_evaluator_sparsely() {
    let reference = reference();
    let case = reference["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|case| case["name"] == "ancestor_20k")
        .expect("the ancestor_20k case");
    let query = &case["queries"][0];
    let answers: Vec<String> = query["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("  ({})", a[0].as_str().unwrap()))
        .collect();
    let path = repository_root().join("examples/ancestor_20k.tl");
    let source = std::fs::read_to_string(&path).expect("the example");
    let result = tl_lang::eval::run_source(
        &source,
        path.parent().unwrap(),
        tl_tensor::Device::cpu(),
        Default::default(),
    )
    .expect("the program runs");
    let output = &result.evaluator.log().output;
    assert_eq!(output.len(), 1, "{output:?}");
    let mut lines = output[0].lines();
    assert_eq!(
        lines.next().unwrap(),
        format!(
            "{}? {} answers (x)",
            query["atom"].as_str().unwrap(),
            answers.len()
        )
    );
    let mut printed: Vec<String> = lines.map(str::to_string).collect();
    let mut expected = answers.clone();
    printed.sort();
    expected.sort();
    assert_eq!(printed, expected);
}

/// A large-domain program with a tensor statement is refused with a diagnostic, not run
/// densely.
#[test]
fn large_domains_refuse_tensor_statements() {
    let mut source: String = (0..10_001)
        .map(|i| format!("Edge(N{i}, N{}).\n", i + 1))
        .collect();
    source.push_str("Y = 2 * 3\n");
    let failure = tl_lang::eval::run_source(
        &source,
        std::path::Path::new("."),
        tl_tensor::Device::cpu(),
        Default::default(),
    )
    .err()
    .expect("refused");
    let diagnostics = failure.diagnostics();
    assert_eq!(diagnostics[0].code, "E0706", "{failure:?}");
    assert!(diagnostics[0].message.contains("sparse"), "{failure:?}");
}
