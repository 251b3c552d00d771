//! The front end in one call: parse, then check; what the CLI and the REPL use.

use crate::ast::Program;
use crate::check::{check, Checked};
use crate::diagnostic::Diagnostic;
use crate::environment::Environment;
use crate::parser::parse;

/// A parsed and checked program.
#[derive(Debug)]
pub struct Analysis {
    pub program: Program,
    pub checked: Checked,
    /// Syntax errors, or else what checking found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Parses and checks `source`. A program with syntax errors is not checked: statements
/// that failed to parse would show up as missing definitions and bury the real errors.
pub fn analyze(source: &str, environment: &dyn Environment) -> Analysis {
    let (program, syntax) = parse(source);
    if !syntax.is_empty() {
        return Analysis {
            program,
            checked: Checked::default(),
            diagnostics: syntax,
        };
    }
    let checked = check(&program, environment);
    let diagnostics = checked.diagnostics.clone();
    Analysis {
        program,
        checked,
        diagnostics,
    }
}
