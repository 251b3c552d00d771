//! What checking infers: shapes across equations (parameters sized by their uses), symbol
//! domains of relations, fact positions, constants, and that sound programs check clean.

use tl_lang::analyze;
use tl_lang::check::Origin;
use tl_lang::environment::{EmptyEnvironment, MapEnvironment};

#[test]
fn parameter_shapes_come_from_their_uses() {
    let source = "\
param W[o, i] = normal(0, 0.1)
Y[n, o] = W[o, i] X[n, i]
Loss avg= (Y[n, o] - T[n, o])^2
minimize Loss with adamw(lr: 0.01) for 200 steps
";
    let env = MapEnvironment::new()
        .with_tensor("X", &[32, 3])
        .with_tensor("T", &[32, 2]);
    let analysis = analyze(source, &env);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    let tensors = &analysis.checked.tensors;
    assert_eq!(tensors["W"].shape(), Some(vec![2, 3]));
    assert_eq!(tensors["W"].origin, Origin::Param);
    assert_eq!(tensors["Y"].shape(), Some(vec![32, 2]));
    assert_eq!(tensors["Loss"].shape(), Some(vec![]));
}

#[test]
fn whole_tensor_equations_carry_shapes() {
    let source = "\
let d = 4
W = [[1, 2, 3], [4, 5, 6]]
Part = W[0:1]
Row = W[1]
E = load(\"emb.npy\")
Tail = E[2:]
S = softmax(E) * 2
param P[x: d, y] = zeros()
Z[x, y] = P[x, y] + E[x, y]
";
    let env = MapEnvironment::new().with_load("emb.npy", None, &[4, 8]);
    let analysis = analyze(source, &env);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    let shape = |name: &str| analysis.checked.tensors[name].shape();
    assert_eq!(shape("W"), Some(vec![2, 3]));
    assert_eq!(shape("Part"), Some(vec![1, 3]));
    assert_eq!(shape("Row"), Some(vec![3]));
    assert_eq!(shape("E"), Some(vec![4, 8]));
    assert_eq!(shape("Tail"), Some(vec![2, 8]));
    assert_eq!(shape("S"), Some(vec![4, 8]));
    assert_eq!(shape("P"), Some(vec![4, 8]));
    assert_eq!(analysis.checked.constants["d"], 4.0);
}

#[test]
fn definitions_may_come_after_their_uses() {
    let source = "Y[i] = A[i, j] B[j]\nA = [[1, 2], [3, 4], [5, 6]]\nB = C\nC = [1, 1]\n";
    let analysis = analyze(source, &EmptyEnvironment);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    assert_eq!(analysis.checked.tensors["Y"].shape(), Some(vec![3]));
    assert_eq!(analysis.checked.tensors["B"].shape(), Some(vec![2]));
}

#[test]
fn relations_get_domains_from_facts_and_rules() {
    let source = "\
Parent(Alice, Bob).  Parent(Bob, Carol).
Ancestor(x, y) <- Parent(x, y).
Ancestor(x, z) <- Ancestor(x, y), Parent(y, z).
Ancestor(Alice, z)?
Aunt[x, z] = step(Sister[x, y] Parent[y, z])
Sister(Dana, Bob).
";
    let analysis = analyze(source, &EmptyEnvironment);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    let checked = &analysis.checked;
    // Parent's two positions share a domain through the rules; Sister's second position
    // joins it through `y`. Sister's first position meets no other: its own domain.
    let people = checked.tensors["Parent"].domains[0].unwrap();
    assert_eq!(checked.tensors["Parent"].domains[1], Some(people));
    assert_eq!(
        checked.tensors["Ancestor"].domains,
        vec![Some(people), Some(people)]
    );
    assert_eq!(
        checked.domains[people].symbols,
        vec!["Alice", "Bob", "Carol"]
    );
    let sisters = checked.tensors["Sister"].domains[0].unwrap();
    assert_ne!(sisters, people);
    assert_eq!(checked.domains[sisters].symbols, vec!["Dana"]);
    assert_eq!(checked.tensors["Sister"].domains[1], Some(people));
    assert_eq!(checked.tensors["Aunt"].shape(), Some(vec![1, 3]));
    assert_eq!(checked.facts["Parent"], vec![vec![0, 1], vec![1, 2]]);
    assert_eq!(checked.facts["Sister"], vec![vec![0, 1]]);
}

#[test]
fn declared_domains_fix_order_and_size() {
    let source = "\
domain People = {Carol, Bob, Alice, Eve}
Parent(Alice, Bob).
param Emb[x: People, d: 2] = normal(0, 1)
Score[x] = Emb[x, d] Emb[x, d]
";
    let analysis = analyze(source, &EmptyEnvironment);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    let checked = &analysis.checked;
    assert_eq!(checked.tensors["Parent"].shape(), Some(vec![4, 4]));
    assert_eq!(checked.facts["Parent"], vec![vec![2, 1]]);
    assert_eq!(checked.tensors["Emb"].shape(), Some(vec![4, 2]));
    assert_eq!(checked.symbol_position("Emb", 0, "Eve"), Some(3));
}

#[test]
fn the_design_listing_checks_with_a_host_that_supplies_its_inputs() {
    let env = MapEnvironment::new()
        .with_tensor("W", &[4, 3])
        .with_tensor("X", &[8, 3])
        .with_tensor("W1", &[5, 3])
        .with_tensor("B1", &[5])
        .with_tensor("C", &[4])
        .with_tensor("F", &[6, 6])
        .with_tensor("U", &[3, 2])
        .with_tensor("In", &[2, 7])
        .with_tensor("Q", &[7, 8])
        .with_tensor("K", &[7, 8])
        .with_tensor("Sister", &[3, 3])
        .with_tensor("T", &[8, 4])
        .with_load("emb.safetensors", Some("embedding"), &[10, 4]);
    let source = include_str!("programs/design_listing.tl");
    let analysis = analyze(source, &env);
    // The listing reuses names for unrelated examples (`W`, `X`, `Y`), so it is not one
    // consistent program: what matters is that every complaint is about shapes or ranks,
    // never about syntax or names.
    for d in &analysis.diagnostics {
        assert!(
            d.code.starts_with("E03"),
            "unexpected {} {}",
            d.code,
            d.message
        );
    }
}
