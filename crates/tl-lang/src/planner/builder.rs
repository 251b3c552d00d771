//! Emits plan steps, checking each one with the tensor library's shape rules as it goes,
//! and the small view manipulations every lowering needs (permute, unsqueeze, align,
//! shift with zero padding).

use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::plan::{step_spec, Input, Plan, Source, Step, ValueId};
use crate::span::Span;
use tl_tensor::signature::TensorSpec;
use tl_tensor::{BinaryOp, CompareOp, DType, Op};

/// A planned value with a name for each axis: an index variable, or `·` for internal axes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Val {
    pub id: ValueId,
    pub axes: Vec<String>,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl Val {
    pub fn position(&self, axis: &str) -> Option<usize> {
        self.axes.iter().position(|a| a == axis)
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

/// The name of axes that belong to no index variable.
pub(crate) const INTERNAL: &str = "·";

pub(crate) struct Builder {
    pub inputs: Vec<Input>,
    pub steps: Vec<Step>,
    next: ValueId,
    /// Where errors point: the equation being planned.
    pub span: Span,
}

impl Builder {
    pub fn new(span: Span) -> Builder {
        Builder {
            inputs: Vec::new(),
            steps: Vec::new(),
            next: 0,
            span,
        }
    }

    fn fresh(&mut self) -> ValueId {
        self.next += 1;
        self.next - 1
    }

    /// An input value; the same source read twice is one input.
    pub fn input(
        &mut self,
        source: Source,
        shape: &[usize],
        dtype: DType,
        axes: Vec<String>,
    ) -> Val {
        if let Some(existing) = self
            .inputs
            .iter()
            .find(|i| i.source == source && i.shape == shape && i.dtype == dtype)
        {
            return Val {
                id: existing.value,
                axes,
                shape: shape.to_vec(),
                dtype,
            };
        }
        let id = self.fresh();
        self.inputs.push(Input {
            value: id,
            source,
            shape: shape.to_vec(),
            dtype,
        });
        Val {
            id,
            axes,
            shape: shape.to_vec(),
            dtype,
        }
    }

    /// Appends `op` on `args`, deriving the result's shape; a step the tensor library
    /// rejects becomes a diagnostic at the equation.
    pub fn emit(&mut self, op: Op, args: &[&Val], axes: Vec<String>) -> Result<Val, Diagnostic> {
        let specs: Vec<TensorSpec> = args
            .iter()
            .map(|v| TensorSpec::new(&v.shape, v.dtype))
            .collect();
        let spec = step_spec(&op, &specs).map_err(|detail| {
            let shapes: Vec<String> = args.iter().map(|v| format!("{:?}", v.shape)).collect();
            Diagnostic::error(
                codes::UNPLANNABLE,
                format!(
                    "cannot lower this equation: {} on {}: {detail}",
                    op.name(),
                    shapes.join(" and ")
                ),
                self.span,
                "in this equation",
            )
        })?;
        if axes.len() != spec.shape.len() {
            return Err(Diagnostic::error(
                codes::UNPLANNABLE,
                format!(
                    "cannot lower this equation: {} gives rank {} but {} axes are named",
                    op.name(),
                    spec.shape.len(),
                    axes.len()
                ),
                self.span,
                "in this equation",
            ));
        }
        let id = self.fresh();
        self.steps.push(Step {
            value: id,
            op,
            args: args.iter().map(|v| v.id).collect(),
            shape: spec.shape.clone(),
            dtype: spec.dtype,
            axes: axes.clone(),
        });
        Ok(Val {
            id,
            axes,
            shape: spec.shape,
            dtype: spec.dtype,
        })
    }

    pub fn finish(self, target: String, equation: String, output: &Val) -> Plan {
        Plan {
            target,
            equation,
            inputs: self.inputs,
            steps: self.steps,
            output: output.id,
            shape: output.shape.clone(),
            dtype: output.dtype,
        }
    }

    /// Reorders the axes of `v` to `order` (a permutation of its axes); nothing when they
    /// already are.
    pub fn permute_to(&mut self, v: Val, order: &[String]) -> Result<Val, Diagnostic> {
        if v.axes == order {
            return Ok(v);
        }
        let dims: Vec<usize> = order
            .iter()
            .map(|axis| v.position(axis))
            .collect::<Option<_>>()
            .ok_or_else(|| self.internal("permutation of unknown axes"))?;
        self.emit(Op::Permute { dims }, &[&v], order.to_vec())
    }

    pub fn unsqueeze(&mut self, v: &Val, axis: usize, name: &str) -> Result<Val, Diagnostic> {
        let mut axes = v.axes.clone();
        axes.insert(axis, name.to_string());
        self.emit(Op::Unsqueeze { axis }, &[v], axes)
    }

    pub fn squeeze(&mut self, v: &Val, axis: usize) -> Result<Val, Diagnostic> {
        let mut axes = v.axes.clone();
        axes.remove(axis);
        self.emit(Op::Squeeze { axis }, &[v], axes)
    }

    pub fn reshape(
        &mut self,
        v: &Val,
        shape: Vec<usize>,
        axes: Vec<String>,
    ) -> Result<Val, Diagnostic> {
        if v.shape == shape {
            return Ok(Val { axes, ..v.clone() });
        }
        self.emit(Op::Reshape { shape }, &[v], axes)
    }

    pub fn full(
        &mut self,
        shape: &[usize],
        value: f64,
        axes: Vec<String>,
    ) -> Result<Val, Diagnostic> {
        self.emit(
            Op::Full {
                shape: shape.to_vec(),
                dtype: DType::F32,
                value,
            },
            &[],
            axes,
        )
    }

    pub fn affine(&mut self, v: Val, scale: f64, bias: f64) -> Result<Val, Diagnostic> {
        if scale == 1.0 && bias == 0.0 {
            return Ok(v);
        }
        let axes = v.axes.clone();
        self.emit(Op::Affine { scale, bias }, &[&v], axes)
    }

    pub fn binary(&mut self, op: BinaryOp, a: Val, b: Val) -> Result<Val, Diagnostic> {
        let (a, b, axes) = self.align2(a, b)?;
        self.emit(Op::Binary(op), &[&a, &b], axes)
    }

    /// `a op b` as 1.0 / 0.0 in f32.
    pub fn compare(&mut self, op: CompareOp, a: Val, b: Val) -> Result<Val, Diagnostic> {
        let (a, b, axes) = self.align2(a, b)?;
        let truth = self.emit(Op::Compare(op), &[&a, &b], axes.clone())?;
        self.emit(Op::Cast { dtype: DType::F32 }, &[&truth], axes)
    }

    /// Brings two values to one axis order and rank (missing axes become size 1), so that
    /// elementwise ops broadcast them index by index.
    pub fn align2(&mut self, a: Val, b: Val) -> Result<(Val, Val, Vec<String>), Diagnostic> {
        let mut vals = self.align(vec![a, b])?;
        let b = vals
            .pop()
            .ok_or_else(|| self.internal("align lost a value"))?;
        let a = vals
            .pop()
            .ok_or_else(|| self.internal("align lost a value"))?;
        let axes = union_axes(&[&a, &b]);
        Ok((a, b, axes))
    }

    /// Aligns values to the union of their axes: the largest value's order first, then the
    /// others' new axes in order of appearance.
    pub fn align(&mut self, vals: Vec<Val>) -> Result<Vec<Val>, Diagnostic> {
        let refs: Vec<&Val> = vals.iter().collect();
        let union = union_axes(&refs);
        let mut out = Vec::new();
        for v in vals {
            let order: Vec<String> = union
                .iter()
                .filter(|a| v.axes.contains(a))
                .cloned()
                .collect();
            let mut v = self.permute_to(v, &order)?;
            for (position, axis) in union.iter().enumerate() {
                if !v.axes.contains(axis) {
                    v = self.unsqueeze(&v, position, axis)?;
                    // The unit axis keeps the name only for bookkeeping; its size is 1.
                }
            }
            out.push(v);
        }
        Ok(out)
    }

    /// `out[t] = v[t + offset]` along `axis` for `t` in `0..len`, zero where `t + offset`
    /// falls outside `v` (index arithmetic such as `X[t+1]`).
    pub fn shift(
        &mut self,
        v: Val,
        axis: usize,
        offset: i64,
        len: usize,
    ) -> Result<Val, Diagnostic> {
        let n = v.shape[axis] as i64;
        if offset == 0 && n == len as i64 {
            return Ok(v);
        }
        let len_i = len as i64;
        let lo = (-offset).clamp(0, len_i);
        let hi = (n - offset).clamp(lo, len_i);
        let axes = v.axes.clone();
        let mut shape = v.shape.clone();
        if hi <= lo {
            shape[axis] = len;
            return self.full(&shape, 0.0, axes);
        }
        let middle = self.emit(
            Op::Narrow {
                axis,
                start: (lo + offset) as usize,
                len: (hi - lo) as usize,
            },
            &[&v],
            axes.clone(),
        )?;
        let mut pieces = Vec::new();
        if lo > 0 {
            shape[axis] = lo as usize;
            pieces.push(self.full(&shape, 0.0, axes.clone())?);
        }
        pieces.push(middle);
        if hi < len_i {
            shape[axis] = (len_i - hi) as usize;
            pieces.push(self.full(&shape, 0.0, axes.clone())?);
        }
        if pieces.len() == 1 {
            return pieces.pop().ok_or_else(|| self.internal("no pieces"));
        }
        let refs: Vec<&Val> = pieces.iter().collect();
        self.emit(Op::Concat { axis }, &refs, axes)
    }

    pub fn internal(&self, what: &str) -> Diagnostic {
        Diagnostic::error(
            codes::UNPLANNABLE,
            format!("cannot lower this equation: {what}"),
            self.span,
            "in this equation",
        )
    }
}

/// The axes of several values: the largest value's order, then the others' new axes.
pub(crate) fn union_axes(vals: &[&Val]) -> Vec<String> {
    let mut sorted: Vec<&&Val> = vals.iter().collect();
    sorted.sort_by_key(|v| std::cmp::Reverse(v.rank()));
    let mut union: Vec<String> = Vec::new();
    for v in sorted {
        for axis in &v.axes {
            if !union.contains(axis) {
                union.push(axis.clone());
            }
        }
    }
    union
}
