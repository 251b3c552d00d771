//! The top-level definitions of a program — facts, rules, parameters, equations and
//! run-time `let`s — each with its plan and the names it reads, for the scheduler.

use super::error::EvalError;
use super::evaluator::Evaluator;
use crate::ast::{
    Block, Equation, Expr, ExprKind, Function, IndexKind, Program, Rule, Stmt, StmtKind,
};
use crate::check::Origin;
use crate::plan::{Plan, Source};
use crate::planner::{plan_equation, plan_param, plan_rule, ProgramEnv};
use crate::span::Span;
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug)]
pub enum DefinitionKind {
    /// The ground facts of a relation (taken from checking).
    Facts,
    Rule {
        plan: Plan,
        rule: Rule,
    },
    Param {
        plan: Plan,
    },
    /// `plan` is `None` when the equation reads a run-time `let` (its shape is known only
    /// once the `let` has run); it is planned then.
    Equation {
        plan: Option<Plan>,
        equation: Equation,
    },
    Let {
        value: Expr,
    },
}

#[derive(Clone, Debug)]
pub struct Definition {
    pub target: String,
    pub span: Span,
    pub kind: DefinitionKind,
    /// Names of other definitions this one reads.
    pub reads: Vec<String>,
}

/// The names a plan reads (not counting its own target's current value).
pub fn plan_reads(plan: &Plan) -> Vec<String> {
    plan.inputs
        .iter()
        .filter_map(|input| match &input.source {
            Source::Tensor(name) | Source::Scalar(name) => Some(name.clone()),
            Source::Position { name, .. } => Some(name.clone()),
            Source::Target(_) | Source::Literal(_) | Source::Load { .. } => None,
        })
        .collect()
}

/// The names an expression reads, including those read by the bodies of the functions it
/// calls.
pub fn expression_reads(
    expr: &Expr,
    functions: &HashMap<String, Function>,
    seen_functions: &mut HashSet<String>,
    out: &mut Vec<String>,
) {
    let recurse = |e: &Expr, seen: &mut HashSet<String>, out: &mut Vec<String>| {
        expression_reads(e, functions, seen, out)
    };
    match &expr.kind {
        ExprKind::Tensor(tensor) => {
            out.push(tensor.name.joined());
            if let Some(first) = tensor.name.segments.first() {
                out.push(first.text.clone());
            }
            for index in tensor.indices.iter().flat_map(|l| &l.items) {
                match &index.kind {
                    IndexKind::Expr(e) => recurse(e, seen_functions, out),
                    IndexKind::Slice { start, end } => {
                        for e in start.iter().chain(end) {
                            recurse(e, seen_functions, out);
                        }
                    }
                }
            }
        }
        ExprKind::Call(call) => {
            if let Some(function) = functions.get(&call.callee.text) {
                if seen_functions.insert(call.callee.text.clone()) {
                    block_reads(&function.body, functions, seen_functions, out);
                }
            }
            for arg in &call.args {
                recurse(&arg.value, seen_functions, out);
            }
        }
        ExprKind::List(items) | ExprKind::Join(items) => {
            for item in items {
                recurse(item, seen_functions, out);
            }
        }
        ExprKind::Unary { operand, .. } => recurse(operand, seen_functions, out),
        ExprKind::Paren(inner) => recurse(inner, seen_functions, out),
        ExprKind::Binary { lhs, rhs, .. } => {
            recurse(lhs, seen_functions, out);
            recurse(rhs, seen_functions, out);
        }
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Str(_)
        | ExprKind::Bool(_)
        | ExprKind::Error => {}
    }
}

fn block_reads(
    block: &Block,
    functions: &HashMap<String, Function>,
    seen: &mut HashSet<String>,
    out: &mut Vec<String>,
) {
    for statement in &block.statements {
        statement_reads(statement, functions, seen, out);
    }
}

fn statement_reads(
    statement: &Stmt,
    functions: &HashMap<String, Function>,
    seen: &mut HashSet<String>,
    out: &mut Vec<String>,
) {
    let expr = |e: &Expr, seen: &mut HashSet<String>, out: &mut Vec<String>| {
        expression_reads(e, functions, seen, out)
    };
    match &statement.kind {
        StmtKind::Equation(eq) => expr(&eq.rhs, seen, out),
        StmtKind::Let { value, .. } => expr(value, seen, out),
        StmtKind::Return(Some(value)) | StmtKind::Expr(value) => expr(value, seen, out),
        StmtKind::If(branch) => {
            expr(&branch.condition, seen, out);
            block_reads(&branch.then_block, functions, seen, out);
            if let Some(other) = &branch.else_block {
                block_reads(other, functions, seen, out);
            }
        }
        StmtKind::For {
            start, end, body, ..
        } => {
            expr(start, seen, out);
            expr(end, seen, out);
            block_reads(body, functions, seen, out);
        }
        StmtKind::While { condition, body } => {
            expr(condition, seen, out);
            block_reads(body, functions, seen, out);
        }
        _ => {}
    }
}

/// The first `load` inside `expr` whose file could not be read, as the error to report
/// in place of the planner's "shape not known".
fn load_failure(expr: &Expr, eval: &Evaluator) -> Option<EvalError> {
    let mut found = None;
    visit_calls(expr, &mut |call: &crate::ast::Call| {
        if found.is_some() || call.callee.text != "load" {
            return;
        }
        let Some(builtin) = crate::builtins::lookup("load") else {
            return;
        };
        let Ok(bound) = crate::builtins::bind(builtin, call) else {
            return;
        };
        let text = |key: &str| match bound.get(key).map(|e| &e.kind) {
            Some(ExprKind::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let Some(path) = text("path") else { return };
        let name = text("name");
        if let Some(error) = eval.files.failure(&path, name.as_deref()) {
            let code = if error.is_missing_tensor() {
                super::error::run_codes::MISSING_TENSOR
            } else {
                super::error::run_codes::FILE
            };
            found = Some(EvalError::new(
                code,
                error.to_string(),
                call.callee.span.to(call.args_span),
                "loaded here",
            ));
        }
    });
    found
}

fn visit_calls(expr: &Expr, visit: &mut dyn FnMut(&crate::ast::Call)) {
    match &expr.kind {
        ExprKind::Call(call) => {
            visit(call);
            for arg in &call.args {
                visit_calls(&arg.value, visit);
            }
        }
        ExprKind::List(items) | ExprKind::Join(items) => {
            for item in items {
                visit_calls(item, visit);
            }
        }
        ExprKind::Unary { operand, .. } => visit_calls(operand, visit),
        ExprKind::Paren(inner) => visit_calls(inner, visit),
        ExprKind::Binary { lhs, rhs, .. } => {
            visit_calls(lhs, visit);
            visit_calls(rhs, visit);
        }
        _ => {}
    }
}

/// A planning error, unless a file behind it could not be read: that is the real cause.
fn planning_error(
    diagnostic: crate::diagnostic::Diagnostic,
    expr: &Expr,
    eval: &Evaluator,
) -> EvalError {
    load_failure(expr, eval).unwrap_or_else(|| diagnostic.into())
}

/// The names an equation reads, from its text (for equations planned at run time).
pub fn equation_reads(eq: &Equation, eval: &Evaluator) -> Vec<String> {
    let mut reads = Vec::new();
    let mut seen = HashSet::new();
    expression_reads(&eq.rhs, &eval.functions, &mut seen, &mut reads);
    for index in eq.lhs.indices.iter().flat_map(|l| &l.items) {
        if let IndexKind::Expr(e) = &index.kind {
            expression_reads(e, &eval.functions, &mut seen, &mut reads);
        }
    }
    reads
}

/// Plans every top-level definition of `program` against what checking inferred.
pub fn collect(program: &Program, eval: &Evaluator) -> Result<Vec<Definition>, EvalError> {
    let env = ProgramEnv {
        checked: &eval.checked,
        environment: &eval.files,
    };
    let mut definitions = Vec::new();
    let mut relation_spans: HashMap<String, Span> = HashMap::new();
    for statement in &program.statements {
        let span = statement.span;
        match &statement.kind {
            StmtKind::Fact(atom) => {
                relation_spans
                    .entry(atom.relation.text.clone())
                    .or_insert(span);
            }
            StmtKind::Rule(rule) => {
                relation_spans
                    .entry(rule.head.relation.text.clone())
                    .or_insert(span);
                let plan = plan_rule(rule, &env)?;
                definitions.push(Definition {
                    target: rule.head.relation.text.clone(),
                    span,
                    reads: plan_reads(&plan),
                    kind: DefinitionKind::Rule {
                        plan,
                        rule: rule.clone(),
                    },
                });
            }
            StmtKind::Param(param) => {
                let plan =
                    plan_param(param, &env).map_err(|d| planning_error(d, &param.init, eval))?;
                definitions.push(Definition {
                    target: param.name.text.clone(),
                    span,
                    reads: plan_reads(&plan),
                    kind: DefinitionKind::Param { plan },
                });
            }
            StmtKind::Equation(eq) => {
                let (plan, reads) = match plan_equation(eq, &env) {
                    Ok(plan) => {
                        let reads = plan_reads(&plan);
                        (Some(plan), reads)
                    }
                    Err(diagnostic) => {
                        let reads = equation_reads(eq, eval);
                        if !reads.iter().any(|r| eval.checked.runtime_names.contains(r)) {
                            return Err(planning_error(diagnostic, &eq.rhs, eval));
                        }
                        (None, reads)
                    }
                };
                definitions.push(Definition {
                    target: eq.lhs.name.joined(),
                    span,
                    reads,
                    kind: DefinitionKind::Equation {
                        plan,
                        equation: eq.clone(),
                    },
                });
            }
            StmtKind::Let { name, value } if !eval.checked.constants.contains_key(&name.text) => {
                let mut reads = Vec::new();
                expression_reads(value, &eval.functions, &mut HashSet::new(), &mut reads);
                definitions.push(Definition {
                    target: name.text.clone(),
                    span,
                    reads,
                    kind: DefinitionKind::Let {
                        value: value.clone(),
                    },
                });
            }
            _ => {}
        }
    }
    // Every relation starts from its facts, including relations that only rules define.
    for (name, facts) in &eval.checked.tensors {
        if facts.origin == Origin::Relation {
            definitions.push(Definition {
                target: name.clone(),
                span: relation_spans.get(name).copied().unwrap_or(Span::new(0, 0)),
                kind: DefinitionKind::Facts,
                reads: Vec::new(),
            });
        }
    }
    Ok(definitions)
}
