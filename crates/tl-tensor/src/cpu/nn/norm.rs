//! CPU kernels: `RmsNorm`, `AddRmsNorm` and `LayerNorm` over the last axis.
//!
//! One row per step of a rayon task; the row's statistics are accumulated in f32 (with the
//! lane-split sums of `rows`) and the final scale computed in f64.

use rayon::prelude::*;

use super::rows::{load_f32, sum, sum_squares, RowReader};
use crate::cpu::element::FloatElement;
use crate::cpu::{input_slice, output_slice};
use crate::error::Result;
use crate::tensor::Tensor;

/// Rows shorter than this many elements are grouped into one rayon task.
const MIN_TASK_ELEMENTS: usize = 8 * 1024;

fn min_rows(dim: usize) -> usize {
    (MIN_TASK_ELEMENTS / dim).max(1)
}

/// `1 / sqrt(mean(x²) + eps)` of a row.
fn inverse_rms(row: &[f32], eps: f64) -> f32 {
    let mean_square = sum_squares(row) as f64 / row.len() as f64;
    (1.0 / (mean_square + eps).sqrt()) as f32
}

pub(super) fn rms_norm<T: FloatElement>(
    x: &Tensor,
    weight: &Tensor,
    eps: f64,
    output: &Tensor,
) -> Result<()> {
    let out = output_slice::<T>(output)?;
    let dim = x.shape()[x.rank() - 1];
    if out.is_empty() || dim == 0 {
        return Ok(());
    }
    let weight = load_f32(input_slice::<T>(weight)?, weight.layout());
    let reader = RowReader::new(input_slice::<T>(x)?, x.layout());
    out.par_chunks_mut(dim)
        .with_min_len(min_rows(dim))
        .enumerate()
        .for_each_init(
            || vec![0.0f32; dim],
            |row, (r, dst)| {
                reader.read(r, row);
                let scale = inverse_rms(row, eps);
                for ((d, &v), &w) in dst.iter_mut().zip(row.iter()).zip(&weight) {
                    *d = T::from_f32(v * scale * w);
                }
            },
        );
    Ok(())
}

/// `sum = x + residual` (stored), then the RMS norm of the stored sum, so the result equals
/// running the two ops one after the other.
pub(super) fn add_rms_norm<T: FloatElement>(
    inputs: &[&Tensor],
    eps: f64,
    sum_out: &Tensor,
    norm_out: &Tensor,
) -> Result<()> {
    let (x, residual, weight) = (inputs[0], inputs[1], inputs[2]);
    let sums = output_slice::<T>(sum_out)?;
    let normed = output_slice::<T>(norm_out)?;
    let dim = x.shape()[x.rank() - 1];
    if sums.is_empty() || dim == 0 {
        return Ok(());
    }
    let weight = load_f32(input_slice::<T>(weight)?, weight.layout());
    let x_reader = RowReader::new(input_slice::<T>(x)?, x.layout());
    let residual_reader = RowReader::new(input_slice::<T>(residual)?, residual.layout());
    sums.par_chunks_mut(dim)
        .zip(normed.par_chunks_mut(dim))
        .with_min_len(min_rows(dim))
        .enumerate()
        .for_each_init(
            || (vec![0.0f32; dim], vec![0.0f32; dim]),
            |(row, other), (r, (sum_dst, norm_dst))| {
                x_reader.read(r, row);
                residual_reader.read(r, other);
                for ((v, &o), s) in row.iter_mut().zip(other.iter()).zip(sum_dst.iter_mut()) {
                    *s = T::from_f32(*v + o);
                    *v = s.to_f32();
                }
                let scale = inverse_rms(row, eps);
                for ((d, &v), &w) in norm_dst.iter_mut().zip(row.iter()).zip(&weight) {
                    *d = T::from_f32(v * scale * w);
                }
            },
        );
    Ok(())
}

pub(super) fn layer_norm<T: FloatElement>(
    inputs: &[&Tensor],
    eps: f64,
    output: &Tensor,
) -> Result<()> {
    let (x, weight, bias) = (inputs[0], inputs[1], inputs[2]);
    let out = output_slice::<T>(output)?;
    let dim = x.shape()[x.rank() - 1];
    if out.is_empty() || dim == 0 {
        return Ok(());
    }
    let weight = load_f32(input_slice::<T>(weight)?, weight.layout());
    let bias = load_f32(input_slice::<T>(bias)?, bias.layout());
    let reader = RowReader::new(input_slice::<T>(x)?, x.layout());
    out.par_chunks_mut(dim)
        .with_min_len(min_rows(dim))
        .enumerate()
        .for_each_init(
            || vec![0.0f32; dim],
            |row, (r, dst)| {
                reader.read(r, row);
                // Two passes: the variance of the centred row does not cancel catastrophically.
                let mean = sum(row) / dim as f32;
                for v in row.iter_mut() {
                    *v -= mean;
                }
                let variance = sum_squares(row) as f64 / dim as f64;
                let scale = (1.0 / (variance + eps).sqrt()) as f32;
                for (((d, &v), &w), &b) in dst.iter_mut().zip(row.iter()).zip(&weight).zip(&bias) {
                    *d = T::from_f32(v * scale * w + b);
                }
            },
        );
    Ok(())
}
