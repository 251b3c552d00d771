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
    let (m, n) = (spec.shape[rank - 2], spec.shape[rank - 1]);
    let batch_shape = &spec.shape[..rank - 2];
    let batches: usize = batch_shape.iter().product();
    let mut out = vec![0.0; spec.numel()];
    for b in 0..batches {
        let batch = unravel(b, batch_shape);
        let a = matrix(lhs, &lhs_values, &batch, *transpose_lhs);
        let c = matrix(rhs, &rhs_values, &batch, *transpose_rhs);
        for i in 0..m {
            for j in 0..n {
                let mut sum = 0.0;
                for p in 0..k {
                    sum += a[i * k + p] * c[p * n + j];
                }
                out[(b * m + i) * n + j] = sum;
            }
        }
    }
    Ok(vec![HostTensor::from_values(&spec.shape, spec.dtype, out)])
}

/// The (optionally transposed) matrix of `t` at output batch index `batch`, broadcasting
/// `t`'s batch axes, as row-major values.
fn matrix(t: &HostTensor, values: &[f64], batch: &[usize], transpose: bool) -> Vec<f64> {
    let rank = t.shape.len();
    let (rows, cols) = (t.shape[rank - 2], t.shape[rank - 1]);
    let own_batch = rank - 2;
    let lead = batch.len() - own_batch;
    let mut index: Vec<usize> = (0..own_batch)
        .map(|a| if t.shape[a] == 1 { 0 } else { batch[lead + a] })
        .collect();
    index.extend([0, 0]);
    let start = ravel(&index, &t.shape);
    let stored = &values[start..start + rows * cols];
    if !transpose {
        return stored.to_vec();
    }
    let mut transposed = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            transposed[c * rows + r] = stored[r * cols + c];
        }
    }
    transposed
}
