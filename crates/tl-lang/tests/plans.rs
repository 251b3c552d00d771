//! Planner tests: every plan of a set of representative equations (MLP layer, attention,
//! chains, dot product, trace, pooling, Datalog, index arithmetic…) is valid by the tensor
//! library's own shape rules, reads as expected (`explain` snapshots), and computes what
//! numpy computes (reference values from `data/planner_reference.py`).

mod support;

use std::collections::HashMap;
use support::Array;
use tl_lang::check::check;
use tl_lang::environment::MapEnvironment;
use tl_lang::{explain, parse, plan_program, Plan};

struct Case {
    name: String,
    program: String,
    shapes: HashMap<String, Vec<usize>>,
    inputs: HashMap<String, Vec<f64>>,
    target: String,
    expected: Array,
}

fn cases() -> Vec<Case> {
    let text = include_str!("data/planner_reference.json");
    let json: serde_json::Value = serde_json::from_str(text).expect("reference JSON");
    let usizes = |v: &serde_json::Value| -> Vec<usize> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect()
    };
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            program: c["program"].as_str().unwrap().to_string(),
            shapes: c["shapes"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), usizes(v)))
                .collect(),
            inputs: c["inputs"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), floats(v)))
                .collect(),
            target: c["target"].as_str().unwrap().to_string(),
            expected: Array::new(&usizes(&c["expected_shape"]), floats(&c["expected"])),
        })
        .collect()
}

/// Checks and plans a case's program; the plan of its last statement.
fn plan_of(case: &Case) -> Plan {
    let (program, diagnostics) = parse(&case.program);
    assert!(diagnostics.is_empty(), "{}: {diagnostics:?}", case.name);
    let mut env = MapEnvironment::new();
    for (name, shape) in &case.shapes {
        env = env.with_tensor(name, shape);
    }
    let checked = check(&program, &env);
    assert!(
        !checked.has_errors(),
        "{}: {:?}",
        case.name,
        checked.diagnostics
    );
    let mut plans = plan_program(&program, &checked, &env);
    let planned = plans.pop().expect("a planned statement");
    let plan = planned
        .plan
        .unwrap_or_else(|d| panic!("{}: {d:?}", case.name));
    plan.validate()
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", case.name, explain(&plan)));
    assert_eq!(plan.target, case.target, "{}", case.name);
    plan
}

#[test]
fn plans_compute_what_numpy_computes() {
    let cases = cases();
    assert!(cases.len() >= 30);
    for case in &cases {
        let plan = plan_of(case);
        let tensors: HashMap<String, Array> = case
            .inputs
            .iter()
            .map(|(name, data)| (name.clone(), Array::new(&case.shapes[name], data.clone())))
            .collect();
        let result = support::run(&plan, &tensors, &HashMap::new());
        assert_eq!(
            result.shape,
            case.expected.shape,
            "{}\n{}",
            case.name,
            explain(&plan)
        );
        for (i, (got, want)) in result.data.iter().zip(&case.expected.data).enumerate() {
            let tolerance = 1e-9 * (1.0 + want.abs());
            assert!(
                (got - want).abs() <= tolerance,
                "{}: element {i}: {got} but numpy gives {want}\n{}",
                case.name,
                explain(&plan)
            );
        }
    }
}

#[test]
fn plan_explanations() {
    for case in &cases() {
        let plan = plan_of(case);
        insta::assert_snapshot!(case.name.clone(), explain(&plan));
    }
}

#[test]
fn joins_of_three_pick_the_cheapest_pair_first() {
    // A is 100×100, B 100×100, C 100×2: B·C first makes a 100×2 intermediate instead of a
    // 100×100 one.
    let source = "Y[a, d] = A[a, b] B[b, c] C[c, d]";
    let (program, _) = parse(source);
    let env = MapEnvironment::new()
        .with_tensor("A", &[100, 100])
        .with_tensor("B", &[100, 100])
        .with_tensor("C", &[100, 2]);
    let checked = check(&program, &env);
    let plan = plan_program(&program, &checked, &env)
        .remove(0)
        .plan
        .unwrap();
    let matmuls: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| s.op.name() == "matmul")
        .collect();
    assert_eq!(matmuls.len(), 2);
    let first_inputs: Vec<usize> = matmuls[0].args.clone();
    let input_names: HashMap<usize, String> = plan
        .inputs
        .iter()
        .map(|i| (i.value, format!("{:?}", i.source)))
        .collect();
    let names: Vec<&String> = first_inputs
        .iter()
        .filter_map(|a| input_names.get(a))
        .collect();
    assert!(
        names.iter().any(|n| n.contains("\"B\"")) && names.iter().any(|n| n.contains("\"C\"")),
        "first contraction should join B and C:\n{}",
        explain(&plan)
    );
    assert_eq!(matmuls[0].shape.iter().product::<usize>(), 200);
}

#[test]
fn plans_never_loop_over_index_values() {
    // The number of steps does not grow with the sizes of the tensors.
    let source = "H[b, o] = relu(W[o, i] X[b, i] + B[o])";
    let (program, _) = parse(source);
    let steps = |n: usize| {
        let env = MapEnvironment::new()
            .with_tensor("W", &[n, n])
            .with_tensor("X", &[n, n])
            .with_tensor("B", &[n]);
        let checked = check(&program, &env);
        plan_program(&program, &checked, &env)
            .remove(0)
            .plan
            .unwrap()
            .steps
            .len()
    };
    assert_eq!(steps(2), steps(512));
}

/// The bindings inside a function or loop body: `t` is a run-time position.
struct LoopEnv {
    shapes: HashMap<String, Vec<usize>>,
}

impl tl_lang::PlanEnv for LoopEnv {
    fn tensor(&self, name: &str) -> Option<tl_lang::environment::TensorInfo> {
        self.shapes
            .get(name)
            .map(|s| tl_lang::environment::TensorInfo::f32(s))
    }
    fn is_runtime(&self, name: &str) -> bool {
        name == "t" || name == "scale"
    }
}

fn equation(source: &str) -> tl_lang::ast::Equation {
    let (program, diagnostics) = parse(source);
    assert!(diagnostics.is_empty());
    match program.statements.into_iter().next().map(|s| s.kind) {
        Some(tl_lang::ast::StmtKind::Equation(eq)) => eq,
        other => panic!("not an equation: {other:?}"),
    }
}

#[test]
fn run_time_positions_read_and_write_rows() {
    let env = LoopEnv {
        shapes: HashMap::from([
            ("Cache".to_string(), vec![4, 3]),
            ("K".to_string(), vec![3]),
        ]),
    };
    let cache = Array::new(&[4, 3], (0..12).map(|v| v as f64).collect());
    let k = Array::new(&[3], vec![-1.0, -2.0, -3.0]);
    let tensors = HashMap::from([
        ("Cache".to_string(), cache.clone()),
        ("K".to_string(), k.clone()),
    ]);
    let scalars = HashMap::from([("t".to_string(), 2.0), ("scale".to_string(), 0.5)]);

    // Writing row t: the other rows keep their values.
    let write = tl_lang::plan_equation(&equation("Cache[t, d] = K[d] * scale"), &env).unwrap();
    insta::assert_snapshot!("runtime_write", explain(&write));
    let written = support::run(&write, &tensors, &scalars);
    let mut expected = cache.data.clone();
    for d in 0..3 {
        expected[2 * 3 + d] = k.data[d] * 0.5;
    }
    assert_eq!(written.data, expected);

    // Reading row t+1.
    let read = tl_lang::plan_equation(&equation("Row[d] = Cache[t + 1, d]"), &env).unwrap();
    insta::assert_snapshot!("runtime_read", explain(&read));
    let row = support::run(&read, &tensors, &scalars);
    assert_eq!(row.data, cache.data[9..12].to_vec());
}
