//! Reference: `Linear` from its definition, the norm through the reference's own norm ops
//! (its output rounded to the dtype, as the op defines), the products and SwiGLU in f64.

use super::{evaluate, HostTensor};
use crate::error::Result;
use crate::op::{LinearNorm, Op};
use crate::signature::TensorSpec;

pub(super) fn evaluate_linear(
    (norm, gated): (LinearNorm, bool),
    inputs: &[HostTensor],
    specs: &[TensorSpec],
) -> Result<Vec<HostTensor>> {
    let x = &inputs[0];
    let (sum, h) = match norm {
        LinearNorm::None => (None, x.clone()),
        LinearNorm::Rms { eps } => (
            None,
            evaluate(&Op::RmsNorm { eps }, &inputs[..2])?.remove(0),
        ),
        LinearNorm::AddRms { eps } => {
            let mut outputs = evaluate(&Op::AddRmsNorm { eps }, &inputs[..3])?;
            let h = outputs.pop().expect("two outputs");
            (outputs.pop(), h)
        }
    };
    let h = h.rounded().values();
    let weights = &inputs[inputs.len() - 1 - usize::from(gated)..];
    let (n, k) = (weights[0].shape[0], weights[0].shape[1]);
    let rows = h.len().checked_div(k).unwrap_or(0);
    let products: Vec<Vec<f64>> = weights
        .iter()
        .map(|w| {
            let w = w.values();
            let mut y = vec![0.0; rows * n];
            for r in 0..rows {
                for j in 0..n {
                    y[r * n + j] = (0..k).map(|c| h[r * k + c] * w[j * k + c]).sum();
                }
            }
            y
        })
        .collect();
    let y = if gated {
        products[0]
            .iter()
            .zip(&products[1])
            .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
            .collect()
    } else {
        products[0].clone()
    };
    let spec = &specs[specs.len() - 1];
    let y = HostTensor::from_values(&spec.shape, spec.dtype, y);
    Ok(sum.into_iter().chain([y]).collect())
}
