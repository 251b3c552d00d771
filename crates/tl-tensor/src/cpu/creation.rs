//! CPU kernels: `Full`, `Arange`, `RandUniform`, `RandNormal`.

use half::{bf16, f16};
use rayon::prelude::*;

use super::output_slice;
use crate::error::Result;
use crate::host_element::HostElement;
use crate::op::Op;
use crate::random::{standard_normal, uniform01};
use crate::tensor::Tensor;
use crate::DType;

const CHUNK: usize = 16 * 1024;

pub(crate) fn run(op: &Op, output: &Tensor) -> Result<()> {
    match op {
        Op::Full { value, .. } => {
            let v = *value;
            fill(output, move |_| v)
        }
        Op::Arange { start, step, .. } => {
            let (start, step) = (*start, *step);
            fill(output, move |i| start + i as f64 * step)
        }
        Op::RandUniform {
            low, high, seed, ..
        } => {
            let (low, span, seed) = (*low, *high - *low, *seed);
            fill(output, move |i| low + span * uniform01(seed, i as u64))
        }
        Op::RandNormal {
            mean, std, seed, ..
        } => {
            let (mean, std, seed) = (*mean, *std, *seed);
            fill(output, move |i| {
                mean + std * standard_normal(seed, i as u64)
            })
        }
        _ => unreachable!("creation::run got {}", op.name()),
    }
}

/// Writes `value(i)` to element `i`, converting from f64 as `Op::Cast` would.
fn fill(output: &Tensor, value: impl Fn(usize) -> f64 + Sync) -> Result<()> {
    fn typed<T: HostElement>(output: &Tensor, value: impl Fn(usize) -> f64 + Sync) -> Result<()> {
        output_slice::<T>(output)?
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (j, x) in chunk.iter_mut().enumerate() {
                    *x = T::from_f64(value(c * CHUNK + j));
                }
            });
        Ok(())
    }
    match output.dtype() {
        DType::F32 => typed::<f32>(output, value),
        DType::F16 => typed::<f16>(output, value),
        DType::BF16 => typed::<bf16>(output, value),
        DType::I32 => typed::<i32>(output, value),
        DType::I64 => typed::<i64>(output, value),
        DType::U8 => typed::<u8>(output, value),
        DType::Bool => typed::<u8>(output, move |i| (value(i) != 0.0) as u8 as f64),
        other => unreachable!("creation of {other} is rejected by the signature"),
    }
}
