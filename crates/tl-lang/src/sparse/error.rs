//! What can go wrong building or running a sparse Datalog program; every error names the
//! rule (its text and span) or the relation it comes from.

use crate::span::Span;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SparseError {
    #[error("relation `{relation}` is used with {found} arguments in `{rule}`, but has {expected} elsewhere")]
    ArityMismatch {
        relation: String,
        expected: usize,
        found: usize,
        /// The rule, fact or query where the second arity was met.
        rule: String,
        span: Span,
    },

    #[error("the facts given for `{relation}` are not tuples of {arity} symbols")]
    RaggedFacts { relation: String, arity: usize },

    #[error("fact `{fact}` has a variable `{variable}`; facts must be ground")]
    FactWithVariable {
        fact: String,
        variable: String,
        span: Span,
    },

    #[error("fact `{fact}` has a `_`; facts must be ground")]
    FactWithWildcard { fact: String, span: Span },

    #[error("variable `{variable}` of the head of `{rule}` does not occur in its body")]
    UnboundHeadVariable {
        variable: String,
        rule: String,
        span: Span,
    },

    #[error("the head of `{rule}` has a `_`; every head argument must be a variable or a symbol")]
    WildcardInHead { rule: String, span: Span },

    #[error("rule `{rule}` has an empty body")]
    EmptyBody { rule: String, span: Span },

    #[error("relation `{relation}` is neither given facts nor defined by a rule")]
    UnknownRelation { relation: String, span: Span },

    #[error("`{rule}` produced more than {limit} tuples in one step (limit `max_tuples`)")]
    TooManyTuples {
        rule: String,
        span: Span,
        limit: usize,
    },

    #[error("the recursion through {relations:?} (first rule `{rule}`) did not reach its fixpoint within {iterations} iterations")]
    NoFixpoint {
        relations: Vec<String>,
        rule: String,
        span: Span,
        iterations: usize,
    },
}

impl SparseError {
    /// Where in the program the error points (the rule, fact or query).
    pub fn span(&self) -> Option<Span> {
        match self {
            SparseError::RaggedFacts { .. } => None,
            SparseError::ArityMismatch { span, .. }
            | SparseError::FactWithVariable { span, .. }
            | SparseError::FactWithWildcard { span, .. }
            | SparseError::UnboundHeadVariable { span, .. }
            | SparseError::WildcardInHead { span, .. }
            | SparseError::EmptyBody { span, .. }
            | SparseError::UnknownRelation { span, .. }
            | SparseError::TooManyTuples { span, .. }
            | SparseError::NoFixpoint { span, .. } => Some(*span),
        }
    }
}
