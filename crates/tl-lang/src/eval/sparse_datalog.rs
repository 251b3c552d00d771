//! Datalog over large symbol domains: a program whose facts name at least
//! [`SPARSE_SYMBOLS`] symbols keeps its relations as sorted tuples and runs its rules and
//! queries on the sparse engine ([`crate::sparse`]), so that no relation becomes a dense
//! `symbols × symbols` tensor.

use super::error::{run_codes, EvalError};
use super::evaluator::Evaluator;
use super::output::format_answers;
use super::relation::sort_tuples;
use crate::ast::{Program, Query, StmtKind};
use crate::span::Span;
use crate::sparse::{FixpointLimits, SparseError, SparseProgram};

/// From this many distinct symbols on, relations are stored sparsely.
pub const SPARSE_SYMBOLS: usize = 10_000;

/// The sparse engine's program for `program` when its facts name at least
/// [`SPARSE_SYMBOLS`] symbols; `None` when dense relations serve.
pub fn large_domain(program: &Program) -> Result<Option<SparseProgram>, EvalError> {
    let has_facts = program
        .statements
        .iter()
        .any(|s| matches!(s.kind, StmtKind::Fact(_)));
    if !has_facts {
        return Ok(None);
    }
    let sparse = SparseProgram::from_program(program).map_err(sparse_error)?;
    Ok((sparse.symbols().len() >= SPARSE_SYMBOLS).then_some(sparse))
}

fn sparse_error(error: SparseError) -> EvalError {
    let span = error.span().unwrap_or(Span::new(0, 0));
    EvalError::new(run_codes::TOO_LARGE, error.to_string(), span, "here")
}

impl Evaluator {
    /// Runs a Datalog program over a large domain: every relation to its least fixpoint,
    /// then each query, printed as the dense path prints it. Statements other than facts,
    /// rules, queries on relations and domains would need the relations as tensors: an
    /// error names the first.
    pub fn run_sparse(
        &mut self,
        program: &Program,
        sparse: &SparseProgram,
    ) -> Result<(), EvalError> {
        if let Some(statement) = program.statements.iter().find(|s| {
            !matches!(
                s.kind,
                StmtKind::Fact(_)
                    | StmtKind::Rule(_)
                    | StmtKind::Domain(_)
                    | StmtKind::Query(Query::Atom(_))
            )
        }) {
            return Err(EvalError::new(
                run_codes::TOO_LARGE,
                format!(
                    "this program's relations range over {} symbols, so they are stored as sparse tuples, which tensor statements cannot read yet",
                    sparse.symbols().len()
                ),
                statement.span,
                "a statement that needs dense tensors",
            )
            .with_help(format!(
                "keep programs over {SPARSE_SYMBOLS} or more symbols to facts, rules and queries"
            )));
        }
        let relations = sparse
            .fixpoint(&FixpointLimits::default())
            .map_err(sparse_error)?;
        for statement in &program.statements {
            let StmtKind::Query(Query::Atom(atom)) = &statement.kind else {
                continue;
            };
            let answer = sparse.answer(&relations, atom).map_err(sparse_error)?;
            let mut tuples = answer.names(sparse.symbols());
            sort_tuples(&mut tuples);
            let text = format!("{atom}?");
            self.emit(
                statement.span,
                format_answers(&text, &answer.variables, &tuples),
            );
        }
        Ok(())
    }
}
