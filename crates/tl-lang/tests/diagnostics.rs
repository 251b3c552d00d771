//! Every diagnostic code, provoked by a small program and rendered as the CLI shows it
//! (colour off): the snapshots are the error messages users see.

use tl_lang::codes;
use tl_lang::environment::MapEnvironment;
use tl_lang::{analyze, plan_program, render_all, Diagnostic, RenderOptions};

/// Host tensors the examples may use.
fn environment() -> MapEnvironment {
    MapEnvironment::new()
        .with_tensor("X", &[5])
        .with_tensor("W", &[4, 3])
        .with_tensor("V", &[5, 3])
        .with_tensor("S", &[4, 4])
        .with_tensor("F", &[5])
        .with_load("emb.npy", None, &[10, 4])
}

/// Syntax errors, else checking errors, else planning errors.
fn diagnose(source: &str) -> Vec<Diagnostic> {
    let env = environment();
    let analysis = analyze(source, &env);
    if analysis.has_errors() {
        return analysis.diagnostics;
    }
    plan_program(&analysis.program, &analysis.checked, &env)
        .into_iter()
        .filter_map(|p| p.plan.err())
        .collect()
}

/// `(code, program)`: a program whose first diagnostic has the code.
fn examples() -> Vec<(&'static str, String)> {
    vec![
        (codes::UNEXPECTED_CHARACTER, "Y = X[i] @ 2\n".into()),
        (codes::UNTERMINATED_STRING, "E = load(\"emb.npy)\n".into()),
        (codes::UNTERMINATED_COMMENT, "Y[i] = X[i]\n/* the rest\nZ = Y\n".into()),
        (codes::MALFORMED_NUMBER, "Y[i] = 1e+ X[i]\n".into()),
        (codes::UNKNOWN_ESCAPE, "E = load(\"emb\\q.npy\")\n".into()),
        (codes::UNEXPECTED_TOKEN, "Y[i] = W[i, j] X[j]]\nZ[i] = = X[i]\n".into()),
        (codes::UNCLOSED_DELIMITER, "Y[i] = relu(W[i, j] X[j]\n".into()),
        (codes::INVALID_TARGET, "W[i, j] X[j] = Y[i]\n".into()),
        (codes::INVALID_ATOM, "Parent(Alice, f(Bob)).\n".into()),
        (codes::TOO_DEEP, format!("Y = {}1{}\n", "(".repeat(200), ")".repeat(200))),
        (codes::UNDEFINED_TENSOR, "Y[i] = W[i, j] Xs[j]\n".into()),
        (codes::UNKNOWN_FUNCTION, "Y[i] = rellu(X[i])\n".into()),
        (codes::UNDEFINED_VARIABLE, "fn scale(x) {\n    return x * factor\n}\n".into()),
        (codes::DUPLICATE_DEFINITION, "fn f(a) { return a }\nfn f(b) { return b }\n".into()),
        (codes::RETURN_OUTSIDE_FUNCTION, "Y[i] = X[i]\nreturn Y\n".into()),
        (codes::MISPLACED_BUILTIN, "Y[i] = normal(0, 1) X[i]\n".into()),
        (codes::EXPRESSION_STATEMENT, "relu(X)\n".into()),
        (codes::WRONG_ARGUMENT_COUNT, "Y[i] = relu(X[i], X[i])\n".into()),
        (
            codes::UNKNOWN_ARGUMENT,
            "param P[o: 2] = zeros()\nLoss = P[o] P[o]\nminimize Loss with adamw(lr: 0.1, momentum: 0.9) for 10 steps\n".into(),
        ),
        (codes::DUPLICATE_ARGUMENT, "param P[o: 2] = normal(0, std: 1, mean: 2)\n".into()),
        (codes::INVALID_ARGUMENT, "param P[o: 2] = normal(0, X)\n".into()),
        (codes::INDEX_SIZE_MISMATCH, "Y[i] = W[i, j] X[j]\n".into()),
        (codes::RANK_MISMATCH, "A[i] = V[i, j] X[i]\nB[i] = V[i] X[i]\n".into()),
        (codes::UNKNOWN_INDEX_SIZE, "Y[i, k] = X[i]\n".into()),
        (codes::UNSUPPORTED_INDEX, "Y[i] = X[2 * i]\n".into()),
        (codes::MISPLACED_SLICE, "Y[i] = V[i, 1:3]\n".into()),
        (codes::NO_NORMALISATION_AXIS, "P[i, j] = softmax(S[i, j])\n".into()),
        (codes::SEVERAL_NORMALISATION_AXES, "P[i., j.] = softmax(S[i, j])\n".into()),
        (codes::MISSING_INDICES, "Y[i] = X[i] + W\n".into()),
        (codes::SHAPE_MISMATCH, "L = [[1, 2, 3], [4, 5]]\n".into()),
        (codes::INDEX_OUT_OF_RANGE, "Row = V[7]\n".into()),
        (codes::NON_GROUND_FACT, "Parent(Alice, x).\n".into()),
        (codes::UNSAFE_RULE, "Parent(Alice, Bob).\nAncestor(x, z) <- Parent(x, y).\n".into()),
        (
            codes::SYMBOL_NOT_IN_DOMAIN,
            "domain People = {Alice, Bob, Carol}\nParent(Alice, Bob).\nParent(Bob, Dave).\n".into(),
        ),
        (
            codes::CONFLICTING_DOMAINS,
            "domain People = {Alice, Bob}\ndomain Pets = {Rex}\nOwns(Alice, Rex).\nOwns(Rex, Bob).\n".into(),
        ),
        (
            codes::INVALID_LOSS,
            "param P[o: 2, i: 3] = zeros()\nLoss[o] = P[o, i]\nminimize Loss with sgd(lr: 0.1) for 10 steps\n".into(),
        ),
        (codes::NO_PARAMETERS, "Loss = X[i] X[i]\nminimize Loss with sgd(lr: 0.1) for 10 steps\n".into()),
        (codes::INVALID_INIT, "param P[i] = X[i]\n".into()),
        (codes::INDIVISIBLE_POOLING, "Pool[x/2] max= F[x]\n".into()),
        (codes::UNPLANNABLE, "M max= X\n".into()),
    ]
}

#[test]
fn every_code_has_an_example() {
    let covered: Vec<&str> = examples().iter().map(|(code, _)| *code).collect();
    for info in codes::ALL {
        assert!(
            covered.contains(&info.code),
            "no example for {} ({})",
            info.code,
            info.title
        );
    }
    assert_eq!(covered.len(), codes::ALL.len(), "one example per code");
}

#[test]
fn each_example_reports_its_code() {
    for (code, source) in examples() {
        let diagnostics = diagnose(&source);
        assert!(
            diagnostics.first().is_some_and(|d| d.code == code),
            "{code}: expected it first, got {:?}",
            diagnostics
                .iter()
                .map(|d| (d.code, &d.message))
                .collect::<Vec<_>>()
        );
        for d in &diagnostics {
            assert!(
                d.labels.iter().filter(|l| l.primary).count() == 1,
                "{code}: one primary label"
            );
            for label in &d.labels {
                assert!(label.span.end <= source.len(), "{code}: label past the end");
            }
        }
    }
}

#[test]
fn rendered_diagnostics() {
    let options = RenderOptions {
        color: false,
        ascii: false,
    };
    for (code, source) in examples() {
        let rendered = render_all(&diagnose(&source), "example.tl", &source, options);
        insta::assert_snapshot!(code, format!("{source}\n----\n{rendered}"));
    }
}

#[test]
fn several_syntax_errors_are_all_reported() {
    let source =
        "Y[i] = W[i, j] X[j]]\nZ[i] = = X[i]\nOK[i] = X[i]\nQ[i] = (X[i]\nR = 1\nT = 1 +\n";
    let analysis = analyze(source, &environment());
    let lines: Vec<usize> = analysis
        .diagnostics
        .iter()
        .map(|d| source[..d.primary_span().start].matches('\n').count() + 1)
        .collect();
    assert_eq!(lines, vec![1, 2, 4, 6], "{:?}", analysis.diagnostics);
    // The statement between the errors still parsed.
    assert!(analysis.program.to_string().contains("OK[i] = X[i]"));
}

#[test]
fn mismatches_point_at_both_uses() {
    let source = "Y[i] = W[i, j] X[j]\n";
    let diagnostics = diagnose(source);
    let d = &diagnostics[0];
    assert_eq!(d.code, codes::INDEX_SIZE_MISMATCH);
    let primary = d.labels.iter().find(|l| l.primary).unwrap();
    let secondary = d.labels.iter().find(|l| !l.primary).unwrap();
    assert_eq!(primary.span.text(source), "j");
    assert_eq!(primary.span.start, source.rfind('j').unwrap());
    assert_eq!(secondary.span.start, source.find('j').unwrap());
}

#[test]
fn ascii_rendering() {
    let source = "Y[i] = rellu(X[i])\n";
    let options = RenderOptions {
        color: false,
        ascii: true,
    };
    insta::assert_snapshot!(render_all(&diagnose(source), "example.tl", source, options));
}
