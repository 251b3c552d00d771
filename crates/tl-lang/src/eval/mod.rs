//! Evaluation: running checked programs on a `tl_tensor::Device`.
//!
//! [`Evaluator::run`] plans every top-level definition, orders them by their dependencies
//! ([`schedule`]), evaluates recursive components to a fixpoint ([`fixpoint`]: semi-naive
//! for Datalog, iteration to convergence otherwise), then runs queries, `print`, `save`,
//! loops and calls in program order ([`procedure`]). Relations are stored as
//! [`relation::Relation`]s; files are read and written by [`tensor_files`]. Programs whose
//! facts name 10,000 symbols or more run on the sparse engine instead ([`sparse_datalog`]).

pub mod csv_file;
mod definitions;
pub mod error;
pub mod evaluator;
pub mod execute;
pub mod file_environment;
mod fixpoint;
mod inputs;
pub mod npy_file;
pub mod output;
mod procedure;
pub mod relation;
pub mod run_source;
pub mod schedule;
pub mod sparse_datalog;
pub mod tensor_files;
pub mod value;

pub use error::{run_codes, EvalError};
pub use evaluator::{EvalOptions, Evaluator, RunLog};
pub use file_environment::FileEnvironment;
pub use relation::Relation;
pub use run_source::{
    check_source, explain_source, run_source, run_source_from, run_source_with_host, RunFailure,
    RunResult,
};
pub use value::Value;
