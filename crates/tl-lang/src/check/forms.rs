//! The shape of each equation's indices, checked without knowing any sizes: supported
//! index arithmetic, slices only where no index variables are, and normalisation dots only
//! where something normalises.

use super::scope::{walk, ScopeChain};
use super::Globals;
use crate::ast::*;
use crate::builtins::{self, BuiltinKind};
use crate::codes;
use crate::constant;
use crate::diagnostic::Diagnostic;
use crate::index_form::{classify, IndexForm, IndexScope};
use crate::span::Span;

pub(crate) fn check(program: &Program, globals: &Globals, diagnostics: &mut Vec<Diagnostic>) {
    walk(&program.statements, globals, &mut |statement, scope| {
        if let StmtKind::Equation(eq) = &statement.kind {
            equation(eq, scope, diagnostics);
        }
    });
}

/// Whether an equation is read index by index (it names index variables) rather than as
/// whole tensors (`Part = X[4:8]`, `W = [1, 2]`).
pub(crate) fn is_indexed(eq: &Equation, scope: &dyn IndexScope) -> bool {
    eq.lhs
        .indices
        .as_ref()
        .is_some_and(|list| !list.items.is_empty())
        || mentions_index_variable(&eq.rhs, scope)
}

pub(crate) fn mentions_index_variable(expr: &Expr, scope: &dyn IndexScope) -> bool {
    let mut found = false;
    visit_tensor_refs(expr, &mut |tensor, _| {
        if let Some(list) = &tensor.indices {
            for index in &list.items {
                if let IndexKind::Expr(e) = &index.kind {
                    if classify(e, scope).var().is_some() {
                        found = true;
                    }
                }
            }
        }
    });
    found
}

/// Calls `visit` on every tensor reference of `expr`, with whether it sits inside the
/// argument of a normalising function.
pub(crate) fn visit_tensor_refs(expr: &Expr, visit: &mut dyn FnMut(&TensorRef, bool)) {
    fn go(expr: &Expr, inside: bool, visit: &mut dyn FnMut(&TensorRef, bool)) {
        match &expr.kind {
            ExprKind::Tensor(tensor) => visit(tensor, inside),
            ExprKind::Call(call) => {
                let normalizes = builtins::lookup(&call.callee.text).is_some_and(|b| {
                    matches!(
                        b.kind,
                        BuiltinKind::Normalize { .. }
                            | BuiltinKind::RmsNorm
                            | BuiltinKind::LayerNorm
                    )
                });
                for arg in &call.args {
                    go(&arg.value, inside || normalizes, visit);
                }
            }
            ExprKind::List(items) | ExprKind::Join(items) => {
                for item in items {
                    go(item, inside, visit);
                }
            }
            ExprKind::Unary { operand, .. } => go(operand, inside, visit),
            ExprKind::Binary { lhs, rhs, .. } => {
                go(lhs, inside, visit);
                go(rhs, inside, visit);
            }
            ExprKind::Paren(inner) => go(inner, inside, visit),
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Error => {}
        }
    }
    go(expr, false, visit);
}

fn unsupported(expr: &Expr) -> Diagnostic {
    Diagnostic::error(
        codes::UNSUPPORTED_INDEX,
        "unsupported index expression",
        expr.span,
        "not an index form the planner knows",
    )
    .with_help(
        "indices are a variable (`i`), a shifted variable (`t+1`, `t-1`), a pooled variable \
         (`x/2`), a constant position (`0`), a bound variable (`t` from `for t in …`), or a \
         Datalog symbol",
    )
}

fn equation(eq: &Equation, scope: &ScopeChain, diagnostics: &mut Vec<Diagnostic>) {
    let indexed = is_indexed(eq, scope);
    let mut lhs_dots: Vec<(String, Span)> = Vec::new();
    if let Some(list) = &eq.lhs.indices {
        for index in &list.items {
            match &index.kind {
                IndexKind::Slice { .. } => diagnostics.push(
                    Diagnostic::error(
                        codes::MISPLACED_SLICE,
                        "the left side of an equation cannot be sliced",
                        index.span,
                        "a slice on the left",
                    )
                    .with_help(
                        "define the whole tensor, or fix positions with constants: `Y[0, i] = …`",
                    ),
                ),
                IndexKind::Expr(expr) => {
                    let form = classify(expr, scope);
                    if form == IndexForm::Unsupported {
                        diagnostics.push(unsupported(expr));
                    } else if index.dotted {
                        match form {
                            IndexForm::Var(var) => lhs_dots.push((var, index.span)),
                            _ => diagnostics.push(
                                Diagnostic::error(
                                    codes::UNSUPPORTED_INDEX,
                                    "only an index variable can be a normalisation axis",
                                    index.span,
                                    "a dot after something other than a variable",
                                )
                                .with_help("mark a plain index variable: `Comp[p, p'.]`"),
                            ),
                        }
                    }
                }
            }
        }
    }
    if lhs_dots.len() > 1 {
        diagnostics.push(
            Diagnostic::error(
                codes::SEVERAL_NORMALISATION_AXES,
                "more than one normalisation axis",
                lhs_dots[1].1,
                "a second dotted index",
            )
            .with_secondary(lhs_dots[0].1, "the first dotted index")
            .with_help("a normalisation (softmax) runs along one axis; remove one of the dots"),
        );
    }
    let lhs_dot = lhs_dots.first().cloned();

    visit_tensor_refs(&eq.rhs, &mut |tensor, inside_normalize| {
        let Some(list) = &tensor.indices else { return };
        for index in &list.items {
            match &index.kind {
                IndexKind::Slice { start, end } => {
                    if indexed {
                        diagnostics.push(
                            Diagnostic::error(
                                codes::MISPLACED_SLICE,
                                "a slice cannot be mixed with index variables",
                                index.span,
                                "a slice in an indexed equation",
                            )
                            .with_help("slice into a tensor of its own first: `Part = X[4:8]`"),
                        );
                        continue;
                    }
                    for bound in [start, end].into_iter().flatten() {
                        if constant::evaluate_integer(bound, &|n| scope.constant(n)).is_none() {
                            diagnostics.push(
                                Diagnostic::error(
                                    codes::MISPLACED_SLICE,
                                    "slice bounds must be whole numbers known before running",
                                    bound.span,
                                    "not a constant",
                                )
                                .with_help("use numbers or `let` constants: `X[4:8]`"),
                            );
                        }
                    }
                }
                IndexKind::Expr(expr) => {
                    let form = classify(expr, scope);
                    if form == IndexForm::Unsupported {
                        diagnostics.push(unsupported(expr));
                    } else if index.dotted {
                        if !matches!(form, IndexForm::Var(_)) {
                            diagnostics.push(
                                Diagnostic::error(
                                    codes::UNSUPPORTED_INDEX,
                                    "only an index variable can be a normalisation axis",
                                    index.span,
                                    "a dot after something other than a variable",
                                )
                                .with_help("mark a plain index variable: `X[i, j.]`"),
                            );
                        } else if !inside_normalize {
                            diagnostics.push(
                                Diagnostic::error(
                                    codes::NO_NORMALISATION_AXIS,
                                    "a normalisation dot outside a normalising function",
                                    index.span,
                                    "nothing normalises along this axis",
                                )
                                .with_help(
                                    "dots mark the axis of softmax, log_softmax, rms_norm and \
                                     layer_norm; remove it here",
                                ),
                            );
                        }
                    }
                }
            }
        }
    });

    let mut lhs_dot_used = false;
    visit_normalizing_calls(&eq.rhs, &mut |call| {
        let Some(argument) = call.args.first().map(|a| &a.value) else {
            return;
        };
        let (vars, dotted) = argument_indices(argument, scope);
        if dotted.len() > 1 {
            diagnostics.push(
                Diagnostic::error(
                    codes::SEVERAL_NORMALISATION_AXES,
                    format!("more than one normalisation axis in `{}`", call.callee.text),
                    dotted[1].1,
                    "a second dotted index",
                )
                .with_secondary(dotted[0].1, "the first dotted index"),
            );
            return;
        }
        if !dotted.is_empty() || !indexed {
            return;
        }
        match &lhs_dot {
            Some((var, span)) if vars.iter().any(|v| v == var) => lhs_dot_used = true,
            Some((var, span)) => {
                lhs_dot_used = true;
                diagnostics.push(
                    Diagnostic::error(
                        codes::NO_NORMALISATION_AXIS,
                        format!(
                            "the normalisation axis `{var}` does not occur in `{}`'s argument",
                            call.callee.text
                        ),
                        argument.span,
                        format!("no index `{var}` here"),
                    )
                    .with_secondary(*span, "marked as the normalisation axis here"),
                );
            }
            None if vars.len() == 1 => {}
            None => diagnostics.push(
                Diagnostic::error(
                    codes::NO_NORMALISATION_AXIS,
                    format!("`{}` needs a normalisation axis", call.callee.text),
                    call.callee.span.to(call.args_span),
                    format!("normalises over which of {}?", quoted(&vars)),
                )
                .with_help(
                    "mark the axis with a dot on the left, as in `Comp[p, p'.] = softmax(…)`",
                ),
            ),
        }
    });
    if let (Some((var, span)), false) = (&lhs_dot, lhs_dot_used) {
        diagnostics.push(
            Diagnostic::error(
                codes::NO_NORMALISATION_AXIS,
                format!("nothing normalises along `{var}`"),
                *span,
                "marked as a normalisation axis",
            )
            .with_help("the dot marks the axis of softmax, log_softmax, rms_norm or layer_norm on the right; remove it"),
        );
    }
}

fn quoted(vars: &[String]) -> String {
    vars.iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The index variables of an expression in order of first appearance, and its dotted ones.
pub(crate) fn argument_indices(
    expr: &Expr,
    scope: &dyn IndexScope,
) -> (Vec<String>, Vec<(String, Span)>) {
    let mut vars: Vec<String> = Vec::new();
    let mut dotted: Vec<(String, Span)> = Vec::new();
    visit_tensor_refs(expr, &mut |tensor, _| {
        let Some(list) = &tensor.indices else { return };
        for index in &list.items {
            if let IndexKind::Expr(e) = &index.kind {
                if let Some(var) = classify(e, scope).var() {
                    if !vars.iter().any(|v| v == var) {
                        vars.push(var.to_string());
                    }
                    if index.dotted && !dotted.iter().any(|(v, _)| v == var) {
                        dotted.push((var.to_string(), index.span));
                    }
                }
            }
        }
    });
    (vars, dotted)
}

/// Calls `visit` on every call of a normalising builtin in `expr`.
pub(crate) fn visit_normalizing_calls(expr: &Expr, visit: &mut dyn FnMut(&Call)) {
    match &expr.kind {
        ExprKind::Call(call) => {
            if builtins::lookup(&call.callee.text).is_some_and(|b| {
                matches!(
                    b.kind,
                    BuiltinKind::Normalize { .. } | BuiltinKind::RmsNorm | BuiltinKind::LayerNorm
                )
            }) {
                visit(call);
            }
            for arg in &call.args {
                visit_normalizing_calls(&arg.value, visit);
            }
        }
        ExprKind::List(items) | ExprKind::Join(items) => {
            for item in items {
                visit_normalizing_calls(item, visit);
            }
        }
        ExprKind::Unary { operand, .. } => visit_normalizing_calls(operand, visit),
        ExprKind::Binary { lhs, rhs, .. } => {
            visit_normalizing_calls(lhs, visit);
            visit_normalizing_calls(rhs, visit);
        }
        ExprKind::Paren(inner) => visit_normalizing_calls(inner, visit),
        _ => {}
    }
}
