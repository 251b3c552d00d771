//! Reference: index_select, gather, scatter_add, index_add and embedding_bag as plain loops.

use super::{ravel, unravel, HostData, HostTensor};
use crate::error::{Result, TensorError};
use crate::op::{BagMode, Op};
use crate::signature::TensorSpec;

pub(super) fn evaluate(
    op: &Op,
    inputs: &[HostTensor],
    spec: &TensorSpec,
) -> Result<Vec<HostTensor>> {
    let out = match op {
        Op::IndexSelect { axis } => index_select(op, *axis, &inputs[0], &inputs[1], spec)?,
        Op::Gather { axis } => {
            let (src, index) = (&inputs[0], &inputs[1]);
            let (values, indices) = (src.values(), index.values());
            let mut out = vec![0.0; spec.numel()];
            for (flat, slot) in out.iter_mut().enumerate() {
                let mut at = unravel(flat, &spec.shape);
                at[*axis] = checked(op, indices[flat], src.shape[*axis])?;
                *slot = values[ravel(&at, &src.shape)];
            }
            HostTensor::from_values(&spec.shape, spec.dtype, out)
        }
        Op::ScatterAdd { axis } => {
            let (dst, index, src) = (&inputs[0], &inputs[1], &inputs[2]);
            let mut out = dst.values();
            let (indices, values) = (index.values(), src.values());
            for flat in 0..index.numel() {
                let mut at = unravel(flat, &index.shape);
                at[*axis] = checked(op, indices[flat], dst.shape[*axis])?;
                out[ravel(&at, &dst.shape)] += values[flat];
            }
            HostTensor::from_values(&spec.shape, spec.dtype, out)
        }
        Op::IndexAdd { axis } => {
            let (dst, index, src) = (&inputs[0], &inputs[1], &inputs[2]);
            let mut out = dst.values();
            let (indices, values) = (index.values(), src.values());
            for (flat, value) in values.iter().enumerate() {
                let mut at = unravel(flat, &src.shape);
                at[*axis] = checked(op, indices[at[*axis]], dst.shape[*axis])?;
                out[ravel(&at, &dst.shape)] += value;
            }
            HostTensor::from_values(&spec.shape, spec.dtype, out)
        }
        Op::IndexCopy { axis } => {
            let (dst, index, src) = (&inputs[0], &inputs[1], &inputs[2]);
            let mut out = dst.values();
            let (indices, values) = (index.values(), src.values());
            for (flat, value) in values.iter().enumerate() {
                let mut at = unravel(flat, &src.shape);
                at[*axis] = checked(op, indices[at[*axis]], dst.shape[*axis])?;
                out[ravel(&at, &dst.shape)] = *value;
            }
            HostTensor::from_values(&spec.shape, spec.dtype, out)
        }
        Op::EmbeddingBag { mode } => {
            let (table, index) = (&inputs[0], &inputs[1]);
            let (values, indices) = (table.values(), index.values());
            let (rows, dim) = (table.shape[0], table.shape[1]);
            let (bags, per_bag) = (index.shape[0], index.shape[1]);
            let mut out = vec![0.0; bags * dim];
            for bag in 0..bags {
                let picked = (0..per_bag)
                    .map(|k| checked(op, indices[bag * per_bag + k], rows))
                    .collect::<Result<Vec<_>>>()?;
                if picked.is_empty() {
                    continue;
                }
                for d in 0..dim {
                    let column = picked.iter().map(|&r| values[r * dim + d]);
                    out[bag * dim + d] = match mode {
                        BagMode::Sum => column.sum(),
                        BagMode::Mean => column.sum::<f64>() / per_bag as f64,
                        BagMode::Max => column.fold(f64::NEG_INFINITY, f64::max),
                    };
                }
            }
            HostTensor::from_values(&spec.shape, spec.dtype, out)
        }
        _ => unreachable!(),
    };
    Ok(vec![out])
}

/// An index value as a position along an axis of `size`.
fn checked(op: &Op, index: f64, size: usize) -> Result<usize> {
    if index < 0.0 || index >= size as f64 {
        return Err(TensorError::IndexOutOfRange {
            op: op.name(),
            index: index as i64,
            size,
        });
    }
    Ok(index as usize)
}

fn index_select(
    op: &Op,
    axis: usize,
    src: &HostTensor,
    index: &HostTensor,
    spec: &TensorSpec,
) -> Result<HostTensor> {
    let picked = index
        .values()
        .into_iter()
        .map(|i| checked(op, i, src.shape[axis]))
        .collect::<Result<Vec<_>>>()?;
    let data = match &src.data {
        HostData::Values(values) => {
            let mut out = vec![0.0; spec.numel()];
            for (flat, slot) in out.iter_mut().enumerate() {
                let mut at = unravel(flat, &spec.shape);
                at[axis] = picked[at[axis]];
                *slot = values[ravel(&at, &src.shape)];
            }
            HostData::Values(out)
        }
        HostData::Blocks(blocks) => {
            // The axis is before the blocked last one: each slice along it is a run of
            // whole blocks, `inner / block_size · block_bytes` bytes long.
            let inner: usize = src.shape[axis + 1..].iter().product();
            let run = inner / src.dtype.block_size() * src.dtype.block_bytes();
            let outer: usize = src.shape[..axis].iter().product();
            let mut out = Vec::with_capacity(outer * picked.len() * run);
            for o in 0..outer {
                for &p in &picked {
                    let start = (o * src.shape[axis] + p) * run;
                    out.extend_from_slice(&blocks[start..start + run]);
                }
            }
            HostData::Blocks(out)
        }
    };
    Ok(HostTensor {
        shape: spec.shape.clone(),
        dtype: spec.dtype,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{evaluate, HostTensor};
    use crate::op::{BagMode, Op};
    use crate::{DType, TensorError};

    #[test]
    fn out_of_range_and_negative_indices_are_errors() {
        let table = HostTensor::from_values(&[2, 2], DType::F32, vec![1.0, 2.0, 3.0, 4.0]);
        let ones = HostTensor::from_values(&[1, 2], DType::F32, vec![1.0, 1.0]);
        for bad in [2.0, -1.0] {
            let flat = HostTensor::from_values(&[2], DType::I64, vec![0.0, bad]);
            let row = HostTensor::from_values(&[1, 2], DType::I32, vec![0.0, bad]);
            let attempts = [
                evaluate(&Op::IndexSelect { axis: 0 }, &[table.clone(), flat.clone()]),
                evaluate(&Op::Gather { axis: 1 }, &[table.clone(), row.clone()]),
                evaluate(
                    &Op::ScatterAdd { axis: 1 },
                    &[table.clone(), row.clone(), ones.clone()],
                ),
                evaluate(
                    &Op::IndexAdd { axis: 0 },
                    &[table.clone(), flat.clone(), table.clone()],
                ),
                evaluate(
                    &Op::EmbeddingBag { mode: BagMode::Max },
                    &[table.clone(), row.clone()],
                ),
            ];
            for attempt in attempts {
                assert!(
                    matches!(
                        attempt,
                        Err(TensorError::IndexOutOfRange { index, size: 2, .. })
                            if index == bad as i64
                    ),
                    "{attempt:?}"
                );
            }
        }
    }
}
