//! The TensorLogic language: syntax, checking, einsum planning and evaluation.

pub mod analysis;
pub mod ast;
pub mod builtins;
pub mod check;
pub mod codes;
pub mod constant;
pub mod diagnostic;
pub mod environment;
pub mod eval;
pub mod index_form;
pub mod lexer;
pub mod parser;
pub mod plan;
pub mod planner;
pub mod pretty;
pub mod render;
pub mod span;
pub mod sparse;
pub mod token;

pub use analysis::{analyze, Analysis};
pub use diagnostic::{Diagnostic, Label, Severity};
pub use parser::parse;
pub use plan::{explain, Plan};
pub use planner::{
    plan_equation, plan_param, plan_program, plan_query, plan_rule, plan_tensor_query, PlanEnv,
    ProgramEnv,
};
pub use render::{render, render_all, RenderOptions};
pub use span::Span;
