//! The written reference (`docs/language.md`) keeps up with the code: it lists every
//! builtin and every diagnostic code, and its examples parse.

use tl_lang::builtins::BUILTINS;
use tl_lang::codes;

const REFERENCE: &str = include_str!("../../../docs/language.md");

#[test]
fn every_builtin_is_documented() {
    for builtin in BUILTINS {
        assert!(
            REFERENCE.contains(&format!("`{}(", builtin.name)),
            "docs/language.md does not describe `{}`",
            builtin.name
        );
    }
}

#[test]
fn every_code_is_documented_with_its_title() {
    for info in codes::ALL {
        let row = format!("| {} | {} |", info.code, info.title);
        assert!(
            REFERENCE.contains(&row),
            "docs/language.md lacks the row `{row}`"
        );
    }
}

#[test]
fn the_first_example_parses() {
    let start = REFERENCE.find("```\n").expect("an example") + 4;
    let end = start + REFERENCE[start..].find("```").expect("its end");
    let (_, diagnostics) = tl_lang::parse(&REFERENCE[start..end]);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
}

#[test]
fn every_run_time_code_is_documented_with_its_title() {
    for (code, title) in tl_lang::eval::run_codes::ALL {
        let row = format!("| {code} | {title} |");
        assert!(
            REFERENCE.contains(&row),
            "docs/language.md lacks the row `{row}`"
        );
    }
}
