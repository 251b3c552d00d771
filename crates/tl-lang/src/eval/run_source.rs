//! Program text in, results out: parse, check (with `load` shapes read from the files) and
//! evaluate — what `tl run`, the REPL and the tests call.

use super::evaluator::{EvalOptions, Evaluator};
use super::file_environment::FileEnvironment;
use crate::analysis::{analyze, Analysis};
use crate::diagnostic::Diagnostic;
use crate::environment::TensorInfo;
use std::path::Path;
use tl_tensor::{DType, Device, Tensor};

/// A program that ran: the evaluator holds every tensor and relation, and the log.
pub struct RunResult {
    pub analysis: Analysis,
    pub evaluator: Evaluator,
}

/// Why a program did not run to its end.
pub enum RunFailure {
    /// Syntax or checking errors (warnings may be among them); nothing ran.
    Check(Vec<Diagnostic>),
    /// A run-time error; the evaluator holds what was computed and printed before it.
    Run {
        diagnostic: Diagnostic,
        evaluator: Box<Evaluator>,
    },
}

impl RunFailure {
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            RunFailure::Check(diagnostics) => diagnostics.clone(),
            RunFailure::Run { diagnostic, .. } => vec![diagnostic.clone()],
        }
    }
}

impl std::fmt::Debug for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for diagnostic in self.diagnostics() {
            writeln!(f, "[{}] {}", diagnostic.code, diagnostic.message)?;
        }
        Ok(())
    }
}

/// Checks `source` against the files under `base` (the program's directory).
pub fn check_source(source: &str, base: &Path) -> Analysis {
    analyze(source, &FileEnvironment::new(base))
}

/// Runs `source`, with `load` and `save` paths relative to `base`.
pub fn run_source(
    source: &str,
    base: &Path,
    device: Device,
    options: EvalOptions,
) -> Result<RunResult, RunFailure> {
    run_source_from(source, base, device, options, 0)
}

/// As [`run_source`], recording output only for statements from byte `quiet_before` on.
pub fn run_source_from(
    source: &str,
    base: &Path,
    device: Device,
    options: EvalOptions,
    quiet_before: usize,
) -> Result<RunResult, RunFailure> {
    run_source_with_host(source, base, device, options, quiet_before, &[])
}

/// As [`run_source_from`], with tensors the host supplies by name (inputs, weights).
pub fn run_source_with_host(
    source: &str,
    base: &Path,
    device: Device,
    options: EvalOptions,
    quiet_before: usize,
    host: &[(String, Tensor)],
) -> Result<RunResult, RunFailure> {
    let infos = host
        .iter()
        .map(|(name, tensor)| (name.clone(), TensorInfo::new(tensor.shape(), DType::F32)))
        .collect();
    let analysis = analyze(source, &FileEnvironment::new(base).with_host(infos));
    if analysis.has_errors() {
        return Err(RunFailure::Check(analysis.diagnostics));
    }
    let mut evaluator = Evaluator::new(device, base, options);
    evaluator.set_quiet_before(quiet_before);
    for (name, tensor) in host {
        evaluator.set_tensor(name, tensor.clone());
    }
    let outcome = match super::sparse_datalog::large_domain(&analysis.program) {
        Ok(Some(sparse)) => evaluator.run_sparse(&analysis.program, &sparse),
        Ok(None) => evaluator.run(&analysis.program, &analysis.checked),
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => Ok(RunResult {
            analysis,
            evaluator,
        }),
        Err(error) => Err(RunFailure::Run {
            diagnostic: error.to_diagnostic(),
            evaluator: Box::new(evaluator),
        }),
    }
}

/// The plan of every top-level equation, rule, parameter and query of `source`, as
/// `tl run --explain` prints them; or the diagnostics that stop it.
pub fn explain_source(source: &str, base: &Path) -> Result<String, Vec<Diagnostic>> {
    let environment = FileEnvironment::new(base);
    let analysis = analyze(source, &environment);
    if analysis.has_errors() {
        return Err(analysis.diagnostics);
    }
    let mut text = String::new();
    let mut failures = Vec::new();
    for planned in crate::planner::plan_program(&analysis.program, &analysis.checked, &environment)
    {
        match planned.plan {
            Ok(plan) => {
                text.push_str(&crate::plan::explain(&plan));
                text.push('\n');
            }
            Err(diagnostic) => match late_equation(&analysis, planned.span) {
                Some(note) => {
                    text.push_str(&note);
                    text.push('\n');
                }
                None => failures.push(diagnostic),
            },
        }
    }
    if failures.is_empty() {
        Ok(text)
    } else {
        Err(failures)
    }
}

/// For an equation that is planned only when the program runs (it reads a run-time `let`),
/// the line `--explain` prints in place of its plan.
fn late_equation(analysis: &Analysis, span: crate::span::Span) -> Option<String> {
    let statement = analysis
        .program
        .statements
        .iter()
        .find(|s| s.span == span)?;
    let crate::ast::StmtKind::Equation(eq) = &statement.kind else {
        return None;
    };
    let functions = analysis
        .program
        .statements
        .iter()
        .filter_map(|s| match &s.kind {
            crate::ast::StmtKind::Function(f) => Some((f.name.text.clone(), f.clone())),
            _ => None,
        })
        .collect();
    let mut reads = Vec::new();
    super::definitions::expression_reads(
        &eq.rhs,
        &functions,
        &mut std::collections::HashSet::new(),
        &mut reads,
    );
    let runtime = reads
        .iter()
        .find(|r| analysis.checked.runtime_names.contains(*r))?;
    Some(format!(
        "plan {} {} {}\n  planned when the program runs: it reads the run-time value `{runtime}`\n",
        eq.lhs,
        eq.op.symbol(),
        eq.rhs
    ))
}
