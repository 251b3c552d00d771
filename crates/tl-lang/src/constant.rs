//! Numbers known before the program runs: literals, arithmetic on them, builtin functions
//! of them (`sqrt(64)`) and names bound to such numbers by `let`.

use crate::ast::{BinaryOp, Expr, ExprKind, TensorRef, UnaryOp};
use crate::builtins::{self, BuiltinKind};

/// The value of `expr` if it is a constant; `scalar` answers for bare names.
pub fn evaluate(expr: &Expr, scalar: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
    match &expr.kind {
        ExprKind::Int(v) => Some(*v as f64),
        ExprKind::Float(v) => Some(*v),
        ExprKind::Bool(v) => Some(if *v { 1.0 } else { 0.0 }),
        ExprKind::Paren(inner) => evaluate(inner, scalar),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => Some(-evaluate(operand, scalar)?),
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => Some(if evaluate(operand, scalar)? == 0.0 {
            1.0
        } else {
            0.0
        }),
        ExprKind::Binary { op, lhs, rhs } => {
            let a = evaluate(lhs, scalar)?;
            let b = evaluate(rhs, scalar)?;
            let truth = |t: bool| if t { 1.0 } else { 0.0 };
            Some(match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                BinaryOp::Pow => a.powf(b),
                BinaryOp::Eq => truth(a == b),
                BinaryOp::Ne => truth(a != b),
                BinaryOp::Lt => truth(a < b),
                BinaryOp::Le => truth(a <= b),
                BinaryOp::Gt => truth(a > b),
                BinaryOp::Ge => truth(a >= b),
                BinaryOp::And => truth(a != 0.0 && b != 0.0),
                BinaryOp::Or => truth(a != 0.0 || b != 0.0),
            })
        }
        ExprKind::Join(factors) => factors
            .iter()
            .try_fold(1.0, |acc, f| Some(acc * evaluate(f, scalar)?)),
        ExprKind::Call(call) => {
            let builtin = builtins::lookup(&call.callee.text)?;
            let bound = builtins::bind(builtin, call).ok()?;
            match builtin.kind {
                BuiltinKind::Elementwise(op) => {
                    Some(builtins::fold_unary(op, evaluate(bound.args[0]?, scalar)?))
                }
                BuiltinKind::Pairwise(op) => Some(builtins::fold_binary(
                    op,
                    evaluate(bound.args[0]?, scalar)?,
                    evaluate(bound.args[1]?, scalar)?,
                )),
                _ => None,
            }
        }
        ExprKind::Tensor(TensorRef {
            name,
            indices: None,
            ..
        }) => scalar(&name.simple()?.text),
        _ => None,
    }
}

/// The value of `expr` as an integer, if it is a constant whole number.
pub fn evaluate_integer(expr: &Expr, scalar: &dyn Fn(&str) -> Option<f64>) -> Option<i64> {
    let value = evaluate(expr, scalar)?;
    (value.fract() == 0.0 && value.abs() < 9.0e15).then_some(value as i64)
}
