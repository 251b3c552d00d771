//! No input makes the front end panic: random text and random token sequences go through
//! parsing, checking, planning and rendering, and whatever parses prints back stably.

use proptest::prelude::*;
use tl_lang::ast::{Query, Stmt, StmtKind};
use tl_lang::environment::MapEnvironment;
use tl_lang::environment::TensorInfo;
use tl_lang::{
    analyze, explain, parse, plan_equation, plan_program, plan_query, plan_rule, plan_tensor_query,
    render_all, PlanEnv, RenderOptions,
};

fn environment() -> MapEnvironment {
    MapEnvironment::new()
        .with_tensor("X", &[3])
        .with_tensor("W", &[3, 3])
        .with_tensor("V", &[4, 3])
        .with_tensor("S", &[2, 3, 3])
        .with_load("f.npy", None, &[3, 3])
}

/// Everything a host would do with a program; must never panic.
fn exercise(source: &str) {
    let env = environment();
    let analysis = analyze(source, &env);
    let options = RenderOptions {
        color: false,
        ascii: false,
    };
    // Rendering shows whole lines; a few reports are enough to exercise it.
    let shown = analysis.diagnostics.len().min(20);
    let _ = render_all(&analysis.diagnostics[..shown], "fuzz.tl", source, options);
    if !analysis.has_errors() {
        for planned in plan_program(&analysis.program, &analysis.checked, &env) {
            match planned.plan {
                Ok(plan) => {
                    assert!(
                        plan.validate().is_ok(),
                        "invalid plan for {source:?}:\n{}",
                        explain(&plan)
                    );
                    let _ = explain(&plan);
                }
                Err(d) => {
                    let _ = render_all(&[d], "fuzz.tl", source, options);
                }
            }
        }
    }
    // The planner alone, as the interpreter uses it inside functions: without the
    // checker's guarantees, on shapes that need not agree.
    let (program, _) = parse(source);
    plan_unchecked(&program.statements);

    // A program that parses prints to text that parses to the same print.
    let (program, syntax) = parse(source);
    if syntax.is_empty() {
        let printed = program.to_string();
        let (again, errors) = parse(&printed);
        assert!(
            errors.is_empty(),
            "reprint of {source:?} fails: {errors:?}\n{printed}"
        );
        assert_eq!(again.to_string(), printed, "unstable print of {source:?}");
    }
}

/// Shapes as a function body might see them: some consistent, some not.
struct LooseEnv;

impl PlanEnv for LooseEnv {
    fn tensor(&self, name: &str) -> Option<TensorInfo> {
        let shape: &[usize] = match name {
            "X" => &[3],
            "W" => &[3, 3],
            "V" => &[4, 3],
            "S" => &[2, 3, 3],
            "Y" => &[3, 4],
            "Z" => &[],
            "Parent" | "Ancestor" => &[2, 2],
            _ => return None,
        };
        Some(TensorInfo::f32(shape))
    }
    fn constant(&self, name: &str) -> Option<f64> {
        (name == "k").then_some(2.0)
    }
    fn is_runtime(&self, name: &str) -> bool {
        name == "t"
    }
    fn is_symbol(&self, name: &str) -> bool {
        name == "Alice" || name == "Bob"
    }
    fn symbol_position(&self, _: &str, _: usize, symbol: &str) -> Option<usize> {
        match symbol {
            "Alice" => Some(0),
            "Bob" => Some(1),
            _ => None,
        }
    }
}

fn plan_unchecked(statements: &[Stmt]) {
    for statement in statements {
        let plan = match &statement.kind {
            StmtKind::Equation(eq) => plan_equation(eq, &LooseEnv),
            StmtKind::Rule(rule) => plan_rule(rule, &LooseEnv),
            StmtKind::Query(Query::Atom(atom)) => plan_query(atom, &LooseEnv),
            StmtKind::Query(Query::Tensor(tensor)) => plan_tensor_query(tensor, &LooseEnv),
            StmtKind::Function(function) => {
                plan_unchecked(&function.body.statements);
                continue;
            }
            StmtKind::For { body, .. } | StmtKind::While { body, .. } => {
                plan_unchecked(&body.statements);
                continue;
            }
            _ => continue,
        };
        if let Ok(plan) = plan {
            assert!(plan.validate().is_ok(), "invalid plan:\n{}", explain(&plan));
        }
    }
}

const WORDS: &[&str] = &[
    "Y",
    "X",
    "W",
    "V",
    "S",
    "Z",
    "i",
    "j",
    "k",
    "p'",
    "t",
    "x",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ",",
    ".",
    "=",
    "+=",
    "max=",
    "min=",
    "avg=",
    "+",
    "-",
    "*",
    "/",
    "^",
    "?",
    "<-",
    ":-",
    "←",
    "relu",
    "softmax",
    "step",
    "sqrt",
    "rms_norm",
    "load",
    "\"f.npy\"",
    "0",
    "1",
    "2",
    "2.5",
    "1e-3",
    "fn",
    "let",
    "if",
    "else",
    "for",
    "in",
    "..",
    "while",
    "return",
    "param",
    "domain",
    "minimize",
    "with",
    "adamw",
    "lr",
    ":",
    "steps",
    "\n",
    ";",
    "Alice",
    "Bob",
    "_",
    "// c\n",
    "/*",
    "*/",
    "t+1",
    "x/2",
    "i.",
    "normal",
    "zeros",
    "==",
    "<",
    "&&",
    "!",
    "\"",
    "'",
    "@",
    "Parent",
    "Ancestor",
    "Parent(Alice, Bob).",
    "Y[i] = W[i, j] X[j]",
    "Comp[p, p'.] =",
];

fn token_program() -> impl Strategy<Value = String> {
    prop::collection::vec((0..WORDS.len(), prop::bool::ANY), 0..40).prop_map(|tokens| {
        let mut text = String::new();
        for (word, glued) in tokens {
            if !glued {
                text.push(' ');
            }
            text.push_str(WORDS[word]);
        }
        text
    })
}

const NAMES: &[&str] = &["X", "W", "V", "S", "Y", "Z", "Parent", "Q"];
const INDICES: &[&str] = &[
    "i", "j", "k", "t", "p'", "i+1", "j-1", "i/2", "0", "1", "5", "Alice", "2*i", "1:2", ":", "i.",
    "j.", "-1",
];
const OPERATORS: &[&str] = &[" ", " * ", " + ", " - ", " / ", " ^ ", " "];
const ASSIGNS: &[&str] = &[" = ", " += ", " max= ", " min= ", " avg= "];

fn tensor_ref() -> impl Strategy<Value = String> {
    (
        prop::sample::select(NAMES),
        prop::option::weighted(
            0.85,
            prop::collection::vec(prop::sample::select(INDICES), 0..4),
        ),
    )
        .prop_map(|(name, indices)| match indices {
            Some(list) => format!("{name}[{}]", list.join(", ")),
            None => name.to_string(),
        })
}

fn factor() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => tensor_ref(),
        1 => prop::sample::select(vec!["2", "0.5", "sqrt(64)", "k"]).prop_map(str::to_string),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec!["relu", "step", "softmax", "exp", "log_softmax"]),
                inner.clone()
            )
                .prop_map(|(f, x)| format!("{f}({x})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("max({a}, {b})")),
            (
                inner.clone(),
                prop::sample::select(OPERATORS),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a}{op}{b})")),
            (inner.clone(), tensor_ref()).prop_map(|(x, w)| format!("rms_norm({x}, {w})")),
        ]
    })
}

fn equation_program() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            tensor_ref(),
            prop::sample::select(ASSIGNS),
            prop::collection::vec((factor(), prop::sample::select(OPERATORS)), 1..4),
        ),
        1..4,
    )
    .prop_map(|equations| {
        let mut text = String::new();
        for (lhs, assign, terms) in equations {
            text.push_str(&lhs);
            text.push_str(assign);
            for (i, (factor, op)) in terms.iter().enumerate() {
                if i > 0 {
                    text.push_str(op);
                }
                text.push_str(factor);
            }
            text.push('\n');
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(source in "\\PC{0,80}") {
        exercise(&source);
    }

    #[test]
    fn random_ascii_never_panics(source in "[ -~\n]{0,120}") {
        exercise(&source);
    }

    #[test]
    fn random_token_sequences_never_panic(source in token_program()) {
        exercise(&source);
    }

    #[test]
    fn random_equations_never_panic(source in equation_program()) {
        exercise(&source);
    }
}

/// The tensors `environment()` supplies, as literals, so that the evaluator can run.
const INPUTS: &str = "X = [1, -2, 3]\nW = [[1, 0, 2], [0, 1, 0], [-1, 0, 1]]\n\
    V = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 1, 0]]\n\
    S = [[[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[0, 1, 0], [1, 0, 1], [0, 0, 1]]]\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    /// Running what checks never panics: errors (non-convergence, bad values) are values.
    #[test]
    fn random_equations_evaluate_without_panicking(equations in equation_program()) {
        let source = format!("{INPUTS}{equations}");
        let options = tl_lang::eval::EvalOptions { max_iterations: 20, tolerance: 1e-6 };
        let outcome = tl_lang::eval::run_source(
            &source,
            std::path::Path::new("."),
            tl_tensor::Device::cpu_with_threads(1),
            options,
        );
        if let Err(failure) = outcome {
            for diagnostic in failure.diagnostics() {
                prop_assert!(diagnostic.labels.iter().all(|l| l.span.end <= source.len()));
                let _ = tl_lang::render(&diagnostic, "fuzz.tl", &source, RenderOptions::default());
            }
        }
    }
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let cases = [
        format!("Y = {}1{}", "(".repeat(100_000), ")".repeat(100_000)),
        format!("Y = {}", "-".repeat(100_000)),
        format!("Y = 1{}", " + 1".repeat(100_000)),
        format!("Y = 2{}", " ^ 2".repeat(100_000)),
        format!("Y = {}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("{}Y = 1{}", "fn f() {\n".repeat(10_000), "}".repeat(10_000)),
        format!("Y[{}]", "i,".repeat(100_000)),
        "Y = 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1".repeat(1000),
    ];
    // Run on a small stack, as a test thread or an embedding host might.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for source in &cases {
                exercise(source);
            }
        })
        .expect("thread");
    handle.join().expect("no stack overflow or panic");
}

#[test]
fn the_design_listing_checks_and_plans_without_panicking() {
    exercise(include_str!("programs/design_listing.tl"));
}
