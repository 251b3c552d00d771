//! Lowering of whole-tensor equations, the ones without index variables: literals,
//! `load(...)`, slices (`Part = X[4:8]`), constant positions, and elementwise arithmetic on
//! tensors of equal shape (or with scalars). Normalising functions run along the last axis.

use super::builder::{Builder, Val};
use super::{EnvScope, PlanEnv};
use crate::ast::*;
use crate::builtins::{self, BuiltinKind};
use crate::codes;
use crate::constant;
use crate::diagnostic::Diagnostic;
use crate::index_form::{classify, IndexForm};
use crate::plan::{Plan, Source};
use crate::span::Span;
use tl_tensor::{CompareOp, DType, Op};

pub(crate) fn plan(
    eq: &Equation,
    env: &dyn PlanEnv,
    target: String,
    text: String,
) -> Result<Plan, Diagnostic> {
    if !matches!(eq.op, AssignOp::Assign | AssignOp::AddAssign) {
        return Err(Diagnostic::error(
            codes::UNPLANNABLE,
            format!(
                "`{}` projects indices, but this equation names none",
                eq.op.symbol()
            ),
            eq.op_span,
            "nothing to project",
        )
        .with_help(format!(
            "name the indices to project: `M {} X[i]`",
            eq.op.symbol()
        )));
    }
    let mut lowering = Whole {
        env,
        b: Builder::new(eq.lhs.span.to(eq.rhs.span)),
    };
    let mut val = lowering.expr(&eq.rhs)?;
    if eq.op == AssignOp::AddAssign {
        if let Some(info) = env.tensor(&target) {
            let current = lowering.b.input(
                Source::Target(target.clone()),
                &info.shape,
                DType::F32,
                axis_names(info.rank()),
            );
            val = lowering.elementwise(tl_tensor::BinaryOp::Add, current, val, eq.rhs.span)?;
        }
    }
    Ok(lowering.b.finish(target, text, &val))
}

/// Whole-tensor axes are named by position, so that aligning two values of one rank
/// matches axis to axis.
fn axis_names(rank: usize) -> Vec<String> {
    (0..rank).map(|a| format!("#{a}")).collect()
}

struct Whole<'a> {
    env: &'a dyn PlanEnv,
    b: Builder,
}

impl Whole<'_> {
    fn scalar(&mut self, value: f64) -> Result<Val, Diagnostic> {
        self.b.full(&[], value, Vec::new())
    }

    fn elementwise(
        &mut self,
        op: tl_tensor::BinaryOp,
        a: Val,
        b: Val,
        span: Span,
    ) -> Result<Val, Diagnostic> {
        if a.rank() > 0 && b.rank() > 0 && a.shape != b.shape {
            return Err(Diagnostic::error(
                codes::SHAPE_MISMATCH,
                format!(
                    "tensors of shapes {:?} and {:?} combined element by element",
                    a.shape, b.shape
                ),
                span,
                "combined here",
            )
            .with_help("combine tensors of different shapes with index notation"));
        }
        self.b.binary(op, a, b)
    }

    fn expr(&mut self, e: &Expr) -> Result<Val, Diagnostic> {
        match &e.kind {
            ExprKind::Paren(inner) => self.expr(inner),
            ExprKind::Int(v) => self.scalar(*v as f64),
            ExprKind::Float(v) => self.scalar(*v),
            ExprKind::Bool(v) => self.scalar(if *v { 1.0 } else { 0.0 }),
            ExprKind::List(_) => self.literal(e),
            ExprKind::Tensor(tensor) => self.reference(tensor),
            ExprKind::Call(call) => self.call(call),
            ExprKind::Unary { op, operand } => {
                let v = self.expr(operand)?;
                match op {
                    UnaryOp_::Neg => self.b.affine(v, -1.0, 0.0),
                    UnaryOp_::Not => {
                        let zero = self.scalar(0.0)?;
                        self.b.compare(CompareOp::Eq, v, zero)
                    }
                }
            }
            ExprKind::Join(factors) => {
                let mut acc = self.expr(&factors[0])?;
                for factor in &factors[1..] {
                    let next = self.expr(factor)?;
                    acc = self.elementwise(tl_tensor::BinaryOp::Mul, acc, next, e.span)?;
                }
                Ok(acc)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.expr(lhs)?;
                let b = self.expr(rhs)?;
                let arithmetic = match op {
                    BinaryOp_::Add => Some(tl_tensor::BinaryOp::Add),
                    BinaryOp_::Sub => Some(tl_tensor::BinaryOp::Sub),
                    BinaryOp_::Mul => Some(tl_tensor::BinaryOp::Mul),
                    BinaryOp_::Div => Some(tl_tensor::BinaryOp::Div),
                    BinaryOp_::Pow => Some(tl_tensor::BinaryOp::Pow),
                    _ => None,
                };
                if let Some(op) = arithmetic {
                    return self.elementwise(op, a, b, e.span);
                }
                let compare = match op {
                    BinaryOp_::Eq => CompareOp::Eq,
                    BinaryOp_::Ne => CompareOp::Ne,
                    BinaryOp_::Lt => CompareOp::Lt,
                    BinaryOp_::Le => CompareOp::Le,
                    BinaryOp_::Gt => CompareOp::Gt,
                    BinaryOp_::Ge => CompareOp::Ge,
                    _ => {
                        return Err(Diagnostic::error(
                            codes::UNPLANNABLE,
                            format!("`{}` between whole tensors", op.symbol()),
                            e.span,
                            "use comparisons, or index notation",
                        ))
                    }
                };
                if a.rank() > 0 && b.rank() > 0 && a.shape != b.shape {
                    return Err(Diagnostic::error(
                        codes::SHAPE_MISMATCH,
                        format!("tensors of shapes {:?} and {:?} compared", a.shape, b.shape),
                        e.span,
                        "compared here",
                    ));
                }
                self.b.compare(compare, a, b)
            }
            ExprKind::Str(_) | ExprKind::Error => Err(Diagnostic::error(
                codes::UNPLANNABLE,
                "not a tensor expression",
                e.span,
                "here",
            )),
        }
    }

    fn literal(&mut self, e: &Expr) -> Result<Val, Diagnostic> {
        let (shape, values) = flatten_literal(e, self.env)?;
        let rank = shape.len();
        Ok(self.b.input(
            Source::Literal(values),
            &shape,
            DType::F32,
            axis_names(rank),
        ))
    }

    fn reference(&mut self, tensor: &TensorRef) -> Result<Val, Diagnostic> {
        let name = tensor.name.joined();
        if tensor.indices.is_none() {
            if let Some(value) = self.env.constant(&name) {
                return self.scalar(value);
            }
            if self.env.tensor(&name).is_none() && self.env.is_runtime(&name) {
                return Ok(self
                    .b
                    .input(Source::Scalar(name), &[], DType::F32, Vec::new()));
            }
        }
        let info = self.env.tensor(&name).ok_or_else(|| {
            Diagnostic::error(
                codes::UNKNOWN_INDEX_SIZE,
                format!("the shape of `{name}` is not known"),
                tensor.name.span,
                "shape unknown when planning",
            )
        })?;
        let mut val = self.b.input(
            Source::Tensor(name.clone()),
            &info.shape,
            DType::F32,
            axis_names(info.rank()),
        );
        let Some(list) = &tensor.indices else {
            return Ok(val);
        };
        if list.items.len() > info.rank() {
            return Err(Diagnostic::error(
                codes::RANK_MISMATCH,
                format!(
                    "`{name}` has {} axes but {} positions are given",
                    info.rank(),
                    list.items.len()
                ),
                list.span,
                "too many positions",
            ));
        }
        let scope = EnvScope(self.env);
        // From the last axis back, so that earlier axis numbers stay valid.
        for (axis, index) in list.items.iter().enumerate().rev() {
            let n = info.shape[axis];
            let axes = val.axes.clone();
            match &index.kind {
                IndexKind::Slice { start, end } => {
                    let bound = |e: &Option<Expr>, default: i64| -> Result<i64, Diagnostic> {
                        match e {
                            None => Ok(default),
                            Some(e) => constant::evaluate_integer(e, &|n| self.env.constant(n))
                                .ok_or_else(|| {
                                    Diagnostic::error(
                                        codes::MISPLACED_SLICE,
                                        "slice bounds must be whole numbers known before running",
                                        e.span,
                                        "not a constant",
                                    )
                                }),
                        }
                    };
                    let (s, t) = (bound(start, 0)?, bound(end, n as i64)?);
                    if s < 0 || t < s || t as usize > n {
                        return Err(Diagnostic::error(
                            codes::INDEX_OUT_OF_RANGE,
                            format!("slice {s}:{t} of axis {axis} of `{name}`, of size {n}"),
                            index.span,
                            "outside the axis",
                        ));
                    }
                    if (s, t) != (0, n as i64) {
                        val = self.b.emit(
                            Op::Narrow {
                                axis,
                                start: s as usize,
                                len: (t - s) as usize,
                            },
                            &[&val],
                            axes,
                        )?;
                    }
                }
                IndexKind::Expr(e) => {
                    let position = match classify(e, &scope) {
                        IndexForm::Const(p) => p,
                        IndexForm::Symbol(symbol) => self
                            .env
                            .symbol_position(&name, axis, &symbol)
                            .map(|p| p as i64)
                            .ok_or_else(|| {
                                Diagnostic::error(
                                    codes::SYMBOL_NOT_IN_DOMAIN,
                                    format!(
                                        "`{symbol}` is not a position of axis {axis} of `{name}`"
                                    ),
                                    index.span,
                                    "unknown symbol here",
                                )
                            })?,
                        IndexForm::Runtime { name: var, offset } => {
                            let idx = self.b.input(
                                Source::Position { name: var, offset },
                                &[1],
                                DType::I64,
                                vec!["·".into()],
                            );
                            let picked =
                                self.b.emit(Op::IndexSelect { axis }, &[&val, &idx], axes)?;
                            val = self.b.squeeze(&picked, axis)?;
                            continue;
                        }
                        _ => {
                            return Err(Diagnostic::error(
                                codes::UNSUPPORTED_INDEX,
                                "unsupported index expression",
                                e.span,
                                "not a constant position",
                            ))
                        }
                    };
                    if position < 0 || position as usize >= n {
                        return Err(Diagnostic::error(
                            codes::INDEX_OUT_OF_RANGE,
                            format!("position {position} is outside axis {axis} of `{name}`, of size {n}"),
                            index.span,
                            format!("position {position} of {n}"),
                        ));
                    }
                    let narrowed = self.b.emit(
                        Op::Narrow {
                            axis,
                            start: position as usize,
                            len: 1,
                        },
                        &[&val],
                        axes,
                    )?;
                    val = self.b.squeeze(&narrowed, axis)?;
                }
            }
        }
        let rank = val.rank();
        val.axes = axis_names(rank);
        Ok(val)
    }

    fn call(&mut self, call: &Call) -> Result<Val, Diagnostic> {
        let span = call.callee.span.to(call.args_span);
        let Some(builtin) = builtins::lookup(&call.callee.text) else {
            return Err(Diagnostic::error(
                codes::UNPLANNABLE,
                format!(
                    "`{}` is a function; the interpreter calls it, not a plan",
                    call.callee.text
                ),
                span,
                "a function call",
            )
            .with_help("bind its result with `let`"));
        };
        let bound = builtins::bind(builtin, call)?;
        let arg = |i: usize| {
            bound.args[i].ok_or_else(|| {
                Diagnostic::error(codes::UNPLANNABLE, "a missing argument", span, "here")
            })
        };
        match builtin.kind {
            BuiltinKind::Elementwise(op) => {
                let x = self.expr(arg(0)?)?;
                let axes = x.axes.clone();
                self.b.emit(Op::Unary(op), &[&x], axes)
            }
            BuiltinKind::Pairwise(op) => {
                let a = self.expr(arg(0)?)?;
                let b = self.expr(arg(1)?)?;
                self.elementwise(op, a, b, span)
            }
            BuiltinKind::Normalize { log } => {
                let x = self.expr(arg(0)?)?;
                if x.rank() == 0 {
                    return Err(Diagnostic::error(
                        codes::NO_NORMALISATION_AXIS,
                        "normalising a single number",
                        span,
                        "no axis",
                    ));
                }
                let axis = x.rank() - 1;
                let op = if log {
                    Op::LogSoftmax { axis }
                } else {
                    Op::Softmax { axis }
                };
                let axes = x.axes.clone();
                self.b.emit(op, &[&x], axes)
            }
            BuiltinKind::RmsNorm | BuiltinKind::LayerNorm => {
                let x = self.expr(arg(0)?)?;
                let mut args = vec![x];
                let extra = if builtin.kind == BuiltinKind::RmsNorm {
                    1
                } else {
                    2
                };
                for i in 1..=extra {
                    args.push(self.expr(arg(i)?)?);
                }
                let eps = match bound.get("eps") {
                    Some(e) => {
                        constant::evaluate(e, &|n| self.env.constant(n)).ok_or_else(|| {
                            Diagnostic::error(
                                codes::INVALID_ARGUMENT,
                                "`eps` must be a constant",
                                e.span,
                                "not a constant",
                            )
                        })?
                    }
                    None => 1e-5,
                };
                let op = if builtin.kind == BuiltinKind::RmsNorm {
                    Op::RmsNorm { eps }
                } else {
                    Op::LayerNorm { eps }
                };
                let axes = args[0].axes.clone();
                let refs: Vec<&Val> = args.iter().collect();
                self.b.emit(op, &refs, axes)
            }
            BuiltinKind::Load => {
                let text = |name: &str| match bound.get(name).map(|e| &e.kind) {
                    Some(ExprKind::Str(s)) => Some(s.clone()),
                    _ => None,
                };
                let path = text("path").ok_or_else(|| {
                    Diagnostic::error(
                        codes::INVALID_ARGUMENT,
                        "`path` of `load` must be a string",
                        span,
                        "here",
                    )
                })?;
                let name = text("name");
                let info = self.env.load(&path, name.as_deref()).ok_or_else(|| {
                    Diagnostic::error(
                        codes::UNKNOWN_INDEX_SIZE,
                        "the shape of this load is not known",
                        span,
                        "the host has not read it",
                    )
                })?;
                Ok(self.b.input(
                    Source::Load { path, name },
                    &info.shape,
                    DType::F32,
                    axis_names(info.rank()),
                ))
            }
            BuiltinKind::Init(_) | BuiltinKind::Optimizer(_) | BuiltinKind::Output(_) => {
                Err(Diagnostic::error(
                    codes::MISPLACED_BUILTIN,
                    format!("`{}` cannot appear in an equation", builtin.name),
                    span,
                    "here",
                ))
            }
        }
    }
}

/// The shape and row-major values of a nested list literal of constants; rows must agree.
pub(crate) fn flatten_literal(
    e: &Expr,
    env: &dyn PlanEnv,
) -> Result<(Vec<usize>, Vec<f64>), Diagnostic> {
    fn walk(e: &Expr, env: &dyn PlanEnv, values: &mut Vec<f64>) -> Result<Vec<usize>, Diagnostic> {
        match &e.kind {
            ExprKind::Paren(inner) => walk(inner, env, values),
            ExprKind::List(items) => {
                let mut inner: Option<Vec<usize>> = None;
                for item in items {
                    let dims = walk(item, env, values)?;
                    match &inner {
                        None => inner = Some(dims),
                        Some(first) if *first != dims => {
                            return Err(Diagnostic::error(
                                codes::SHAPE_MISMATCH,
                                "the rows of a list literal have different shapes",
                                item.span,
                                "this row differs from the first",
                            ))
                        }
                        Some(_) => {}
                    }
                }
                let mut shape = vec![items.len()];
                shape.extend(inner.unwrap_or_default());
                Ok(shape)
            }
            _ => {
                let value = constant::evaluate(e, &|n| env.constant(n)).ok_or_else(|| {
                    Diagnostic::error(
                        codes::INVALID_ARGUMENT,
                        "list elements must be numbers known before running",
                        e.span,
                        "not a constant",
                    )
                })?;
                values.push(value);
                Ok(Vec::new())
            }
        }
    }
    let mut values = Vec::new();
    let shape = walk(e, env, &mut values)?;
    Ok((shape, values))
}

use crate::ast::BinaryOp as BinaryOp_;
use crate::ast::UnaryOp as UnaryOp_;
