//! Lowering of equations written with index variables (`Y[i] = step(W[i, j] X[j])`).
//!
//! Semantics, as the reference states them: an index absent from the left is summed by the
//! smallest join (juxtaposition, `*`, `/`) holding all its occurrences, else by the
//! innermost function whose argument holds them all (a function applies to a projection),
//! else projected at the end by the equation's operator (`=` and `+=` sum, `max=`, `min=`,
//! `avg=`). Constant factors and offsets ride along as a pending `affine` and are applied
//! once.

use super::builder::{Builder, Val};
use super::contraction::{product, reduce_axes};
use super::{EnvScope, OldValue, PlanEnv};
use crate::ast::*;
use crate::builtins::{self, BuiltinKind};
use crate::check::forms::visit_tensor_refs;
use crate::codes;
use crate::constant;
use crate::diagnostic::Diagnostic;
use crate::index_form::{classify, IndexForm};
use crate::plan::{Plan, Source};
use crate::span::Span;
use std::collections::{HashMap, HashSet};
use tl_tensor::{CompareOp, DType, Op, ReduceOp, UnaryOp};

/// A planned operand: a number known now, or a tensor times `scale` plus `bias`.
#[derive(Clone, Debug)]
enum Operand {
    Number(f64),
    Tensor { val: Val, scale: f64, bias: f64 },
}

impl Operand {
    fn of(val: Val) -> Operand {
        Operand::Tensor {
            val,
            scale: 1.0,
            bias: 0.0,
        }
    }
}

/// A position fixed on the left-hand side.
#[derive(Clone, Debug)]
enum Fixed {
    Const(i64),
    Runtime { name: String, offset: i64 },
}

/// What one left-hand index does.
#[derive(Clone, Debug)]
enum LhsAxis {
    /// An index variable, possibly repeated (named `v#2` the second time) or shifted.
    Var {
        var: String,
        name: String,
        shift: i64,
    },
    /// `x / k`: pools the variable's range by `factor`.
    Pool {
        var: String,
        factor: usize,
        name: String,
    },
    Fixed {
        position: Fixed,
        span: Span,
    },
}

pub(crate) fn plan(
    eq: &Equation,
    env: &dyn PlanEnv,
    old: OldValue,
    target: String,
    text: String,
) -> Result<Plan, Diagnostic> {
    let scope = EnvScope(env);
    let mut lowering = Lowering {
        env,
        scope,
        b: Builder::new(eq.lhs.span.to(eq.rhs.span)),
        ranges: HashMap::new(),
        lhs_vars: HashSet::new(),
        totals: HashMap::new(),
        op: eq.op,
        lhs_dot: None,
        preferred: Vec::new(),
        target,
    };
    lowering.prepare(eq)?;
    let rhs = lowering.expr(&eq.rhs, true)?;
    let out = lowering.finish(rhs, eq, old)?;
    let Lowering { b, target, .. } = lowering;
    Ok(b.finish(target, text, &out))
}

struct Lowering<'a> {
    env: &'a dyn PlanEnv,
    scope: EnvScope<'a>,
    b: Builder,
    /// The range of every index variable of the equation.
    ranges: HashMap<String, usize>,
    /// Variables on the left (shifted and pooled ones included).
    lhs_vars: HashSet<String>,
    /// How often each variable occurs on the right.
    totals: HashMap<String, usize>,
    op: AssignOp,
    /// The left's normalisation axis.
    lhs_dot: Option<String>,
    /// Left-hand order, then order of appearance: contractions aim for it.
    preferred: Vec<String>,
    target: String,
}

fn unplannable(span: Span, message: impl Into<String>, label: &str) -> Diagnostic {
    Diagnostic::error(codes::UNPLANNABLE, message, span, label)
}

impl Lowering<'_> {
    fn tensor_shape(&self, tensor: &TensorRef) -> Option<Vec<usize>> {
        self.env
            .tensor(&tensor.name.joined())
            .map(|info| info.shape)
    }

    /// Ranges of all index variables, left-hand analysis and occurrence counts.
    fn prepare(&mut self, eq: &Equation) -> Result<(), Diagnostic> {
        let mut refs: Vec<(TensorRef, bool)> = vec![(eq.lhs.clone(), true)];
        visit_tensor_refs(&eq.rhs, &mut |t, _| refs.push((t.clone(), false)));
        let mut first_seen: HashMap<String, (Span, String)> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut weak: Vec<(String, usize, Span)> = Vec::new();
        for (tensor, is_lhs) in &refs {
            let Some(list) = &tensor.indices else {
                continue;
            };
            let name = tensor.name.joined();
            let shape = self.tensor_shape(tensor);
            if let Some(shape) = &shape {
                if shape.len() != list.items.len() {
                    return Err(Diagnostic::error(
                        codes::RANK_MISMATCH,
                        format!(
                            "`{name}` has {} axes but {} indices are given",
                            shape.len(),
                            list.items.len()
                        ),
                        list.span,
                        format!("{} indices", list.items.len()),
                    ));
                }
            } else if !is_lhs {
                return Err(Diagnostic::error(
                    codes::UNKNOWN_INDEX_SIZE,
                    format!("the shape of `{name}` is not known"),
                    tensor.name.span,
                    "shape unknown when planning",
                )
                .with_help("the host must supply it, or an equation must define it"));
            }
            for (axis, index) in list.items.iter().enumerate() {
                let IndexKind::Expr(expr) = &index.kind else {
                    return Err(Diagnostic::error(
                        codes::MISPLACED_SLICE,
                        "a slice cannot be mixed with index variables",
                        index.span,
                        "a slice in an indexed equation",
                    ));
                };
                let form = classify(expr, &self.scope);
                if form == IndexForm::Unsupported {
                    return Err(Diagnostic::error(
                        codes::UNSUPPORTED_INDEX,
                        "unsupported index expression",
                        expr.span,
                        "not an index form the planner knows",
                    ));
                }
                let Some(var) = form.var().map(str::to_string) else {
                    continue;
                };
                if !order.contains(&var) {
                    order.push(var.clone());
                }
                if *is_lhs {
                    self.lhs_vars.insert(var.clone());
                    if index.dotted {
                        self.lhs_dot = Some(var.clone());
                    }
                } else {
                    *self.totals.entry(var.clone()).or_default() += 1;
                }
                let Some(shape) = &shape else { continue };
                let size = shape[axis];
                let strong = match &form {
                    IndexForm::Var(_) => true,
                    IndexForm::Shift { .. } => *is_lhs,
                    _ => false,
                };
                if !strong {
                    let implied = match form {
                        IndexForm::Pool { factor, .. } => size.saturating_mul(factor as usize),
                        _ => size,
                    };
                    weak.push((var, implied, index.span));
                    continue;
                }
                let what = format!("axis {axis} of `{name}` has size {size}");
                match first_seen.get(&var) {
                    Some((span, label)) if self.ranges.get(&var) != Some(&size) => {
                        return Err(Diagnostic::error(
                            codes::INDEX_SIZE_MISMATCH,
                            format!("index `{var}` has two different sizes"),
                            index.span,
                            what,
                        )
                        .with_secondary(*span, label.clone()));
                    }
                    Some(_) => {}
                    None => {
                        first_seen.insert(var.clone(), (index.span, what));
                        self.ranges.insert(var.clone(), size);
                    }
                }
            }
        }
        for (var, size, _) in weak {
            self.ranges.entry(var).or_insert(size);
        }
        for var in &order {
            if !self.ranges.contains_key(var) {
                let span = refs
                    .iter()
                    .flat_map(|(t, _)| t.indices.iter().flat_map(|l| l.items.iter()))
                    .find(|index| match &index.kind {
                        IndexKind::Expr(e) => classify(e, &self.scope).var() == Some(var.as_str()),
                        _ => false,
                    })
                    .map(|index| index.span)
                    .unwrap_or(self.b.span);
                return Err(Diagnostic::error(
                    codes::UNKNOWN_INDEX_SIZE,
                    format!("cannot infer the range of index `{var}`"),
                    span,
                    "no tensor of known shape fixes it",
                ));
            }
        }
        // Left-hand order first, then the order of appearance.
        let mut preferred: Vec<String> = Vec::new();
        if let Some(list) = &eq.lhs.indices {
            for index in &list.items {
                if let IndexKind::Expr(e) = &index.kind {
                    if let Some(var) = classify(e, &self.scope).var() {
                        if !preferred.iter().any(|p| p == var) {
                            preferred.push(var.to_string());
                        }
                    }
                }
            }
        }
        for var in order {
            if !preferred.contains(&var) {
                preferred.push(var);
            }
        }
        self.preferred = preferred;
        Ok(())
    }

    fn range(&self, var: &str) -> Result<usize, Diagnostic> {
        self.ranges
            .get(var)
            .copied()
            .ok_or_else(|| self.b.internal(&format!("the range of `{var}` is unknown")))
    }

    fn materialize(&mut self, operand: Operand) -> Result<Val, Diagnostic> {
        match operand {
            Operand::Number(value) => self.b.full(&[], value, Vec::new()),
            Operand::Tensor { val, scale, bias } => self.b.affine(val, scale, bias),
        }
    }

    fn expr(&mut self, e: &Expr, root: bool) -> Result<Operand, Diagnostic> {
        match &e.kind {
            ExprKind::Paren(inner) => self.expr(inner, root),
            ExprKind::Int(v) => Ok(Operand::Number(*v as f64)),
            ExprKind::Float(v) => Ok(Operand::Number(*v)),
            ExprKind::Bool(v) => Ok(Operand::Number(if *v { 1.0 } else { 0.0 })),
            ExprKind::Tensor(tensor) => self.reference(tensor),
            ExprKind::Join(_)
            | ExprKind::Binary {
                op: BinaryOp_::Mul | BinaryOp_::Div,
                ..
            } => self.product(e, root),
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.expr(lhs, false)?;
                let b = self.expr(rhs, false)?;
                self.binary(*op, a, b, e.span)
            }
            ExprKind::Unary { op, operand } => {
                let value = self.expr(operand, false)?;
                match (op, value) {
                    (UnaryOp_::Neg, Operand::Number(v)) => Ok(Operand::Number(-v)),
                    (UnaryOp_::Neg, Operand::Tensor { val, scale, bias }) => Ok(Operand::Tensor {
                        val,
                        scale: -scale,
                        bias: -bias,
                    }),
                    (UnaryOp_::Not, Operand::Number(v)) => {
                        Ok(Operand::Number(if v == 0.0 { 1.0 } else { 0.0 }))
                    }
                    (UnaryOp_::Not, value) => {
                        let val = self.materialize(value)?;
                        let zero = self.b.full(&[], 0.0, Vec::new())?;
                        Ok(Operand::of(self.b.compare(CompareOp::Eq, val, zero)?))
                    }
                }
            }
            ExprKind::Call(call) => self.call(call),
            ExprKind::List(_) => Err(unplannable(
                e.span,
                "a list literal inside an indexed equation",
                "give the literal a name first: `W = [1, 2]`",
            )),
            ExprKind::Str(_) => Err(unplannable(
                e.span,
                "a string in an equation",
                "not a number",
            )),
            ExprKind::Error => Err(unplannable(
                e.span,
                "an expression that did not parse",
                "here",
            )),
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp_,
        a: Operand,
        b: Operand,
        span: Span,
    ) -> Result<Operand, Diagnostic> {
        use Operand::{Number, Tensor};
        if let (Number(x), Number(y)) = (&a, &b) {
            let truth = |t: bool| if t { 1.0 } else { 0.0 };
            return Ok(Number(match op {
                BinaryOp_::Add => x + y,
                BinaryOp_::Sub => x - y,
                BinaryOp_::Mul => x * y,
                BinaryOp_::Div => x / y,
                BinaryOp_::Pow => x.powf(*y),
                BinaryOp_::Eq => truth(x == y),
                BinaryOp_::Ne => truth(x != y),
                BinaryOp_::Lt => truth(x < y),
                BinaryOp_::Le => truth(x <= y),
                BinaryOp_::Gt => truth(x > y),
                BinaryOp_::Ge => truth(x >= y),
                BinaryOp_::And => truth(*x != 0.0 && *y != 0.0),
                BinaryOp_::Or => truth(*x != 0.0 || *y != 0.0),
            }));
        }
        match op {
            BinaryOp_::Add | BinaryOp_::Sub => {
                let sign = if op == BinaryOp_::Add { 1.0 } else { -1.0 };
                match (a, b) {
                    (Tensor { val, scale, bias }, Number(y)) => Ok(Tensor {
                        val,
                        scale,
                        bias: bias + sign * y,
                    }),
                    (Number(x), Tensor { val, scale, bias }) => Ok(Tensor {
                        val,
                        scale: sign * scale,
                        bias: x + sign * bias,
                    }),
                    (a, b) => {
                        let a = self.materialize(a)?;
                        let b = self.materialize(b)?;
                        let op = if sign > 0.0 {
                            tl_tensor::BinaryOp::Add
                        } else {
                            tl_tensor::BinaryOp::Sub
                        };
                        Ok(Operand::of(self.b.binary(op, a, b)?))
                    }
                }
            }
            BinaryOp_::Pow => match (a, b) {
                (base @ Tensor { .. }, Number(exponent)) => {
                    let base = self.materialize(base)?;
                    let unary = match exponent {
                        1.0 => return Ok(Operand::of(base)),
                        2.0 => Some(UnaryOp::Square),
                        0.5 => Some(UnaryOp::Sqrt),
                        -1.0 => Some(UnaryOp::Recip),
                        -0.5 => Some(UnaryOp::Rsqrt),
                        _ => None,
                    };
                    let axes = base.axes.clone();
                    if let Some(unary) = unary {
                        return Ok(Operand::of(self.b.emit(
                            Op::Unary(unary),
                            &[&base],
                            axes,
                        )?));
                    }
                    let exponent = self.b.full(&[], exponent, Vec::new())?;
                    Ok(Operand::of(self.b.binary(
                        tl_tensor::BinaryOp::Pow,
                        base,
                        exponent,
                    )?))
                }
                (a, b) => {
                    let a = self.materialize(a)?;
                    let b = self.materialize(b)?;
                    Ok(Operand::of(self.b.binary(
                        tl_tensor::BinaryOp::Pow,
                        a,
                        b,
                    )?))
                }
            },
            BinaryOp_::And | BinaryOp_::Or => {
                let zero = self.b.full(&[], 0.0, Vec::new())?;
                let a = self.materialize(a)?;
                let a = self.b.compare(CompareOp::Ne, a, zero.clone())?;
                let b = self.materialize(b)?;
                let b = self.b.compare(CompareOp::Ne, b, zero)?;
                let combine = if op == BinaryOp_::And {
                    tl_tensor::BinaryOp::Minimum
                } else {
                    tl_tensor::BinaryOp::Maximum
                };
                Ok(Operand::of(self.b.binary(combine, a, b)?))
            }
            comparison => {
                let compare = match comparison {
                    BinaryOp_::Eq => CompareOp::Eq,
                    BinaryOp_::Ne => CompareOp::Ne,
                    BinaryOp_::Lt => CompareOp::Lt,
                    BinaryOp_::Le => CompareOp::Le,
                    BinaryOp_::Gt => CompareOp::Gt,
                    BinaryOp_::Ge => CompareOp::Ge,
                    _ => return Err(unplannable(span, "an unexpected operator", "here")),
                };
                let a = self.materialize(a)?;
                let b = self.materialize(b)?;
                Ok(Operand::of(self.b.compare(compare, a, b)?))
            }
        }
    }

    /// The factors of a join: `a b`, `a * b` and `a / b` flatten into one product; the
    /// divisor of `/` stays whole (its own sums happen inside it) and is inverted.
    fn factors<'e>(e: &'e Expr, inverted: bool, out: &mut Vec<(&'e Expr, bool)>) {
        match &e.kind {
            ExprKind::Paren(inner) => Self::factors(inner, inverted, out),
            ExprKind::Join(parts) => {
                for part in parts {
                    Self::factors(part, inverted, out);
                }
            }
            ExprKind::Binary {
                op: BinaryOp_::Mul,
                lhs,
                rhs,
            } => {
                Self::factors(lhs, inverted, out);
                Self::factors(rhs, inverted, out);
            }
            ExprKind::Binary {
                op: BinaryOp_::Div,
                lhs,
                rhs,
            } => {
                Self::factors(lhs, inverted, out);
                out.push((rhs, !inverted));
            }
            _ => out.push((e, inverted)),
        }
    }

    fn count_vars(&self, e: &Expr, counts: &mut HashMap<String, usize>) {
        visit_tensor_refs(e, &mut |tensor, _| {
            let Some(list) = &tensor.indices else { return };
            for index in &list.items {
                if let IndexKind::Expr(expr) = &index.kind {
                    if let Some(var) = classify(expr, &self.scope).var() {
                        *counts.entry(var.to_string()).or_default() += 1;
                    }
                }
            }
        });
    }

    fn product(&mut self, e: &Expr, root: bool) -> Result<Operand, Diagnostic> {
        let mut factors = Vec::new();
        Self::factors(e, false, &mut factors);
        let mut counts = HashMap::new();
        for (factor, _) in &factors {
            self.count_vars(factor, &mut counts);
        }
        let projected_at_root = root && matches!(self.op, AssignOp::Max | AssignOp::Min);
        let local: HashSet<String> = counts
            .iter()
            .filter(|(var, count)| {
                self.totals.get(*var) == Some(count)
                    && !self.lhs_vars.contains(*var)
                    && !projected_at_root
            })
            .map(|(var, _)| var.clone())
            .collect();
        let mut scale = 1.0;
        let mut vals = Vec::new();
        for (factor, inverted) in factors {
            match self.expr(factor, false)? {
                Operand::Number(c) => scale *= if inverted { 1.0 / c } else { c },
                Operand::Tensor {
                    val,
                    scale: s,
                    bias,
                } => {
                    let val = if bias == 0.0 {
                        scale *= if inverted { 1.0 / s } else { s };
                        val
                    } else {
                        self.b.affine(val, s, bias)?
                    };
                    let val = if inverted {
                        let axes = val.axes.clone();
                        self.b.emit(Op::Unary(UnaryOp::Recip), &[&val], axes)?
                    } else {
                        val
                    };
                    vals.push(val);
                }
            }
        }
        if vals.is_empty() {
            return Ok(Operand::Number(scale));
        }
        let result = product(&mut self.b, vals, &local, &self.ranges, &self.preferred)?;
        if root && self.op == AssignOp::Avg {
            // The mean over indices summed by the join: divide by how many were summed.
            let count: f64 = local
                .iter()
                .map(|v| self.ranges.get(v).copied().unwrap_or(1) as f64)
                .product();
            scale /= count;
        }
        Ok(Operand::Tensor {
            val: result,
            scale,
            bias: 0.0,
        })
    }

    /// A tensor reference: constant and run-time positions select, shifted and pooled
    /// indices read with zero padding, repeated indices take the diagonal.
    fn reference(&mut self, tensor: &TensorRef) -> Result<Operand, Diagnostic> {
        let name = tensor.name.joined();
        let Some(list) = &tensor.indices else {
            if let Some(value) = self.env.constant(&name) {
                return Ok(Operand::Number(value));
            }
            if let Some(info) = self.env.tensor(&name) {
                if info.rank() == 0 {
                    let val = self
                        .b
                        .input(Source::Tensor(name), &[], DType::F32, Vec::new());
                    return Ok(Operand::of(val));
                }
                return Err(Diagnostic::error(
                    codes::MISSING_INDICES,
                    format!(
                        "`{name}` has {} axes but is used without indices",
                        info.rank()
                    ),
                    tensor.span,
                    "no indices",
                ));
            }
            if self.env.is_runtime(&name) {
                let val = self
                    .b
                    .input(Source::Scalar(name), &[], DType::F32, Vec::new());
                return Ok(Operand::of(val));
            }
            return Err(Diagnostic::error(
                codes::UNDEFINED_VARIABLE,
                format!("cannot find `{name}`"),
                tensor.span,
                "not defined when planning",
            ));
        };
        let shape = self.tensor_shape(tensor).ok_or_else(|| {
            Diagnostic::error(
                codes::UNKNOWN_INDEX_SIZE,
                format!("the shape of `{name}` is not known"),
                tensor.name.span,
                "shape unknown when planning",
            )
        })?;
        let forms: Vec<(IndexForm, Span)> = list
            .items
            .iter()
            .map(|index| match &index.kind {
                IndexKind::Expr(e) => (classify(e, &self.scope), index.span),
                IndexKind::Slice { .. } => (IndexForm::Unsupported, index.span),
            })
            .collect();
        // Axes keep their variable's name (repeats get a temporary one); selected axes
        // are unnamed until they go.
        let mut names: Vec<String> = Vec::new();
        let mut initial: Vec<String> = Vec::new();
        let mut kept_forms = Vec::new();
        for (form, span) in &forms {
            match form.var() {
                Some(var) => {
                    let name = if names.iter().any(|n| n == var) {
                        format!("{var}#{}", names.len())
                    } else {
                        var.to_string()
                    };
                    names.push(name.clone());
                    initial.push(name);
                    kept_forms.push((form.clone(), *span));
                }
                None => initial.push("·".to_string()),
            }
        }
        let mut val = self
            .b
            .input(Source::Tensor(name.clone()), &shape, DType::F32, initial);
        // Selections, from the last axis back so that earlier axis numbers stay valid.
        for (axis, (form, span)) in forms.iter().enumerate().rev() {
            let position = match form {
                IndexForm::Const(p) => Some(*p),
                IndexForm::Symbol(symbol) => Some(
                    self.env
                        .symbol_position(&name, axis, symbol)
                        .ok_or_else(|| {
                            Diagnostic::error(
                                codes::SYMBOL_NOT_IN_DOMAIN,
                                format!("`{symbol}` is not a position of axis {axis} of `{name}`"),
                                *span,
                                "unknown symbol here",
                            )
                        })? as i64,
                ),
                IndexForm::Runtime { name: var, offset } => {
                    let index = self.b.input(
                        Source::Position {
                            name: var.clone(),
                            offset: *offset,
                        },
                        &[1],
                        DType::I64,
                        vec!["·".into()],
                    );
                    let axes = val.axes.clone();
                    let picked = self
                        .b
                        .emit(Op::IndexSelect { axis }, &[&val, &index], axes)?;
                    val = self.b.squeeze(&picked, axis)?;
                    None
                }
                _ => None,
            };
            if let Some(p) = position {
                let size = shape[axis];
                if p < 0 || p as usize >= size {
                    return Err(Diagnostic::error(
                        codes::INDEX_OUT_OF_RANGE,
                        format!("position {p} is outside axis {axis} of `{name}`, of size {size}"),
                        *span,
                        format!("position {p} of {size}"),
                    ));
                }
                let axes = val.axes.clone();
                let narrowed = self.b.emit(
                    Op::Narrow {
                        axis,
                        start: p as usize,
                        len: 1,
                    },
                    &[&val],
                    axes,
                )?;
                val = self.b.squeeze(&narrowed, axis)?;
            }
        }
        val.axes = names;
        for (axis, (form, span)) in kept_forms.iter().enumerate() {
            let range = self.range(form.var().unwrap_or_default())?;
            match form {
                IndexForm::Var(var) if val.shape[axis] != range => {
                    return Err(Diagnostic::error(
                        codes::INDEX_SIZE_MISMATCH,
                        format!("index `{var}` has two different sizes"),
                        *span,
                        format!("axis {axis} of `{name}` has size {}", val.shape[axis]),
                    ));
                }
                IndexForm::Shift { offset, .. } => {
                    val = self.b.shift(val, axis, *offset, range)?;
                }
                IndexForm::Pool { factor, .. } => {
                    let factor = *factor as usize;
                    let n = val.shape[axis];
                    let unit = self.b.unsqueeze(&val, axis + 1, "·")?;
                    let mut expanded_shape = unit.shape.clone();
                    expanded_shape[axis + 1] = factor;
                    let axes = unit.axes.clone();
                    let expanded = self.b.emit(
                        Op::Expand {
                            shape: expanded_shape,
                        },
                        &[&unit],
                        axes,
                    )?;
                    let mut shape = val.shape.clone();
                    shape[axis] = n.saturating_mul(factor);
                    let repeated = self.b.reshape(&expanded, shape, val.axes.clone())?;
                    val = self.b.shift(repeated, axis, 0, range)?;
                }
                _ => {}
            }
        }
        // Repeated variables: the diagonal, by a gather along the second occurrence.
        while let Some(second) = val.axes.iter().position(|a| a.contains('#')) {
            let var = val.axes[second]
                .split('#')
                .next()
                .unwrap_or_default()
                .to_string();
            let first = val
                .position(&var)
                .ok_or_else(|| self.b.internal("lost a repeated index"))?;
            let mut order: Vec<String> = val
                .axes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != first && *i != second)
                .map(|(_, a)| a.clone())
                .collect();
            let rest = order.len();
            order.push(var.clone());
            order.push(val.axes[second].clone());
            val = self.b.permute_to(val, &order)?;
            let n = val.shape[rest];
            let positions = self.b.emit(
                Op::Arange {
                    start: 0.0,
                    step: 1.0,
                    len: n,
                    dtype: DType::I64,
                },
                &[],
                vec![var.clone()],
            )?;
            let mut index_shape = vec![1; rest];
            index_shape.extend([n, 1]);
            let mut index_axes = vec!["·".to_string(); rest];
            index_axes.extend([var.clone(), "·".to_string()]);
            let index = self
                .b
                .reshape(&positions, index_shape.clone(), index_axes.clone())?;
            let index = if rest > 0 {
                let mut full = val.shape[..rest].to_vec();
                full.extend([n, 1]);
                self.b
                    .emit(Op::Expand { shape: full }, &[&index], index_axes)?
            } else {
                index
            };
            let mut axes = val.axes.clone();
            axes[rest + 1] = "·".into();
            let gathered = self
                .b
                .emit(Op::Gather { axis: rest + 1 }, &[&val, &index], axes)?;
            val = self.b.squeeze(&gathered, rest + 1)?;
        }
        Ok(Operand::of(val))
    }

    /// A function's argument, with the indices that occur only inside it (and not on the
    /// left) summed: a function applies to the projection of what it is given, so
    /// `step(Parent[x, y])` is "x has some child" and `relu(W[i, j])` is `relu(Σ_j W)`.
    fn argument(&mut self, e: &Expr) -> Result<Operand, Diagnostic> {
        let value = self.expr(e, false)?;
        let Operand::Tensor { val, .. } = &value else {
            return Ok(value);
        };
        let mut counts = HashMap::new();
        self.count_vars(e, &mut counts);
        let local: Vec<String> = val
            .axes
            .iter()
            .filter(|axis| {
                counts.contains_key(*axis)
                    && self.totals.get(*axis) == counts.get(*axis)
                    && !self.lhs_vars.contains(*axis)
            })
            .cloned()
            .collect();
        if local.is_empty() {
            return Ok(value);
        }
        let val = self.materialize(value)?;
        Ok(Operand::of(reduce_axes(
            &mut self.b,
            val,
            &local,
            ReduceOp::Sum,
        )?))
    }

    fn call(&mut self, call: &Call) -> Result<Operand, Diagnostic> {
        let span = call.callee.span.to(call.args_span);
        let Some(builtin) = builtins::lookup(&call.callee.text) else {
            return Err(unplannable(
                span,
                format!("`{}` cannot be called inside an equation", call.callee.text),
                "a function call",
            )
            .with_help("call functions in a `let` (`let h = f(x)`) and index the result"));
        };
        let bound = builtins::bind(builtin, call)?;
        let arg =
            |i: usize| bound.args[i].ok_or_else(|| unplannable(span, "a missing argument", "here"));
        match builtin.kind {
            BuiltinKind::Elementwise(op) => match self.argument(arg(0)?)? {
                Operand::Number(x) => Ok(Operand::Number(builtins::fold_unary(op, x))),
                value => {
                    let val = self.materialize(value)?;
                    let axes = val.axes.clone();
                    Ok(Operand::of(self.b.emit(Op::Unary(op), &[&val], axes)?))
                }
            },
            BuiltinKind::Pairwise(op) => {
                let a = self.argument(arg(0)?)?;
                let b = self.argument(arg(1)?)?;
                if let (Operand::Number(x), Operand::Number(y)) = (&a, &b) {
                    return Ok(Operand::Number(builtins::fold_binary(op, *x, *y)));
                }
                let a = self.materialize(a)?;
                let b = self.materialize(b)?;
                Ok(Operand::of(self.b.binary(op, a, b)?))
            }
            BuiltinKind::Normalize { log } => {
                let argument = arg(0)?;
                let value = self.argument(argument)?;
                let val = self.materialize(value)?;
                let axis = self.normalisation_axis(argument, &val, call)?;
                let op = if log {
                    Op::LogSoftmax { axis }
                } else {
                    Op::Softmax { axis }
                };
                let axes = val.axes.clone();
                Ok(Operand::of(self.b.emit(op, &[&val], axes)?))
            }
            BuiltinKind::RmsNorm | BuiltinKind::LayerNorm => {
                let argument = arg(0)?;
                let value = self.argument(argument)?;
                let x = self.materialize(value)?;
                let axis = self.normalisation_axis(argument, &x, call)?;
                let var = x.axes[axis].clone();
                let mut order: Vec<String> =
                    x.axes.iter().filter(|a| **a != var).cloned().collect();
                order.push(var.clone());
                let x = self.b.permute_to(x, &order)?;
                let mut args = vec![x];
                let extra = if builtin.kind == BuiltinKind::RmsNorm {
                    1
                } else {
                    2
                };
                for i in 1..=extra {
                    let value = self.argument(arg(i)?)?;
                    let v = self.materialize(value)?;
                    if v.axes != [var.clone()] {
                        return Err(unplannable(
                            bound.args[i].map(|e| e.span).unwrap_or(span),
                            format!(
                                "the {} of `{}` must be indexed by the normalisation axis `{var}` alone",
                                builtin.params[i].name, builtin.name
                            ),
                            "indexed differently",
                        ));
                    }
                    args.push(v);
                }
                let eps = match bound.get("eps") {
                    Some(e) => {
                        constant::evaluate(e, &|n| self.env.constant(n)).ok_or_else(|| {
                            unplannable(e.span, "`eps` must be a constant", "not a constant")
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
                Ok(Operand::of(self.b.emit(op, &refs, axes)?))
            }
            BuiltinKind::Load
            | BuiltinKind::Init(_)
            | BuiltinKind::Optimizer(_)
            | BuiltinKind::Output(_) => Err(unplannable(
                span,
                format!(
                    "`{}` cannot appear inside an indexed equation",
                    builtin.name
                ),
                "here",
            )
            .with_help(
                "give its result a name first (`E = load(\"e.npy\")`), then index that name",
            )),
        }
    }

    /// The axis a normalising function runs along: a dotted index in its argument, else
    /// the left's dotted index, else the argument's only index.
    fn normalisation_axis(
        &self,
        argument: &Expr,
        val: &Val,
        call: &Call,
    ) -> Result<usize, Diagnostic> {
        let mut dotted: Option<String> = None;
        visit_tensor_refs(argument, &mut |tensor, _| {
            let Some(list) = &tensor.indices else { return };
            for index in &list.items {
                if let (true, IndexKind::Expr(e)) = (index.dotted, &index.kind) {
                    if let Some(var) = classify(e, &self.scope).var() {
                        dotted.get_or_insert_with(|| var.to_string());
                    }
                }
            }
        });
        let var = dotted
            .or_else(|| self.lhs_dot.clone().filter(|d| val.axes.contains(d)))
            .or_else(|| (val.axes.len() == 1).then(|| val.axes[0].clone()));
        var.and_then(|v| val.position(&v)).ok_or_else(|| {
            Diagnostic::error(
                codes::NO_NORMALISATION_AXIS,
                format!("`{}` needs a normalisation axis", call.callee.text),
                call.callee.span.to(call.args_span),
                "which axis?",
            )
            .with_help("mark the axis with a dot on the left, as in `Comp[p, p'.] = softmax(…)`")
        })
    }

    /// Projection, broadcasting to left-only indices, index arithmetic on the left, the
    /// left's axis order, and the update of fixed positions.
    fn finish(&mut self, rhs: Operand, eq: &Equation, old: OldValue) -> Result<Val, Diagnostic> {
        let linear = matches!(
            self.op,
            AssignOp::Assign | AssignOp::AddAssign | AssignOp::Avg
        );
        let (mut val, pending_scale) = match rhs {
            Operand::Number(value) => (self.b.full(&[], value, Vec::new())?, 1.0),
            Operand::Tensor { val, scale, bias } if bias == 0.0 && (linear || scale >= 0.0) => {
                (val, scale)
            }
            Operand::Tensor { val, scale, bias } => (self.b.affine(val, scale, bias)?, 1.0),
        };

        let lhs_axes = self.lhs_axes(eq)?;
        // Pooling on the left: split the variable's axis into (pooled, window).
        for axis in &lhs_axes {
            if let LhsAxis::Pool { var, factor, name } = axis {
                let position = val.position(var).ok_or_else(|| {
                    unplannable(
                        eq.lhs.span,
                        format!("the pooled index `{var}` must occur on the right"),
                        "pooled here",
                    )
                })?;
                let n = val.shape[position];
                if n % factor != 0 {
                    return Err(Diagnostic::error(
                        codes::INDIVISIBLE_POOLING,
                        format!("pooling by {factor} over an axis of size {n}"),
                        eq.lhs.span,
                        format!("{n} is not a multiple of {factor}"),
                    ));
                }
                let mut shape = val.shape.clone();
                shape.splice(position..=position, [n / factor, *factor]);
                let mut axes = val.axes.clone();
                axes.splice(
                    position..=position,
                    [name.clone(), format!("{var}%{factor}")],
                );
                val = self.b.reshape(&val, shape, axes)?;
            }
        }
        let keep: Vec<String> = lhs_axes
            .iter()
            .filter_map(|axis| match axis {
                LhsAxis::Var { var, .. } => Some(var.clone()),
                LhsAxis::Pool { name, .. } => Some(name.clone()),
                LhsAxis::Fixed { .. } => None,
            })
            .collect();
        let projected: Vec<String> = val
            .axes
            .iter()
            .filter(|a| !keep.contains(a))
            .cloned()
            .collect();
        let reduce = match self.op {
            AssignOp::Assign | AssignOp::AddAssign => ReduceOp::Sum,
            AssignOp::Max => ReduceOp::Max,
            AssignOp::Min => ReduceOp::Min,
            AssignOp::Avg => ReduceOp::Mean,
        };
        val = reduce_axes(&mut self.b, val, &projected, reduce)?;
        val = self.b.affine(val, pending_scale, 0.0)?;

        // Indices only on the left broadcast over their range.
        for var in &keep {
            if val.position(var).is_none() {
                let range = self.ranges.get(var).copied().ok_or_else(|| {
                    unplannable(
                        eq.lhs.span,
                        format!("cannot infer the range of `{var}`"),
                        "here",
                    )
                })?;
                let rank = val.rank();
                let unit = self.b.unsqueeze(&val, rank, var)?;
                let mut shape = unit.shape.clone();
                shape[rank] = range;
                let axes = unit.axes.clone();
                val = self.b.emit(Op::Expand { shape }, &[&unit], axes)?;
            }
        }
        // A variable repeated on the left writes the diagonal: multiply by an identity.
        for axis in &lhs_axes {
            if let LhsAxis::Var { var, name, .. } = axis {
                if name != var {
                    let n = self.range(var)?;
                    let positions = self.b.emit(
                        Op::Arange {
                            start: 0.0,
                            step: 1.0,
                            len: n,
                            dtype: DType::I64,
                        },
                        &[],
                        vec![var.clone()],
                    )?;
                    let rows =
                        self.b
                            .reshape(&positions, vec![n, 1], vec![var.clone(), "·".into()])?;
                    let columns =
                        self.b
                            .reshape(&positions, vec![1, n], vec!["·".into(), name.clone()])?;
                    let same = self.b.emit(
                        Op::Compare(CompareOp::Eq),
                        &[&rows, &columns],
                        vec![var.clone(), name.clone()],
                    )?;
                    let identity = self.b.emit(
                        Op::Cast { dtype: DType::F32 },
                        &[&same],
                        vec![var.clone(), name.clone()],
                    )?;
                    val = self.b.binary(tl_tensor::BinaryOp::Mul, val, identity)?;
                }
            }
        }
        // Index arithmetic on the left moves values: `X[t+1] = R[t]`.
        for axis in &lhs_axes {
            if let LhsAxis::Var { name, shift, var } = axis {
                if *shift != 0 {
                    let position = val
                        .position(name)
                        .ok_or_else(|| self.b.internal("lost a shifted axis"))?;
                    let range = self.range(var)?;
                    val = self.b.shift(val, position, -*shift, range)?;
                }
            }
        }
        let order: Vec<String> = lhs_axes
            .iter()
            .filter_map(|axis| match axis {
                LhsAxis::Var { name, .. } | LhsAxis::Pool { name, .. } => Some(name.clone()),
                LhsAxis::Fixed { .. } => None,
            })
            .collect();
        val = self.b.permute_to(val, &order)?;

        let fixed: Vec<(usize, Fixed, Span)> = lhs_axes
            .iter()
            .enumerate()
            .filter_map(|(i, axis)| match axis {
                LhsAxis::Fixed { position, span } => Some((i, position.clone(), *span)),
                _ => None,
            })
            .collect();
        let add = self.op == AssignOp::AddAssign;
        let target_info = self.env.tensor(&self.target);
        if fixed.is_empty() {
            if add && old == OldValue::Target {
                if let Some(info) = target_info {
                    let names = val.axes.clone();
                    let current = self.b.input(
                        Source::Target(self.target.clone()),
                        &info.shape,
                        DType::F32,
                        names,
                    );
                    val = self.b.binary(tl_tensor::BinaryOp::Add, current, val)?;
                }
            }
            return Ok(val);
        }
        for (position, _, _) in &fixed {
            val = self.b.unsqueeze(&val, *position, &format!("@{position}"))?;
        }
        let info = target_info.ok_or_else(|| {
            Diagnostic::error(
                codes::UNKNOWN_INDEX_SIZE,
                format!(
                    "the shape of `{}` must be known to set some of its positions",
                    self.target
                ),
                eq.lhs.span,
                "fixed positions here",
            )
            .with_help("define the whole tensor first, or declare it as a `param`")
        })?;
        let names: Vec<String> = lhs_axes
            .iter()
            .enumerate()
            .map(|(i, axis)| match axis {
                LhsAxis::Var { name, .. } | LhsAxis::Pool { name, .. } => name.clone(),
                LhsAxis::Fixed { .. } => format!("@{i}"),
            })
            .collect();
        let current = match old {
            OldValue::Target => self.b.input(
                Source::Target(self.target.clone()),
                &info.shape,
                DType::F32,
                names,
            ),
            OldValue::Zeros => self.b.full(&info.shape, 0.0, names)?,
        };
        let positions: Vec<(usize, Fixed, Span)> = fixed;
        self.update(current, val, &positions, add)
    }

    /// `old` with the positions `fixed` replaced by (or, for `+=`, increased by) `value`.
    fn update(
        &mut self,
        old: Val,
        value: Val,
        fixed: &[(usize, Fixed, Span)],
        add: bool,
    ) -> Result<Val, Diagnostic> {
        let Some(((axis, position, span), rest)) = fixed.split_first() else {
            return if add {
                self.b.binary(tl_tensor::BinaryOp::Add, old, value)
            } else {
                Ok(value)
            };
        };
        let axis = *axis;
        let n = old.shape[axis];
        let axes = old.axes.clone();
        match position {
            Fixed::Const(p) => {
                if *p < 0 || *p as usize >= n {
                    return Err(Diagnostic::error(
                        codes::INDEX_OUT_OF_RANGE,
                        format!(
                            "position {p} is outside axis {axis} of `{}`, of size {n}",
                            self.target
                        ),
                        *span,
                        format!("position {p} of {n}"),
                    ));
                }
                let p = *p as usize;
                let row = self.b.emit(
                    Op::Narrow {
                        axis,
                        start: p,
                        len: 1,
                    },
                    &[&old],
                    axes.clone(),
                )?;
                let new_row = self.update(row, value, rest, add)?;
                let mut pieces = Vec::new();
                if p > 0 {
                    pieces.push(self.b.emit(
                        Op::Narrow {
                            axis,
                            start: 0,
                            len: p,
                        },
                        &[&old],
                        axes.clone(),
                    )?);
                }
                pieces.push(new_row);
                if p + 1 < n {
                    pieces.push(self.b.emit(
                        Op::Narrow {
                            axis,
                            start: p + 1,
                            len: n - p - 1,
                        },
                        &[&old],
                        axes.clone(),
                    )?);
                }
                if pieces.len() == 1 {
                    return pieces.pop().ok_or_else(|| self.b.internal("no pieces"));
                }
                let refs: Vec<&Val> = pieces.iter().collect();
                self.b.emit(Op::Concat { axis }, &refs, axes)
            }
            Fixed::Runtime { name, offset } => {
                let index = self.b.input(
                    Source::Position {
                        name: name.clone(),
                        offset: *offset,
                    },
                    &[1],
                    DType::I64,
                    vec!["·".into()],
                );
                let row = self
                    .b
                    .emit(Op::IndexSelect { axis }, &[&old, &index], axes.clone())?;
                let new_row = self.update(row.clone(), value, rest, add)?;
                let delta = self.b.binary(tl_tensor::BinaryOp::Sub, new_row, row)?;
                self.b
                    .emit(Op::IndexAdd { axis }, &[&old, &index, &delta], axes)
            }
        }
    }

    fn lhs_axes(&self, eq: &Equation) -> Result<Vec<LhsAxis>, Diagnostic> {
        let mut out = Vec::new();
        let Some(list) = &eq.lhs.indices else {
            return Ok(out);
        };
        let mut seen: Vec<String> = Vec::new();
        for (axis, index) in list.items.iter().enumerate() {
            let IndexKind::Expr(e) = &index.kind else {
                return Err(Diagnostic::error(
                    codes::MISPLACED_SLICE,
                    "the left side of an equation cannot be sliced",
                    index.span,
                    "a slice on the left",
                ));
            };
            let form = classify(e, &self.scope);
            let mut named = |var: &str| {
                let count = seen.iter().filter(|s| *s == var).count();
                seen.push(var.to_string());
                if count == 0 {
                    var.to_string()
                } else {
                    format!("{var}#{count}")
                }
            };
            out.push(match form {
                IndexForm::Var(var) => LhsAxis::Var {
                    name: named(&var),
                    var,
                    shift: 0,
                },
                IndexForm::Shift { var, offset } => LhsAxis::Var {
                    name: named(&var),
                    var,
                    shift: offset,
                },
                IndexForm::Pool { var, factor } => LhsAxis::Pool {
                    name: format!("{var}/{factor}"),
                    var,
                    factor: factor as usize,
                },
                IndexForm::Const(p) => LhsAxis::Fixed {
                    position: Fixed::Const(p),
                    span: index.span,
                },
                IndexForm::Symbol(symbol) => LhsAxis::Fixed {
                    position: Fixed::Const(
                        self.env
                            .symbol_position(&self.target, axis, &symbol)
                            .ok_or_else(|| {
                                Diagnostic::error(
                                    codes::SYMBOL_NOT_IN_DOMAIN,
                                    format!(
                                        "`{symbol}` is not a position of axis {axis} of `{}`",
                                        self.target
                                    ),
                                    index.span,
                                    "unknown symbol here",
                                )
                            })? as i64,
                    ),
                    span: index.span,
                },
                IndexForm::Runtime { name, offset } => LhsAxis::Fixed {
                    position: Fixed::Runtime { name, offset },
                    span: index.span,
                },
                IndexForm::Unsupported => {
                    return Err(Diagnostic::error(
                        codes::UNSUPPORTED_INDEX,
                        "unsupported index expression",
                        e.span,
                        "not an index form the planner knows",
                    ))
                }
            });
        }
        Ok(out)
    }
}

use crate::ast::BinaryOp as BinaryOp_;
use crate::ast::UnaryOp as UnaryOp_;
