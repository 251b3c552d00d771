//! The evaluator on small programs whose answers are worked out by hand in the comments:
//! scheduling, summed equations, Datalog fixpoints, iteration, functions and control flow.

use std::path::Path;
use tl_lang::eval::{run_source, EvalOptions, RunResult};
use tl_tensor::Device;

fn run(source: &str) -> RunResult {
    run_source(
        source,
        Path::new("."),
        Device::cpu_with_threads(1),
        EvalOptions::default(),
    )
    .unwrap_or_else(|failure| panic!("{source}\n{failure:?}"))
}

fn values(result: &RunResult, name: &str) -> Vec<f64> {
    result
        .evaluator
        .tensor(name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
        .to_f64_vec()
        .expect("readable")
}

#[test]
fn equations_run_in_dependency_order() {
    // Y is written before H, which it reads.
    let result = run("Y[i] = H[i] + 1\nH[i] = W[i, j] X[j]\nW = [[1, 2], [3, 4]]\nX = [10, 1]\n");
    assert_eq!(values(&result, "H"), vec![12.0, 34.0]);
    assert_eq!(values(&result, "Y"), vec![13.0, 35.0]);
}

#[test]
fn equations_with_one_left_side_are_summed() {
    let result = run("X = [1, 2]\nC = [10, 20]\nY[i] = X[i]\nY[i] = C[i]\nY[i] += X[i]\n");
    assert_eq!(values(&result, "Y"), vec![12.0, 24.0]);
}

#[test]
fn datalog_reaches_its_fixpoint() {
    let result = run(
        "Parent(Alice, Bob).\nParent(Bob, Carol).\nParent(Carol, Dana).\n\
         Ancestor(x, y) <- Parent(x, y).\nAncestor(x, z) <- Ancestor(x, y), Parent(y, z).\n\
         Ancestor(Alice, z)?\nAncestor(x, Dana)?\nAncestor(Dana, Alice)?\n",
    );
    let relation = result.evaluator.relation("Ancestor").expect("a relation");
    assert_eq!(relation.count().expect("counted"), 6);
    let output = &result.evaluator.log().output;
    assert_eq!(
        output[0],
        "Ancestor(Alice, z)? 3 answers (z)\n  (Bob)\n  (Carol)\n  (Dana)"
    );
    assert_eq!(
        output[1],
        "Ancestor(x, Dana)? 3 answers (x)\n  (Alice)\n  (Bob)\n  (Carol)"
    );
    assert_eq!(output[2], "Ancestor(Dana, Alice)? false");
    assert!(result.evaluator.log().notes[0].contains("semi-naive"));
}

#[test]
fn recursive_equations_iterate_until_they_converge() {
    // x = 0.5 x + 1 converges to 2.
    let result = run("B = [1, 1]\nX[i] = 0.5 * X[i] + B[i]\n");
    for v in values(&result, "X") {
        assert!((v - 2.0).abs() < 1e-4, "{v}");
    }
    assert!(result.evaluator.log().notes[0].contains("converged"));
}

#[test]
fn diverging_recursion_is_an_error_naming_the_equation() {
    let source = "B = [1, 1]\nX[i] = 2 * X[i] + B[i]\n";
    let failure = run_source(
        source,
        Path::new("."),
        Device::cpu_with_threads(1),
        EvalOptions {
            max_iterations: 50,
            tolerance: 1e-6,
        },
    )
    .err()
    .expect("no convergence");
    let diagnostics = failure.diagnostics();
    assert_eq!(diagnostics[0].code, "E0702");
    assert_eq!(
        diagnostics[0].primary_span().text(source),
        "X[i] = 2 * X[i] + B[i]"
    );
}

#[test]
fn functions_loops_and_conditionals() {
    let result = run("fn double(x) {\n    Y[i] = 2 * x[i]\n    return Y\n}\n\
         X = [1, 2, 3]\nlet d = double(X)\nprint(d)\n\
         let k = 0\nwhile k < 5 { let k = k + 1 }\nprint(k)\n\
         for t in 0..3 { if t == 1 { print(t) } else { print(t + 10) } }\n");
    assert_eq!(
        result.evaluator.log().output,
        vec!["[2, 4, 6]", "5", "10", "1", "12"]
    );
}

#[test]
fn tensor_queries_print_values() {
    let result = run("W = [[1, 2], [3, 4]]\nW?\nW[0, j]?\n");
    assert_eq!(
        result.evaluator.log().output,
        vec!["W?\n[[1, 2],\n [3, 4]]", "W[0, j]? [1, 2]"]
    );
}

#[test]
fn parameters_start_from_their_initialisers() {
    let result = run("param W[o: 2, i: 3] = full(0.5)\nX = [1, 2, 3]\nY[o] = W[o, i] X[i]\n");
    assert_eq!(values(&result, "Y"), vec![3.0, 3.0]);
    let normal = run("param P[a: 4, b: 5] = normal(0, 1, seed: 7)\n");
    assert_eq!(values(&normal, "P").len(), 20);
}

#[test]
fn relations_defined_by_equations_answer_queries() {
    let result = run("Sister(Ann, Bob).\nParent(Bob, Cat).\nParent(Bob, Dan).\n\
         Aunt[x, z] = step(Sister[x, y] Parent[y, z])\nAunt(Ann, z)?\n");
    assert_eq!(
        result.evaluator.log().output,
        vec!["Aunt(Ann, z)? 2 answers (z)\n  (Cat)\n  (Dan)"]
    );
}

#[test]
fn top_level_loops_update_positions_of_global_tensors() {
    // Row t of Cache becomes K scaled by t + 1.
    let result = run("K = [1, 2]\nCache = [[0, 0], [0, 0], [0, 0]]\n\
         for t in 0..3 {\n    let s = t + 1\n    Cache[t, d] = s * K[d]\n}\nCache?\n");
    assert_eq!(values(&result, "Cache"), vec![1.0, 2.0, 2.0, 4.0, 3.0, 6.0]);
}

#[test]
fn a_recurrent_equation_unrolls_over_time() {
    // X[t+1] = 0.5 X[t] + In[t]: with X[0] = 0 the iteration settles after 4 rounds on
    // X = [0, 1, 2.5, 4.25].
    let result = run("In = [1, 2, 3, 9]\nX[t+1] = 0.5 * X[t] + In[t]\n");
    assert_eq!(values(&result, "X"), vec![0.0, 1.0, 2.5, 4.25]);
}

#[test]
fn equations_read_tensors_bound_by_top_level_lets() {
    let source = "fn double(x) {\n    Y[i] = 2 * x[i]\n    return Y\n}\n\
                  X = [1, 2]\nlet h = double(X)\nZ[i] = h[i] + 1\n";
    let result = run(source);
    assert_eq!(values(&result, "Z"), vec![3.0, 5.0]);
    let explained = tl_lang::eval::explain_source(source, Path::new(".")).expect("explained");
    assert!(
        explained.contains("plan Z[i] = (h[i] + 1)\n  planned when the program runs"),
        "{explained}"
    );
}

#[test]
fn the_host_supplies_tensors_by_name() {
    let device = Device::cpu_with_threads(1);
    let weights = device
        .from_slice(&[1f32, 2.0, 3.0, 4.0], &[2, 2])
        .expect("a tensor");
    let result = tl_lang::eval::run_source_with_host(
        "X = [1, 1]\nY[o] = w.proj[o, i] X[i]\n",
        Path::new("."),
        device,
        EvalOptions::default(),
        0,
        &[("w.proj".to_string(), weights)],
    )
    .expect("runs");
    assert_eq!(values(&result, "Y"), vec![3.0, 7.0]);
}
