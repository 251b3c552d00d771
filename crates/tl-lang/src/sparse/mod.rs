//! Sparse Boolean relations for Datalog over large symbol domains: relations as sorted
//! tuples of symbol ids, joined through sorted/CSR indexes, and a semi-naive fixpoint for a
//! set of rules — memory grows with the number of tuples, never with the square of a
//! domain.
//!
//! ```
//! use std::collections::HashMap;
//! use tl_lang::sparse::{FixpointLimits, SparseProgram};
//!
//! let (program, errors) = tl_lang::parse(
//!     "Parent(Ann, Bob).\nParent(Bob, Cal).\n\
//!      Ancestor(x, y) <- Parent(x, y).\nAncestor(x, z) <- Ancestor(x, y), Parent(y, z).\n",
//! );
//! assert!(errors.is_empty());
//! let sparse = SparseProgram::from_program(&program).unwrap();
//! let relations = sparse.fixpoint(&FixpointLimits::default()).unwrap();
//! assert_eq!(relations["Ancestor"].len(), 3);
//! ```

mod bindings;
mod compiled;
mod components;
mod error;
mod index;
mod limits;
mod program;
mod query;
mod relation;
mod semi_naive;
mod sort;
mod symbols;

pub use error::SparseError;
pub use index::RelationIndex;
pub use limits::FixpointLimits;
pub use program::SparseProgram;
pub use query::QueryAnswer;
pub use relation::SparseRelation;
pub use symbols::SymbolTable;
