//! No input makes the front end panic: random text and random token sequences go through
//! parsing, checking, planning and rendering, and whatever parses prints back stably.

use proptest::prelude::*;
use tl_lang::environment::MapEnvironment;
use tl_lang::{analyze, explain, parse, plan_program, render_all, RenderOptions};

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
