//! The sparse engine against the definition of a Datalog fixpoint, on thousands of random
//! programs: a brute-force evaluator that tries every assignment of symbols to a rule's
//! variables until nothing new holds. Random programs mix arities 0–3, constants,
//! wildcards, repeated variables, several rules per head, mutual and non-linear recursion.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tl_lang::ast::{Program, StmtKind, Term};
use tl_lang::sparse::{FixpointLimits, SparseError, SparseProgram};

const SYMBOLS: [&str; 4] = ["A", "B", "C", "D"];
const ARITIES: [usize; 5] = [0, 1, 2, 2, 3];
const VARIABLES: [&str; 4] = ["x", "y", "z", "w"];

type Model = BTreeMap<String, BTreeSet<Vec<String>>>;

#[derive(Clone, Debug)]
enum TermChoice {
    Variable(usize),
    Constant(usize),
    Wildcard,
}

fn term_text(term: &TermChoice) -> String {
    match term {
        TermChoice::Variable(v) => VARIABLES[*v].to_string(),
        TermChoice::Constant(c) => SYMBOLS[*c].to_string(),
        TermChoice::Wildcard => "_".to_string(),
    }
}

fn atom_text(relation: usize, terms: &[String]) -> String {
    format!("R{relation}({})", terms.join(", "))
}

fn body_atom() -> impl Strategy<Value = (usize, Vec<TermChoice>)> {
    (0..ARITIES.len()).prop_flat_map(|relation| {
        let term = prop_oneof![
            4 => (0..VARIABLES.len()).prop_map(TermChoice::Variable),
            1 => (0..SYMBOLS.len()).prop_map(TermChoice::Constant),
            1 => Just(TermChoice::Wildcard),
        ];
        (
            Just(relation),
            prop::collection::vec(term, ARITIES[relation]),
        )
    })
}

/// A rule as text: a random body, and a head over the body's variables and constants.
fn rule() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(body_atom(), 1..4),
        0..ARITIES.len(),
        prop::collection::vec((any::<prop::sample::Index>(), 0..SYMBOLS.len(), 0..4u8), 3),
    )
        .prop_map(|(body, head, picks)| {
            let mut body_variables: Vec<usize> = Vec::new();
            for (_, terms) in &body {
                for term in terms {
                    if let TermChoice::Variable(v) = term {
                        if !body_variables.contains(v) {
                            body_variables.push(*v);
                        }
                    }
                }
            }
            let head_terms: Vec<String> = picks[..ARITIES[head]]
                .iter()
                .map(|(index, constant, kind)| {
                    if *kind == 0 || body_variables.is_empty() {
                        SYMBOLS[*constant].to_string()
                    } else {
                        VARIABLES[body_variables[index.index(body_variables.len())]].to_string()
                    }
                })
                .collect();
            let body: Vec<String> = body
                .iter()
                .map(|(relation, terms)| {
                    atom_text(*relation, &terms.iter().map(term_text).collect::<Vec<_>>())
                })
                .collect();
            format!("{} <- {}.", atom_text(head, &head_terms), body.join(", "))
        })
}

fn fact() -> impl Strategy<Value = String> {
    (0..ARITIES.len()).prop_flat_map(|relation| {
        prop::collection::vec(0..SYMBOLS.len(), ARITIES[relation]).prop_map(move |symbols| {
            let terms: Vec<String> = symbols.iter().map(|&s| SYMBOLS[s].to_string()).collect();
            format!("{}.", atom_text(relation, &terms))
        })
    })
}

fn program_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(fact(), 0..12),
        prop::collection::vec(rule(), 1..6),
    )
        .prop_map(|(facts, rules)| {
            // Every relation appears with its arity, so that all are known even when
            // no fact or rule mentions them.
            let mut lines = facts;
            lines.extend(rules);
            lines.join("\n") + "\n"
        })
}

/// The least fixpoint by definition: apply every rule under every assignment of the
/// program's symbols to its variables until nothing changes.
fn brute_force(program: &Program) -> Model {
    let mut model: Model = BTreeMap::new();
    for (i, &arity) in ARITIES.iter().enumerate() {
        let _ = arity;
        model.insert(format!("R{i}"), BTreeSet::new());
    }
    let mut rules = Vec::new();
    for statement in &program.statements {
        match &statement.kind {
            StmtKind::Fact(atom) => {
                let tuple = atom
                    .terms
                    .iter()
                    .map(|t| match t {
                        Term::Constant(name) => name.text.clone(),
                        other => panic!("fact term {other:?}"),
                    })
                    .collect();
                model.get_mut(&atom.relation.text).unwrap().insert(tuple);
            }
            StmtKind::Rule(rule) => rules.push(rule.clone()),
            _ => {}
        }
    }
    loop {
        let mut changed = false;
        for rule in &rules {
            let mut variables: Vec<String> = Vec::new();
            for atom in &rule.body {
                for term in &atom.terms {
                    if let Term::Variable(name) = term {
                        if !variables.contains(&name.text) {
                            variables.push(name.text.clone());
                        }
                    }
                }
            }
            let n_assignments = SYMBOLS.len().pow(variables.len() as u32);
            for assignment in 0..n_assignments {
                let value = |name: &str| {
                    let v = variables.iter().position(|n| n == name).unwrap();
                    SYMBOLS[(assignment / SYMBOLS.len().pow(v as u32)) % SYMBOLS.len()].to_string()
                };
                let holds = rule.body.iter().all(|atom| {
                    model[&atom.relation.text].iter().any(|tuple| {
                        atom.terms
                            .iter()
                            .zip(tuple)
                            .all(|(term, symbol)| match term {
                                Term::Variable(name) => value(&name.text) == *symbol,
                                Term::Constant(name) => name.text == *symbol,
                                Term::Wildcard(_) => true,
                            })
                    })
                });
                if holds {
                    let tuple: Vec<String> = rule
                        .head
                        .terms
                        .iter()
                        .map(|term| match term {
                            Term::Variable(name) => value(&name.text),
                            Term::Constant(name) => name.text.clone(),
                            Term::Wildcard(_) => panic!("no wildcards in generated heads"),
                        })
                        .collect();
                    changed |= model
                        .get_mut(&rule.head.relation.text)
                        .unwrap()
                        .insert(tuple);
                }
            }
        }
        if !changed {
            return model;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn fixpoint_is_the_least_model(source in program_text()) {
        let (program, errors) = tl_lang::parse(&source);
        prop_assert!(errors.is_empty(), "{source}\n{errors:?}");
        let expected = brute_force(&program);
        let sparse = SparseProgram::from_program(&program).unwrap();
        let relations = sparse.fixpoint(&FixpointLimits::default()).unwrap();
        for (name, tuples) in &expected {
            let ours: BTreeSet<Vec<String>> = match relations.get(name) {
                Some(relation) => relation
                    .tuples()
                    .map(|t| t.iter().map(|&id| sparse.symbols().name(id).unwrap().to_string()).collect())
                    .collect(),
                None => BTreeSet::new(),
            };
            prop_assert_eq!(&ours, tuples, "{} in\n{}", name, source);
        }
    }
}

#[test]
fn errors_name_the_rule() {
    let cases = [
        ("R(x) <- S(y).\nS(A).\n", "UnboundHeadVariable"),
        (
            "R(x, y) <- S(x, y).\nR(x) <- S(x, x).\nS(A, A).\n",
            "ArityMismatch",
        ),
        ("R(A, B).\nR(A).\n", "ArityMismatch"),
        ("S(A).\nR(_) <- S(x).\n", "WildcardInHead"),
    ];
    for (source, kind) in cases {
        let (program, errors) = tl_lang::parse(source);
        assert!(errors.is_empty(), "{source}: {errors:?}");
        let error = SparseProgram::from_program(&program).unwrap_err();
        assert!(
            format!("{error:?}").starts_with(kind),
            "{source}: {error:?}"
        );
        let span = error.span().expect("points into the program");
        assert!(
            span.end <= source.len() && !span.is_empty(),
            "{source}: {span:?}"
        );
    }
}

#[test]
fn limits_stop_a_fixpoint_with_an_error_naming_the_rule() {
    // 400 edges in a chain: the closure has 80,200 pairs and needs 400 rounds.
    let mut source =
        String::from("Reach(x, y) <- Edge(x, y).\nReach(x, z) <- Reach(x, y), Edge(y, z).\n");
    for i in 0..400 {
        source.push_str(&format!("Edge(N{i}, N{}).\n", i + 1));
    }
    let (program, errors) = tl_lang::parse(&source);
    assert!(errors.is_empty());
    let sparse = SparseProgram::from_program(&program).unwrap();
    let full = sparse.fixpoint(&FixpointLimits::default()).unwrap();
    assert_eq!(full["Reach"].len(), 401 * 400 / 2);

    let rounds = FixpointLimits {
        max_iterations: 50,
        ..FixpointLimits::default()
    };
    match sparse.fixpoint(&rounds) {
        Err(SparseError::NoFixpoint {
            relations,
            rule,
            iterations,
            ..
        }) => {
            assert_eq!(relations, vec!["Reach".to_string()]);
            assert!(rule.starts_with("Reach(x, y) <- Edge(x, y)"), "{rule}");
            assert_eq!(iterations, 50);
        }
        other => panic!("{other:?}"),
    }
    let tuples = FixpointLimits {
        max_tuples: 10_000,
        ..FixpointLimits::default()
    };
    match sparse.fixpoint(&tuples) {
        Err(SparseError::TooManyTuples { rule, limit, .. }) => {
            assert!(rule.starts_with("Reach("), "{rule}");
            assert_eq!(limit, 10_000);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_query_on_an_unknown_relation_or_symbol() {
    let source =
        "Edge(A, B).\nReach(x, y) <- Edge(x, y).\nNope(x)?\nReach(Zed, y)?\nReach(A, B)?\n";
    let (program, errors) = tl_lang::parse(source);
    assert!(errors.is_empty());
    let sparse = SparseProgram::from_program(&program).unwrap();
    let relations = sparse.fixpoint(&FixpointLimits::default()).unwrap();
    let queries: Vec<_> = program
        .statements
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Query(tl_lang::ast::Query::Atom(atom)) => Some(atom),
            _ => None,
        })
        .collect();
    assert!(matches!(
        sparse.answer(&relations, queries[0]),
        Err(SparseError::UnknownRelation { .. })
    ));
    assert!(sparse.answer(&relations, queries[1]).unwrap().is_empty());
    let ground = sparse.answer(&relations, queries[2]).unwrap();
    assert_eq!(ground.len(), 1);
    assert!(ground.variables.is_empty());
}
