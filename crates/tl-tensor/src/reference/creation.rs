//! Reference: creation ops, element by element.

use super::HostTensor;
use crate::error::Result;
use crate::op::Op;
use crate::random::{standard_normal, uniform01};
use crate::signature::TensorSpec;

pub(super) fn evaluate(op: &Op, spec: &TensorSpec) -> Result<Vec<HostTensor>> {
    let n = spec.numel();
    let values: Vec<f64> = match op {
        Op::Full { value, .. } => vec![*value; n],
        Op::Arange { start, step, .. } => (0..n).map(|i| start + i as f64 * step).collect(),
        Op::RandUniform {
            low, high, seed, ..
        } => (0..n)
            .map(|i| low + (high - low) * uniform01(*seed, i as u64))
            .collect(),
        Op::RandNormal {
            mean, std, seed, ..
        } => (0..n)
            .map(|i| mean + std * standard_normal(*seed, i as u64))
            .collect(),
        _ => unreachable!(),
    };
    Ok(vec![HostTensor::from_values(
        &spec.shape,
        spec.dtype,
        values,
    )])
}
