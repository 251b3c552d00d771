//! Reference: contiguous copy, cast and concat.

use super::{ravel, unravel, HostData, HostTensor};
use crate::error::Result;
use crate::op::Op;
use crate::signature::TensorSpec;
use crate::DType;

pub(super) fn evaluate(
    op: &Op,
    inputs: &[HostTensor],
    spec: &TensorSpec,
) -> Result<Vec<HostTensor>> {
    match op {
        Op::Contiguous => Ok(vec![inputs[0].clone()]),
        Op::Cast { dtype } => {
            let values = inputs[0]
                .values()
                .into_iter()
                .map(|v| cast_value(v, *dtype))
                .collect();
            Ok(vec![HostTensor::from_values(&spec.shape, *dtype, values)])
        }
        Op::Concat { axis } => {
            let out = match &inputs[0].data {
                HostData::Values(_) => {
                    let mut values = vec![0.0; spec.numel()];
                    let mut start = 0;
                    for input in inputs {
                        for (flat, v) in input.values().into_iter().enumerate() {
                            let mut index = unravel(flat, &input.shape);
                            index[*axis] += start;
                            values[ravel(&index, &spec.shape)] = v;
                        }
                        start += input.shape[*axis];
                    }
                    HostData::Values(values)
                }
                HostData::Blocks(_) => {
                    // Quantized concat is along an axis before the last: whole rows of blocks.
                    let row_bytes = |t: &HostTensor| {
                        t.shape[*axis..].iter().product::<usize>() / t.dtype.block_size()
                            * t.dtype.block_bytes()
                    };
                    let outer: usize = spec.shape[..*axis].iter().product();
                    let mut bytes = Vec::new();
                    for o in 0..outer {
                        for input in inputs {
                            let HostData::Blocks(b) = &input.data else {
                                unreachable!()
                            };
                            let n = row_bytes(input);
                            bytes.extend_from_slice(&b[o * n..(o + 1) * n]);
                        }
                    }
                    HostData::Blocks(bytes)
                }
            };
            Ok(vec![HostTensor {
                shape: spec.shape.clone(),
                dtype: spec.dtype,
                data: out,
            }])
        }
        _ => unreachable!(),
    }
}

/// `Op::Cast`'s conversion rules on one value (the result is then stored in `to`).
pub(crate) fn cast_value(v: f64, to: DType) -> f64 {
    match to {
        DType::Bool => (v != 0.0) as u8 as f64,
        DType::I32 => v as i32 as f64,
        DType::I64 => v as i64 as f64,
        DType::U8 => v as u8 as f64,
        _ => v,
    }
}
