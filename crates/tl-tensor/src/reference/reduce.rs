//! Reference: reductions and arg-reductions, by collecting each output's elements (in
//! row-major order of the input) and folding them in f64. Integer sums are exact in i128,
//! then wrapped to the dtype's width.

use super::{ravel, unravel, HostTensor};
use crate::error::{Result, TensorError};
use crate::op::{ArgReduceOp, Op, ReduceOp};
use crate::signature::TensorSpec;
use crate::DType;

pub(super) fn evaluate(
    op: &Op,
    inputs: &[HostTensor],
    spec: &TensorSpec,
) -> Result<Vec<HostTensor>> {
    let x = inputs
        .first()
        .ok_or_else(|| TensorError::bad_argument(op.name(), "needs an input"))?;
    let out = match op {
        Op::Reduce {
            op: reduce, axes, ..
        } => groups(x, axes)
            .iter()
            .map(|g| reduce_values(*reduce, x.dtype, g))
            .collect(),
        Op::ArgReduce { op: arg, axis, .. } => groups(x, &[*axis])
            .iter()
            .map(|g| arg_index(*arg, g) as f64)
            .collect(),
        other => {
            return Err(TensorError::bad_argument(
                other.name(),
                "is not a reduction",
            ))
        }
    };
    Ok(vec![HostTensor::from_values(&spec.shape, spec.dtype, out)])
}

/// The elements of each output (outputs in row-major order of the kept axes; elements in
/// row-major order of the reduced axes).
fn groups(x: &HostTensor, axes: &[usize]) -> Vec<Vec<f64>> {
    let kept_shape: Vec<usize> = x
        .shape
        .iter()
        .enumerate()
        .filter(|(axis, _)| !axes.contains(axis))
        .map(|(_, &d)| d)
        .collect();
    let mut groups = vec![Vec::new(); kept_shape.iter().product()];
    for (flat, v) in x.values().into_iter().enumerate() {
        let index = unravel(flat, &x.shape);
        let kept: Vec<usize> = index
            .iter()
            .enumerate()
            .filter(|(axis, _)| !axes.contains(axis))
            .map(|(_, &i)| i)
            .collect();
        groups[ravel(&kept, &kept_shape)].push(v);
    }
    groups
}

fn reduce_values(op: ReduceOp, dtype: DType, values: &[f64]) -> f64 {
    let has_nan = values.iter().any(|v| v.is_nan());
    match op {
        ReduceOp::Sum if !dtype.is_float() => {
            let exact: i128 = values.iter().map(|&v| v as i128).sum();
            match dtype {
                DType::I32 => exact as i32 as f64,
                _ => exact as i64 as f64,
            }
        }
        ReduceOp::Sum => values.iter().sum(),
        ReduceOp::Mean if values.is_empty() => f64::NAN,
        ReduceOp::Mean => values.iter().sum::<f64>() / values.len() as f64,
        ReduceOp::Max | ReduceOp::Min if has_nan => f64::NAN,
        ReduceOp::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ReduceOp::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        ReduceOp::LogSumExp if has_nan => f64::NAN,
        ReduceOp::LogSumExp => {
            let m = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if m.is_infinite() {
                // Empty or all −∞ gives −∞; any +∞ gives +∞.
                return m;
            }
            m + values.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
        }
    }
}

/// Index of the first extreme value; a NaN counts as more extreme than any number.
fn arg_index(op: ArgReduceOp, values: &[f64]) -> usize {
    if let Some(i) = values.iter().position(|v| v.is_nan()) {
        return i;
    }
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        let better = match op {
            ArgReduceOp::ArgMax => v > values[best],
            ArgReduceOp::ArgMin => v < values[best],
        };
        if better {
            best = i;
        }
    }
    best
}
