//! Reference: batched `MatMul` as the textbook triple loop over f64 values.

use super::{ravel, unravel, HostTensor};
use crate::error::Result;
use crate::op::Op;
use crate::signature::TensorSpec;

pub(super) fn evaluate(
    op: &Op,
    inputs: &[HostTensor],
    spec: &TensorSpec,
) -> Result<Vec<HostTensor>> {
    let Op::MatMul {
        transpose_lhs,
        transpose_rhs,
    } = op
    else {
        unreachable!()
    };
    let (lhs, rhs) = (&inputs[0], &inputs[1]);
    let (lhs_values, rhs_values) = (lhs.values(), rhs.values());
    let rank = spec.shape.len();
    let k = if *transpose_lhs {
        lhs.shape[lhs.shape.len() - 2]
    } else {
        lhs.shape[lhs.shape.len() - 1]
    };
    let mut out = vec![0.0; spec.numel()];
    for (flat, slot) in out.iter_mut().enumerate() {
        let index = unravel(flat, &spec.shape);
        let (i, j) = (index[rank - 2], index[rank - 1]);
        let batch = &index[..rank - 2];
        let mut sum = 0.0;
        for p in 0..k {
            let a = element(lhs, &lhs_values, batch, i, p, *transpose_lhs);
            let b = element(rhs, &rhs_values, batch, p, j, *transpose_rhs);
            sum += a * b;
        }
        *slot = sum;
    }
    Ok(vec![HostTensor::from_values(&spec.shape, spec.dtype, out)])
}

/// Element `(row, col)` of the (optionally transposed) matrix of `t` at output batch index
/// `batch`, broadcasting `t`'s batch axes.
fn element(
    t: &HostTensor,
    values: &[f64],
    batch: &[usize],
    row: usize,
    col: usize,
    transpose: bool,
) -> f64 {
    let rank = t.shape.len();
    let own_batch = rank - 2;
    let lead = batch.len() - own_batch;
    let mut index: Vec<usize> = (0..own_batch)
        .map(|a| if t.shape[a] == 1 { 0 } else { batch[lead + a] })
        .collect();
    if transpose {
        index.extend([col, row]);
    } else {
        index.extend([row, col]);
    }
    values[ravel(&index, &t.shape)]
}
