//! Parser tests: every construct of the language reads as intended (shown by printing the
//! tree back with explicit grouping), printing is stable, and spans point at the source.

use tl_lang::ast::{ExprKind, StmtKind};
use tl_lang::parse;

/// Parses, insists on no diagnostics, and returns the explicit printing.
fn reads_as(source: &str) -> String {
    let (program, diagnostics) = parse(source);
    assert!(
        diagnostics.is_empty(),
        "unexpected diagnostics for {source:?}: {diagnostics:?}"
    );
    let printed = program.to_string();
    // Printing is a fixed point after one round.
    let (again, more) = parse(&printed);
    assert!(
        more.is_empty(),
        "reprint of {source:?} fails: {more:?}\n{printed}"
    );
    assert_eq!(again.to_string(), printed, "reprint of {source:?} differs");
    printed
}

#[test]
fn the_design_listing_parses_without_diagnostics() {
    insta::assert_snapshot!(reads_as(include_str!("programs/design_listing.tl")));
}

#[test]
fn precedence_and_juxtaposition() {
    insta::assert_snapshot!(reads_as(
        "A = W[i] X[i] + B[i] * C[i]\n\
         B = -x^2\n\
         C = 2^-1\n\
         D = a / b c\n\
         E = a - b - c\n\
         F = a ^ b ^ c\n\
         G = x < y && y <= z || !w\n\
         H = Q[p, k] K[p', k] / sqrt(64)\n\
         I = 2 X[i] (Y[i] + 1)\n"
    ));
}

#[test]
fn indices_primes_dots_slices_and_arithmetic() {
    insta::assert_snapshot!(reads_as(
        "Comp[p, p'.] = softmax(S[p, p'])\n\
         X[i, t+1] = X[i, t-1]\n\
         Pool[x/2, y/2] max= F[x, y]\n\
         Part = X[4:8]\n\
         Head = X[:3, 0]\n\
         Tail = X[2:]\n\
         All = X[:]\n\
         Twice[i''] = X[i'']\n"
    ));
}

#[test]
fn accumulation_operators() {
    insta::assert_snapshot!(reads_as(
        "Y[i] = A[i]\nY[i] += A[i]\nM max= A[i]\nN min= A[i]\nL avg= A[i]\n"
    ));
}

#[test]
fn literals() {
    insta::assert_snapshot!(reads_as(
        "A = [[1, 2], [3, 4]]\nB = 3\nC = 0.25\nD = 1e-3\nE = \"x\\\"y\\n\"\nF = []\nG = true\nH = 1_000\n"
    ));
}

#[test]
fn datalog_facts_rules_and_queries() {
    insta::assert_snapshot!(reads_as(
        "Parent(Alice, Bob).  Parent(Bob, Carol).\n\
         Ancestor(x, y) <- Parent(x, y).\n\
         Ancestor(x, z) ← Ancestor(x, y), Parent(y, z).\n\
         Sibling(x, y) :- Parent(p, x),\n    Parent(p, y).\n\
         HasChild(x) <- Parent(x, _).\n\
         Ancestor(Alice, z)?\n\
         Age(Alice, 42).\n\
         Y? Z[0, j]?\n"
    ));
}

#[test]
fn declarations_and_learning() {
    insta::assert_snapshot!(reads_as(
        "domain People = {Alice, Bob,\n   Carol}\n\
         param W[o: 4, i] = normal(0, 0.1)\n\
         param E[x: People, d: 8] = uniform(low: -1, high: 1)\n\
         param b = zeros()\n\
         minimize Loss with adamw(lr: 0.01, weight_decay: 0) for 200 steps\n"
    ));
}

#[test]
fn functions_and_control_flow() {
    insta::assert_snapshot!(reads_as(
        "fn mlp(x, w) {\n\
         \x20   G[p, f] = w.gate[f, d] x[p, d]\n\
         \x20   let h = relu(G)\n\
         \x20   if n > 2 {\n        return h\n    } else if n == 1 {\n        return G\n    }\n\
         \x20   else {\n        return w.blk.0.attn_q\n    }\n\
         }\n\
         for t in 0..n + 1 {\n    X[i] = step(X[i])\n}\n\
         while k < 10 { let k = k + 1 }\n\
         run(mlp(X, w))\n\
         fn empty() {}\n"
    ));
}

#[test]
fn comments_are_ignored_and_block_comments_nest() {
    insta::assert_snapshot!(reads_as(
        "// a line comment\nA = 1 // trailing\n/* block /* nested */ still comment */ B = 2\n/* multi\nline */\nC = A /* inline */ + B\n"
    ));
}

#[test]
fn statements_end_at_newline_semicolon_or_dot() {
    insta::assert_snapshot!(reads_as(
        "A = 1; B = 2\nC = 3.\nD = (1 +\n 2)\nE = f(1,\n 2)\n"
    ));
}

#[test]
fn spans_cover_the_source_text() {
    let source = "Y[i] = step(W[i, j] X[j])\n";
    let (program, diagnostics) = parse(source);
    assert!(diagnostics.is_empty());
    let StmtKind::Equation(eq) = &program.statements[0].kind else {
        panic!("not an equation");
    };
    assert_eq!(eq.lhs.span.text(source), "Y[i]");
    assert_eq!(eq.op_span.text(source), "=");
    assert_eq!(eq.rhs.span.text(source), "step(W[i, j] X[j])");
    let ExprKind::Call(call) = &eq.rhs.kind else {
        panic!("not a call");
    };
    assert_eq!(call.args[0].value.span.text(source), "W[i, j] X[j]");
    assert_eq!(
        program.statements[0].span.text(source),
        "Y[i] = step(W[i, j] X[j])"
    );
}

#[test]
fn max_as_function_and_max_as_projection_are_told_apart() {
    insta::assert_snapshot!(reads_as(
        "M[i] max= max(A[i], B[i]) min(A[i], 0)\nm = max(a, b)\n"
    ));
}
