//! Output shapes and dtypes of every op, and the validation of its inputs.
//!
//! This is the one place that decides whether an op applies to its inputs; backends rely on
//! it and never re-check.

use crate::error::{Result, TensorError};
use crate::layout::broadcast_shapes;
use crate::op::{CompareOp, LinearNorm, Op, ReduceOp};
use crate::DType;

/// Shape and dtype of a tensor, without its data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl TensorSpec {
    pub fn new(shape: &[usize], dtype: DType) -> Self {
        TensorSpec {
            shape: shape.to_vec(),
            dtype,
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

fn arity(op: &Op, inputs: &[TensorSpec], expected: usize) -> Result<()> {
    if inputs.len() != expected {
        return Err(TensorError::Arity {
            op: op.name(),
            expected,
            got: inputs.len(),
        });
    }
    Ok(())
}

fn require_float(op: &Op, dtype: DType) -> Result<()> {
    if !dtype.is_float() {
        return Err(TensorError::UnsupportedDType {
            op: op.name(),
            dtype,
            detail: " (expects f32, f16 or bf16)".into(),
        });
    }
    Ok(())
}

fn require_numeric(op: &Op, dtype: DType) -> Result<()> {
    if !(dtype.is_float() || matches!(dtype, DType::I32 | DType::I64)) {
        return Err(TensorError::UnsupportedDType {
            op: op.name(),
            dtype,
            detail: " (expects a float dtype, i32 or i64)".into(),
        });
    }
    Ok(())
}

fn require_unquantized(op: &Op, dtype: DType) -> Result<()> {
    if dtype.is_quantized() {
        return Err(TensorError::UnsupportedDType {
            op: op.name(),
            dtype,
            detail: " (expects an unquantized dtype)".into(),
        });
    }
    Ok(())
}

fn require_index(op: &Op, dtype: DType) -> Result<()> {
    if !matches!(dtype, DType::I32 | DType::I64) {
        return Err(TensorError::UnsupportedDType {
            op: op.name(),
            dtype,
            detail: " for indices (expects i32 or i64)".into(),
        });
    }
    Ok(())
}

fn same_dtype(op: &Op, a: DType, b: DType) -> Result<()> {
    if a != b {
        return Err(TensorError::DTypeMismatch {
            op: op.name(),
            lhs: a,
            rhs: b,
        });
    }
    Ok(())
}

fn check_axis(op: &Op, axis: usize, rank: usize) -> Result<()> {
    if axis >= rank {
        return Err(TensorError::BadAxis {
            op: op.name(),
            axis: axis as isize,
            rank,
        });
    }
    Ok(())
}

fn mismatch(op: &Op, lhs: &[usize], rhs: &[usize], detail: impl Into<String>) -> TensorError {
    TensorError::ShapeMismatch {
        op: op.name(),
        lhs: lhs.to_vec(),
        rhs: rhs.to_vec(),
        detail: detail.into(),
    }
}

/// The output of `x [.., k] · wᵀ` for `w [n, k]`: `[.., n]` in x's dtype.
fn product_spec(op: &Op, x: &TensorSpec, w: &TensorSpec) -> Result<TensorSpec> {
    if w.shape.len() != 2 || x.shape.is_empty() || x.shape[x.shape.len() - 1] != w.shape[1] {
        return Err(mismatch(
            op,
            &x.shape,
            &w.shape,
            "expects x [.., k] and w [n, k]",
        ));
    }
    let mut shape = x.shape.clone();
    *shape.last_mut().expect("rank checked") = w.shape[0];
    Ok(TensorSpec::new(&shape, x.dtype))
}

fn last_dim_vector(op: &Op, x: &TensorSpec, v: &TensorSpec) -> Result<()> {
    let d = x.shape.last().copied().unwrap_or(0);
    if x.shape.is_empty() || v.shape != [d] {
        return Err(mismatch(
            op,
            &x.shape,
            &v.shape,
            "the parameter must be 1-D with the size of the last axis",
        ));
    }
    same_dtype(op, x.dtype, v.dtype)
}

fn require_storable(op: &Op, shape: &[usize], dtype: DType) -> Result<()> {
    let numel = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| TensorError::bad_shape(op.name(), shape, "the element count overflows"))?;
    if dtype.is_quantized() {
        let last = shape.last().copied().unwrap_or(1);
        if last % dtype.block_size() != 0 {
            return Err(TensorError::bad_shape(
                op.name(),
                shape,
                format!(
                    "the last axis of a {dtype} tensor must be a multiple of {}",
                    dtype.block_size()
                ),
            ));
        }
    }
    dtype
        .storage_bytes(numel)
        .map(|_| ())
        .ok_or_else(|| TensorError::bad_shape(op.name(), shape, "the byte size overflows"))
}

/// Output specs of `op` applied to `inputs`, or the reason it does not apply.
pub fn output_specs(op: &Op, inputs: &[TensorSpec]) -> Result<Vec<TensorSpec>> {
    let one = |spec: TensorSpec| Ok(vec![spec]);
    match op {
        Op::Full { shape, dtype, .. } => {
            arity(op, inputs, 0)?;
            if dtype.is_quantized() {
                return Err(TensorError::unsupported_dtype(op.name(), *dtype));
            }
            require_storable(op, shape, *dtype)?;
            one(TensorSpec::new(shape, *dtype))
        }
        Op::Arange { len, dtype, .. } => {
            arity(op, inputs, 0)?;
            require_numeric(op, *dtype)?;
            one(TensorSpec::new(&[*len], *dtype))
        }
        Op::RandUniform {
            shape,
            dtype,
            low,
            high,
            ..
        } => {
            arity(op, inputs, 0)?;
            require_float(op, *dtype)?;
            require_storable(op, shape, *dtype)?;
            if !(low.is_finite() && high.is_finite() && low <= high) {
                return Err(TensorError::bad_argument(
                    op.name(),
                    format!("the range [{low}, {high}) is empty or not finite"),
                ));
            }
            one(TensorSpec::new(shape, *dtype))
        }
        Op::RandNormal {
            shape, dtype, std, ..
        } => {
            arity(op, inputs, 0)?;
            require_float(op, *dtype)?;
            require_storable(op, shape, *dtype)?;
            if !(std.is_finite() && *std >= 0.0) {
                return Err(TensorError::bad_argument(
                    op.name(),
                    format!("standard deviation {std} must be finite and non-negative"),
                ));
            }
            one(TensorSpec::new(shape, *dtype))
        }
        Op::Reshape { .. }
        | Op::Permute { .. }
        | Op::Narrow { .. }
        | Op::Expand { .. }
        | Op::Squeeze { .. }
        | Op::Unsqueeze { .. } => Err(TensorError::bad_argument(
            op.name(),
            "view ops are applied to layouts, not executed",
        )),
        Op::Contiguous => {
            arity(op, inputs, 1)?;
            one(inputs[0].clone())
        }
        Op::Concat { axis } => {
            let first = inputs.first().ok_or_else(|| TensorError::Arity {
                op: op.name(),
                expected: 1,
                got: 0,
            })?;
            check_axis(op, *axis, first.shape.len())?;
            let mut shape = first.shape.clone();
            shape[*axis] = 0;
            for input in inputs {
                same_dtype(op, first.dtype, input.dtype)?;
                let compatible = input.shape.len() == first.shape.len()
                    && input
                        .shape
                        .iter()
                        .zip(&first.shape)
                        .enumerate()
                        .all(|(i, (a, b))| i == *axis || a == b);
                if !compatible {
                    return Err(mismatch(
                        op,
                        &first.shape,
                        &input.shape,
                        format!("inputs must agree on every axis but {axis}"),
                    ));
                }
                shape[*axis] += input.shape[*axis];
            }
            if first.dtype.is_quantized() && *axis + 1 == shape.len() {
                return Err(TensorError::bad_argument(
                    op.name(),
                    "quantized tensors cannot be joined along their blocked last axis",
                ));
            }
            one(TensorSpec::new(&shape, first.dtype))
        }
        Op::IndexSelect { axis } => {
            arity(op, inputs, 2)?;
            let (src, idx) = (&inputs[0], &inputs[1]);
            check_axis(op, *axis, src.shape.len())?;
            require_index(op, idx.dtype)?;
            if idx.shape.len() != 1 {
                return Err(TensorError::bad_shape(
                    op.name(),
                    &idx.shape,
                    "indices must be 1-D",
                ));
            }
            if src.dtype.is_quantized() && *axis + 1 == src.shape.len() {
                return Err(TensorError::bad_argument(
                    op.name(),
                    "a quantized tensor can only be indexed along an axis before its last",
                ));
            }
            let mut shape = src.shape.clone();
            shape[*axis] = idx.shape[0];
            one(TensorSpec::new(&shape, src.dtype))
        }
        Op::Gather { axis } => {
            arity(op, inputs, 2)?;
            let (src, idx) = (&inputs[0], &inputs[1]);
            check_axis(op, *axis, src.shape.len())?;
            require_index(op, idx.dtype)?;
            if src.dtype.is_quantized() {
                return Err(TensorError::unsupported_dtype(op.name(), src.dtype));
            }
            let fits = idx.shape.len() == src.shape.len()
                && idx
                    .shape
                    .iter()
                    .zip(&src.shape)
                    .enumerate()
                    .all(|(i, (a, b))| i == *axis || a <= b);
            if !fits {
                return Err(mismatch(
                    op,
                    &src.shape,
                    &idx.shape,
                    "the index must have the source's rank and fit inside it off the axis",
                ));
            }
            one(TensorSpec::new(&idx.shape, src.dtype))
        }
        Op::ScatterAdd { axis } => {
            arity(op, inputs, 3)?;
            let (dst, idx, src) = (&inputs[0], &inputs[1], &inputs[2]);
            check_axis(op, *axis, dst.shape.len())?;
            require_float(op, dst.dtype)?;
            require_index(op, idx.dtype)?;
            same_dtype(op, dst.dtype, src.dtype)?;
            if idx.shape != src.shape {
                return Err(mismatch(
                    op,
                    &idx.shape,
                    &src.shape,
                    "index and source must have one shape",
                ));
            }
            let fits = idx.shape.len() == dst.shape.len()
                && idx
                    .shape
                    .iter()
                    .zip(&dst.shape)
                    .enumerate()
                    .all(|(i, (a, b))| i == *axis || a <= b);
            if !fits {
                return Err(mismatch(
                    op,
                    &dst.shape,
                    &idx.shape,
                    "the index must have the destination's rank and fit inside it off the axis",
                ));
            }
            one(dst.clone())
        }
        Op::IndexAdd { axis } | Op::IndexCopy { axis } => {
            arity(op, inputs, 3)?;
            let (dst, idx, src) = (&inputs[0], &inputs[1], &inputs[2]);
            check_axis(op, *axis, dst.shape.len())?;
            if matches!(op, Op::IndexAdd { .. }) {
                require_float(op, dst.dtype)?;
            } else {
                require_unquantized(op, dst.dtype)?;
            }
            require_index(op, idx.dtype)?;
            same_dtype(op, dst.dtype, src.dtype)?;
            if idx.shape.len() != 1 {
                return Err(TensorError::bad_shape(
                    op.name(),
                    &idx.shape,
                    "indices must be 1-D",
                ));
            }
            let mut expected = dst.shape.clone();
            expected[*axis] = idx.shape[0];
            if src.shape != expected {
                return Err(mismatch(
                    op,
                    &dst.shape,
                    &src.shape,
                    format!("the source must have shape {expected:?}"),
                ));
            }
            one(dst.clone())
        }
        Op::EmbeddingBag { .. } => {
            arity(op, inputs, 2)?;
            let (table, idx) = (&inputs[0], &inputs[1]);
            require_float(op, table.dtype)?;
            require_index(op, idx.dtype)?;
            if table.shape.len() != 2 || idx.shape.len() != 2 {
                return Err(mismatch(
                    op,
                    &table.shape,
                    &idx.shape,
                    "expects a table [rows, dim] and indices [bags, per_bag]",
                ));
            }
            one(TensorSpec::new(
                &[idx.shape[0], table.shape[1]],
                table.dtype,
            ))
        }
        Op::Unary(u) => {
            arity(op, inputs, 1)?;
            let x = &inputs[0];
            if u.accepts_integers() {
                require_numeric(op, x.dtype)?;
            } else {
                require_float(op, x.dtype)?;
            }
            one(x.clone())
        }
        Op::Affine { .. } => {
            arity(op, inputs, 1)?;
            require_float(op, inputs[0].dtype)?;
            one(inputs[0].clone())
        }
        Op::Cast { dtype } => {
            arity(op, inputs, 1)?;
            if dtype.is_quantized() || inputs[0].dtype.is_quantized() {
                return Err(TensorError::UnsupportedDType {
                    op: op.name(),
                    dtype: if dtype.is_quantized() {
                        *dtype
                    } else {
                        inputs[0].dtype
                    },
                    detail: " (use quantize or dequantize)".into(),
                });
            }
            one(TensorSpec::new(&inputs[0].shape, *dtype))
        }
        Op::Binary(b) => {
            arity(op, inputs, 2)?;
            let (l, r) = (&inputs[0], &inputs[1]);
            same_dtype(op, l.dtype, r.dtype)?;
            if *b == crate::op::BinaryOp::Pow {
                require_float(op, l.dtype)?;
            } else {
                require_numeric(op, l.dtype)?;
            }
            let shape = broadcast_shapes(&op.name(), &l.shape, &r.shape)?;
            one(TensorSpec::new(&shape, l.dtype))
        }
        Op::Compare(_) => {
            arity(op, inputs, 2)?;
            let (l, r) = (&inputs[0], &inputs[1]);
            same_dtype(op, l.dtype, r.dtype)?;
            if l.dtype.is_quantized() {
                return Err(TensorError::unsupported_dtype(op.name(), l.dtype));
            }
            let shape = broadcast_shapes(&op.name(), &l.shape, &r.shape)?;
            one(TensorSpec::new(&shape, DType::Bool))
        }
        Op::Where => {
            arity(op, inputs, 3)?;
            let (c, t, f) = (&inputs[0], &inputs[1], &inputs[2]);
            if c.dtype != DType::Bool {
                return Err(TensorError::UnsupportedDType {
                    op: op.name(),
                    dtype: c.dtype,
                    detail: " for the condition (expects bool)".into(),
                });
            }
            same_dtype(op, t.dtype, f.dtype)?;
            if t.dtype.is_quantized() {
                return Err(TensorError::unsupported_dtype(op.name(), t.dtype));
            }
            let shape = broadcast_shapes(&op.name(), &c.shape, &t.shape)?;
            let shape = broadcast_shapes(&op.name(), &shape, &f.shape)?;
            one(TensorSpec::new(&shape, t.dtype))
        }
        Op::Reduce {
            op: reduce,
            axes,
            keepdim,
        } => {
            arity(op, inputs, 1)?;
            let x = &inputs[0];
            match reduce {
                ReduceOp::Sum | ReduceOp::Max | ReduceOp::Min => require_numeric(op, x.dtype)?,
                ReduceOp::Mean | ReduceOp::LogSumExp => require_float(op, x.dtype)?,
            }
            if axes.windows(2).any(|w| w[0] >= w[1]) {
                return Err(TensorError::bad_argument(
                    op.name(),
                    format!("axes {axes:?} must be sorted and distinct"),
                ));
            }
            for &axis in axes {
                check_axis(op, axis, x.shape.len())?;
            }
            if matches!(reduce, ReduceOp::Max | ReduceOp::Min)
                && axes.iter().any(|&a| x.shape[a] == 0)
            {
                return Err(TensorError::bad_shape(
                    op.name(),
                    &x.shape,
                    "the maximum or minimum of an empty axis is undefined",
                ));
            }
            let shape = reduced_shape(&x.shape, axes, *keepdim);
            one(TensorSpec::new(&shape, x.dtype))
        }
        Op::ArgReduce { axis, keepdim, .. } => {
            arity(op, inputs, 1)?;
            let x = &inputs[0];
            require_numeric(op, x.dtype)?;
            check_axis(op, *axis, x.shape.len())?;
            if x.shape[*axis] == 0 {
                return Err(TensorError::bad_shape(
                    op.name(),
                    &x.shape,
                    "argmax and argmin of an empty axis are undefined",
                ));
            }
            let shape = reduced_shape(&x.shape, &[*axis], *keepdim);
            one(TensorSpec::new(&shape, DType::I64))
        }
        Op::MatMul {
            transpose_lhs,
            transpose_rhs,
        } => {
            arity(op, inputs, 2)?;
            let (l, r) = (&inputs[0], &inputs[1]);
            require_float(op, l.dtype)?;
            same_dtype(op, l.dtype, r.dtype)?;
            let (m, k, batch_l) = matrix_dims(op, &l.shape, *transpose_lhs)?;
            let (k2, n, batch_r) = matrix_dims(op, &r.shape, *transpose_rhs)?;
            if k != k2 {
                return Err(mismatch(
                    op,
                    &l.shape,
                    &r.shape,
                    format!("inner dimensions differ ({k} and {k2})"),
                ));
            }
            let mut shape = broadcast_shapes(&op.name(), batch_l, batch_r)?;
            shape.extend([m, n]);
            one(TensorSpec::new(&shape, l.dtype))
        }
        Op::Softmax { axis } | Op::LogSoftmax { axis } => {
            arity(op, inputs, 1)?;
            require_float(op, inputs[0].dtype)?;
            check_axis(op, *axis, inputs[0].shape.len())?;
            one(inputs[0].clone())
        }
        Op::RmsNorm { eps } => {
            arity(op, inputs, 2)?;
            require_float(op, inputs[0].dtype)?;
            check_eps(op, *eps)?;
            last_dim_vector(op, &inputs[0], &inputs[1])?;
            one(inputs[0].clone())
        }
        Op::AddRmsNorm { eps } => {
            arity(op, inputs, 3)?;
            require_float(op, inputs[0].dtype)?;
            check_eps(op, *eps)?;
            if inputs[0].shape != inputs[1].shape {
                return Err(mismatch(
                    op,
                    &inputs[0].shape,
                    &inputs[1].shape,
                    "x and residual must have one shape",
                ));
            }
            same_dtype(op, inputs[0].dtype, inputs[1].dtype)?;
            last_dim_vector(op, &inputs[0], &inputs[2])?;
            Ok(vec![inputs[0].clone(), inputs[0].clone()])
        }
        Op::LayerNorm { eps } => {
            arity(op, inputs, 3)?;
            require_float(op, inputs[0].dtype)?;
            check_eps(op, *eps)?;
            last_dim_vector(op, &inputs[0], &inputs[1])?;
            last_dim_vector(op, &inputs[0], &inputs[2])?;
            one(inputs[0].clone())
        }
        Op::Rope { base, .. } => {
            arity(op, inputs, 2)?;
            let (x, pos) = (&inputs[0], &inputs[1]);
            require_float(op, x.dtype)?;
            require_index(op, pos.dtype)?;
            if !(base.is_finite() && *base > 0.0) {
                return Err(TensorError::bad_argument(
                    op.name(),
                    format!("base {base} must be positive"),
                ));
            }
            let rank = x.shape.len();
            if rank < 3 || x.shape[rank - 1] % 2 != 0 {
                return Err(TensorError::bad_shape(
                    op.name(),
                    &x.shape,
                    "expects [.., seq, heads, head_dim] with an even head_dim",
                ));
            }
            if pos.shape != [x.shape[rank - 3]] {
                return Err(mismatch(
                    op,
                    &x.shape,
                    &pos.shape,
                    "positions must be 1-D of length seq",
                ));
            }
            one(x.clone())
        }
        Op::SwiGlu => {
            arity(op, inputs, 2)?;
            require_float(op, inputs[0].dtype)?;
            same_dtype(op, inputs[0].dtype, inputs[1].dtype)?;
            if inputs[0].shape != inputs[1].shape {
                return Err(mismatch(
                    op,
                    &inputs[0].shape,
                    &inputs[1].shape,
                    "gate and up must have one shape",
                ));
            }
            one(inputs[0].clone())
        }
        Op::Attention { causal, .. } => {
            if inputs.len() != 4 {
                arity(op, inputs, 3)?;
            }
            let (q, k, v) = (&inputs[0], &inputs[1], &inputs[2]);
            if let Some(positions) = inputs.get(3) {
                require_index(op, positions.dtype)?;
                if !causal || positions.shape != [q.shape.get(2).copied().unwrap_or(0)] {
                    return Err(mismatch(
                        op,
                        &q.shape,
                        &positions.shape,
                        "query positions need a causal attention and one position per query",
                    ));
                }
            }
            require_float(op, q.dtype)?;
            same_dtype(op, q.dtype, k.dtype)?;
            same_dtype(op, q.dtype, v.dtype)?;
            if q.shape.len() != 4 || k.shape.len() != 4 || v.shape.len() != 4 {
                return Err(mismatch(
                    op,
                    &q.shape,
                    &k.shape,
                    "q, k and v must be [batch, heads, seq, dim]",
                ));
            }
            let ok = q.shape[0] == k.shape[0]
                && k.shape[0] == v.shape[0]
                && k.shape[1] == v.shape[1]
                && k.shape[1] > 0
                && q.shape[1] % k.shape[1] == 0
                && k.shape[2] == v.shape[2]
                && q.shape[3] == k.shape[3]
                && q.shape[2] <= k.shape[2];
            if !ok {
                return Err(mismatch(
                    op,
                    &q.shape,
                    &k.shape,
                    format!(
                        "needs equal batch, q heads a multiple of kv heads, equal head_dim, k/v of one length, q no longer than k (v is {:?})",
                        v.shape
                    ),
                ));
            }
            one(TensorSpec::new(
                &[q.shape[0], q.shape[1], q.shape[2], v.shape[3]],
                q.dtype,
            ))
        }
        Op::RopeAttention { .. } => {
            arity(op, inputs, 6)?;
            let (q, k, v) = (&inputs[0], &inputs[1], &inputs[2]);
            let (k_cache, v_cache, positions) = (&inputs[3], &inputs[4], &inputs[5]);
            require_float(op, q.dtype)?;
            for t in [k, v, k_cache, v_cache] {
                same_dtype(op, q.dtype, t.dtype)?;
            }
            require_index(op, positions.dtype)?;
            let ranks_ok = [q, k, v, k_cache, v_cache]
                .iter()
                .all(|t| t.shape.len() == 3)
                && positions.shape.len() == 1;
            let ok = ranks_ok
                && k.shape[0] == q.shape[0]
                && v.shape[..2] == k.shape[..2]
                && k.shape[1] > 0
                && q.shape[1] % k.shape[1] == 0
                && k.shape[2] == q.shape[2]
                && q.shape[2] % 2 == 0
                && k_cache.shape[1..] == k.shape[1..]
                && v_cache.shape[1..] == v.shape[1..]
                && v_cache.shape[0] == k_cache.shape[0]
                && positions.shape[0] == q.shape[0]
                && q.shape[0] <= k_cache.shape[0];
            if !ok {
                return Err(mismatch(
                    op,
                    &q.shape,
                    &k_cache.shape,
                    format!(
                        "needs q [n, hq, d], k [n, hkv, d], v [n, hkv, dv], caches [len, hkv, d] and [len, hkv, dv], positions [n], hq a multiple of hkv, d even, n <= len (k {:?}, v {:?}, v_cache {:?}, positions {:?})",
                        k.shape, v.shape, v_cache.shape, positions.shape
                    ),
                ));
            }
            Ok(vec![
                TensorSpec::new(&[q.shape[0], q.shape[1], v.shape[2]], q.dtype),
                TensorSpec::new(&k_cache.shape, q.dtype),
                TensorSpec::new(&v_cache.shape, q.dtype),
            ])
        }
        Op::Dequantize { dtype } => {
            arity(op, inputs, 1)?;
            if !inputs[0].dtype.is_quantized() {
                return Err(TensorError::UnsupportedDType {
                    op: op.name(),
                    dtype: inputs[0].dtype,
                    detail: " (expects a quantized tensor)".into(),
                });
            }
            require_float(op, *dtype)?;
            one(TensorSpec::new(&inputs[0].shape, *dtype))
        }
        Op::Quantize { dtype } => {
            arity(op, inputs, 1)?;
            require_float(op, inputs[0].dtype)?;
            if !matches!(dtype, DType::Q8_0 | DType::Q4_0 | DType::Q4_1) {
                return Err(TensorError::UnsupportedDType {
                    op: op.name(),
                    dtype: *dtype,
                    detail: " as a target (expects q8_0, q4_0 or q4_1)".into(),
                });
            }
            require_storable(op, &inputs[0].shape, *dtype)?;
            one(TensorSpec::new(&inputs[0].shape, *dtype))
        }
        Op::QMatMul => {
            arity(op, inputs, 2)?;
            let (x, w) = (&inputs[0], &inputs[1]);
            require_float(op, x.dtype)?;
            if !w.dtype.is_quantized() {
                return Err(TensorError::UnsupportedDType {
                    op: op.name(),
                    dtype: w.dtype,
                    detail: " for the weight (expects a quantized tensor)".into(),
                });
            }
            one(product_spec(op, x, w)?)
        }
        Op::Linear { norm, gated } => {
            let has_residual = matches!(norm, LinearNorm::AddRms { .. });
            let has_norm_weight = !matches!(norm, LinearNorm::None);
            let weights = 1 + usize::from(*gated);
            arity(
                op,
                inputs,
                1 + usize::from(has_residual) + usize::from(has_norm_weight) + weights,
            )?;
            let x = &inputs[0];
            require_float(op, x.dtype)?;
            if let LinearNorm::Rms { eps } | LinearNorm::AddRms { eps } = norm {
                check_eps(op, *eps)?;
            }
            if has_residual {
                same_dtype(op, x.dtype, inputs[1].dtype)?;
                if inputs[1].shape != x.shape {
                    return Err(mismatch(
                        op,
                        &x.shape,
                        &inputs[1].shape,
                        "x and residual must have one shape",
                    ));
                }
            }
            if has_norm_weight {
                last_dim_vector(op, x, &inputs[1 + usize::from(has_residual)])?;
            }
            let w = &inputs[inputs.len() - weights];
            if !w.dtype.is_quantized() {
                same_dtype(op, x.dtype, w.dtype)?;
            }
            let y = product_spec(op, x, w)?;
            if *gated {
                let up = &inputs[inputs.len() - 1];
                same_dtype(op, w.dtype, up.dtype)?;
                if up.shape != w.shape {
                    return Err(mismatch(
                        op,
                        &w.shape,
                        &up.shape,
                        "w and w_up must have one shape",
                    ));
                }
            }
            Ok(if has_residual {
                vec![x.clone(), y]
            } else {
                vec![y]
            })
        }
        Op::Sample {
            temperature,
            top_p,
            min_p,
            ..
        } => {
            arity(op, inputs, 2)?;
            let (logits, uniform) = (&inputs[0], &inputs[1]);
            check_logits(op, logits)?;
            if uniform.dtype != DType::F32 || uniform.shape != [logits.shape[0]] {
                return Err(mismatch(
                    op,
                    &logits.shape,
                    &uniform.shape,
                    "expects one f32 uniform number per row",
                ));
            }
            let problems: Vec<String> = [
                (!temperature.is_finite())
                    .then(|| format!("temperature {temperature} is not finite")),
                (!(*top_p > 0.0 && *top_p <= 1.0))
                    .then(|| format!("top_p {top_p} is outside (0, 1]")),
                (!(0.0..=1.0).contains(min_p)).then(|| format!("min_p {min_p} is outside [0, 1]")),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !problems.is_empty() {
                return Err(TensorError::bad_argument(op.name(), problems.join("; ")));
            }
            one(TensorSpec::new(&[logits.shape[0]], DType::I64))
        }
        Op::RepetitionPenalty { penalty } => {
            arity(op, inputs, 2)?;
            let (logits, tokens) = (&inputs[0], &inputs[1]);
            check_logits(op, logits)?;
            require_index(op, tokens.dtype)?;
            if tokens.shape.len() != 2 || tokens.shape[0] != logits.shape[0] {
                return Err(mismatch(
                    op,
                    &logits.shape,
                    &tokens.shape,
                    "expects tokens [rows, n] with one row per logits row",
                ));
            }
            if !(penalty.is_finite() && *penalty > 0.0) {
                return Err(TensorError::bad_argument(
                    op.name(),
                    format!("penalty {penalty} must be positive"),
                ));
            }
            one(logits.clone())
        }
    }
}

fn check_logits(op: &Op, logits: &TensorSpec) -> Result<()> {
    require_float(op, logits.dtype)?;
    if logits.shape.len() != 2 || logits.shape[1] == 0 {
        return Err(TensorError::bad_shape(
            op.name(),
            &logits.shape,
            "expects logits [rows, vocab] with vocab > 0",
        ));
    }
    Ok(())
}

fn check_eps(op: &Op, eps: f64) -> Result<()> {
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(TensorError::bad_argument(
            op.name(),
            format!("eps {eps} must be finite and non-negative"),
        ));
    }
    Ok(())
}

/// `(rows, cols, batch_dims)` of a matmul operand after its optional transpose.
fn matrix_dims<'a>(
    op: &Op,
    shape: &'a [usize],
    transpose: bool,
) -> Result<(usize, usize, &'a [usize])> {
    if shape.len() < 2 {
        return Err(TensorError::bad_shape(
            op.name(),
            shape,
            "matmul operands need rank 2 or more",
        ));
    }
    let (rows, cols) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let batch = &shape[..shape.len() - 2];
    Ok(if transpose {
        (cols, rows, batch)
    } else {
        (rows, cols, batch)
    })
}

/// The shape after reducing `axes`.
pub fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keepdim) {
            (true, true) => Some(1),
            (true, false) => None,
            (false, _) => Some(d),
        })
        .collect()
}

/// Whether a comparison holds, for backends and the reference alike.
pub fn compare_f64(op: CompareOp, a: f64, b: f64) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
    }
}
