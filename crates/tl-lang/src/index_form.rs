//! What one position inside brackets means: an index variable, a shifted or pooled index
//! variable, a constant position, a run-time position, or a Datalog symbol.

use crate::ast::{BinaryOp, Expr, ExprKind, TensorRef, UnaryOp};
use crate::constant;

/// The supported forms of index expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexForm {
    /// `i`: ranges over the axis.
    Var(String),
    /// `t + 1`, `t - 1`: reads outside the axis are zero; writes outside it are dropped.
    Shift {
        var: String,
        offset: i64,
    },
    /// `x / 2`: integer division, for pooling (on the left) and repetition (on the right).
    Pool {
        var: String,
        factor: i64,
    },
    /// A position known before running: `0`, `n - 1` with `let n = 4`.
    Const(i64),
    /// A position held by a variable bound by `let`, `for` or a function parameter,
    /// plus a constant offset: `Tok[t]`, `Tok[t + 1]`.
    Runtime {
        name: String,
        offset: i64,
    },
    /// A Datalog constant symbol: `Parent[Alice, y]`.
    Symbol(String),
    Unsupported,
}

/// How the names met inside brackets are bound where the equation stands.
pub trait IndexScope {
    /// The value of a constant bound by `let`.
    fn constant(&self, name: &str) -> Option<f64>;
    /// Whether `name` is a run-time variable (`let`, `for`, function parameter).
    fn is_bound(&self, name: &str) -> bool;
    /// Whether `name` is a Datalog symbol.
    fn is_symbol(&self, name: &str) -> bool;
}

/// The bare single name `expr` stands for, if it is one.
pub fn bare_name(expr: &Expr) -> Option<&str> {
    match &expr.kind {
        ExprKind::Tensor(TensorRef {
            name,
            indices: None,
            ..
        }) => name.simple().map(|n| n.text.as_str()),
        ExprKind::Paren(inner) => bare_name(inner),
        _ => None,
    }
}

pub fn classify(expr: &Expr, scope: &dyn IndexScope) -> IndexForm {
    let constant_of = |e: &Expr| constant::evaluate_integer(e, &|n| scope.constant(n));
    if let Some(name) = bare_name(expr) {
        if let Some(value) = scope.constant(name) {
            return if value.fract() == 0.0 && value.abs() < 9.0e15 {
                IndexForm::Const(value as i64)
            } else {
                IndexForm::Unsupported
            };
        }
        if scope.is_bound(name) {
            return IndexForm::Runtime {
                name: name.to_string(),
                offset: 0,
            };
        }
        if scope.is_symbol(name) {
            return IndexForm::Symbol(name.to_string());
        }
        return IndexForm::Var(name.to_string());
    }
    match &expr.kind {
        ExprKind::Paren(inner) => classify(inner, scope),
        ExprKind::Int(v) => IndexForm::Const(*v),
        ExprKind::Unary {
            op: UnaryOp::Neg, ..
        } => match constant_of(expr) {
            Some(v) => IndexForm::Const(v),
            None => IndexForm::Unsupported,
        },
        ExprKind::Binary { op, lhs, rhs } => {
            if let Some(v) = constant_of(expr) {
                return IndexForm::Const(v);
            }
            let shifted = |base: IndexForm, offset: i64| match base {
                IndexForm::Var(var) if offset == 0 => IndexForm::Var(var),
                IndexForm::Var(var) => IndexForm::Shift { var, offset },
                IndexForm::Shift { var, offset: o } => match o.checked_add(offset) {
                    Some(0) => IndexForm::Var(var),
                    Some(total) => IndexForm::Shift { var, offset: total },
                    None => IndexForm::Unsupported,
                },
                IndexForm::Runtime { name, offset: o } => match o.checked_add(offset) {
                    Some(total) => IndexForm::Runtime {
                        name,
                        offset: total,
                    },
                    None => IndexForm::Unsupported,
                },
                _ => IndexForm::Unsupported,
            };
            match op {
                BinaryOp::Add => match (constant_of(lhs), constant_of(rhs)) {
                    (_, Some(c)) => shifted(classify(lhs, scope), c),
                    (Some(c), _) => shifted(classify(rhs, scope), c),
                    _ => IndexForm::Unsupported,
                },
                BinaryOp::Sub => match constant_of(rhs).and_then(|c| c.checked_neg()) {
                    Some(c) => shifted(classify(lhs, scope), c),
                    None => IndexForm::Unsupported,
                },
                BinaryOp::Div => match (classify(lhs, scope), constant_of(rhs)) {
                    (IndexForm::Var(var), Some(factor)) if factor >= 1 => {
                        if factor == 1 {
                            IndexForm::Var(var)
                        } else {
                            IndexForm::Pool { var, factor }
                        }
                    }
                    _ => IndexForm::Unsupported,
                },
                _ => IndexForm::Unsupported,
            }
        }
        _ => match constant_of(expr) {
            Some(v) => IndexForm::Const(v),
            None => IndexForm::Unsupported,
        },
    }
}

impl IndexForm {
    /// The index variable this form ranges over, if any.
    pub fn var(&self) -> Option<&str> {
        match self {
            IndexForm::Var(var) | IndexForm::Shift { var, .. } | IndexForm::Pool { var, .. } => {
                Some(var)
            }
            _ => None,
        }
    }
}
