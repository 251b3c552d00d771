//! Errors raised while a program runs: each names the statement (by span) and the cause,
//! and turns into a [`Diagnostic`] the CLI renders like any checking error.

use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Run-time diagnostic codes. They are kept apart from [`crate::codes`], whose every entry
/// is reported by the checker before a program runs.
pub mod run_codes {
    /// A tensor operation failed while running (shapes that changed, a device error).
    pub const TENSOR_FAILURE: &str = "E0701";
    /// A recursive component that did not reach its fixpoint within the iteration limit.
    pub const NOT_CONVERGED: &str = "E0702";
    /// A file that cannot be read or written.
    pub const FILE: &str = "E0703";
    /// A tensor name that the file does not hold.
    pub const MISSING_TENSOR: &str = "E0704";
    /// A value of the wrong kind (a tensor where a number is needed, an unknown field).
    pub const WRONG_VALUE: &str = "E0705";
    /// A dense relation or tensor larger than the evaluator may allocate.
    pub const TOO_LARGE: &str = "E0706";

    /// Every run-time code with its title, for the reference and the snapshot tests.
    pub const ALL: &[(&str, &str)] = &[
        (
            TENSOR_FAILURE,
            "a tensor operation that failed while running",
        ),
        (NOT_CONVERGED, "a recursive component that did not converge"),
        (FILE, "a file that cannot be read or written"),
        (MISSING_TENSOR, "a tensor name the file does not hold"),
        (WRONG_VALUE, "a value of the wrong kind at run time"),
        (TOO_LARGE, "a dense tensor larger than the allocation limit"),
    ];
}

/// A run-time error at a place in the program.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("[{code}] {message}")]
pub struct EvalError {
    pub code: &'static str,
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
}

impl EvalError {
    pub fn new(
        code: &'static str,
        message: impl Into<String>,
        span: Span,
        label: impl Into<String>,
    ) -> EvalError {
        EvalError {
            code,
            message: message.into(),
            span,
            label: label.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> EvalError {
        self.help = Some(help.into());
        self
    }

    /// A failed tensor operation while running the statement at `span`.
    pub fn tensor(span: Span, what: &str, error: impl std::fmt::Display) -> EvalError {
        EvalError::new(
            run_codes::TENSOR_FAILURE,
            format!("{what}: {error}"),
            span,
            "while running this",
        )
    }

    /// A value of the wrong kind.
    pub fn value(span: Span, message: impl Into<String>) -> EvalError {
        EvalError::new(run_codes::WRONG_VALUE, message, span, "here")
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        let diagnostic = Diagnostic::error(self.code, self.message.clone(), self.span, &self.label);
        match &self.help {
            Some(help) => diagnostic.with_help(help.clone()),
            None => diagnostic,
        }
    }
}

impl From<Diagnostic> for EvalError {
    fn from(diagnostic: Diagnostic) -> EvalError {
        let label = diagnostic
            .labels
            .iter()
            .find(|l| l.primary)
            .map(|l| l.message.clone())
            .unwrap_or_default();
        EvalError {
            code: diagnostic.code,
            message: diagnostic.message.clone(),
            span: diagnostic.primary_span(),
            label,
            help: diagnostic.help.clone(),
        }
    }
}
