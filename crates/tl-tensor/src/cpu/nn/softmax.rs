//! CPU kernels: `Softmax` and `LogSoftmax` along any axis.
//!
//! The output is split into slabs `[n, inner]` (the softmax axis and the axes after it), one
//! per combination of the leading axes. Along the last axis a slab is one row; along an
//! earlier axis the maxima and sums are kept per column, so the loops run over contiguous
//! columns and vectorise.

use rayon::prelude::*;

use super::rows::{sum, RowReader};
use crate::cpu::element::FloatElement;
use crate::cpu::{input_slice, output_slice};
use crate::error::Result;
use crate::tensor::Tensor;

/// Slabs smaller than this many elements are grouped into one rayon task.
const MIN_TASK_ELEMENTS: usize = 16 * 1024;

pub(super) fn run<T: FloatElement>(
    x: &Tensor,
    axis: usize,
    log: bool,
    output: &Tensor,
) -> Result<()> {
    let out = output_slice::<T>(output)?;
    if out.is_empty() {
        return Ok(());
    }
    let shape = x.shape();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let slab = n * inner;
    let reader = RowReader::new(input_slice::<T>(x)?, x.layout());
    let rows_per_slab = slab / reader.len();
    out.par_chunks_mut(slab)
        .with_min_len((MIN_TASK_ELEMENTS / slab).max(1))
        .enumerate()
        .for_each_init(
            || (vec![0.0f32; slab], vec![0.0f32; inner], vec![0.0f32; inner]),
            |(values, max, total), (s, dst)| {
                reader.read_rows(s * rows_per_slab, values);
                if inner == 1 {
                    row_softmax(values, log);
                } else {
                    column_softmax(values, inner, max, total, log);
                }
                for (d, &v) in dst.iter_mut().zip(values.iter()) {
                    *d = T::from_f32(v);
                }
            },
        );
    Ok(())
}

/// Softmax (or its log) of one row, in place.
fn row_softmax(x: &mut [f32], log: bool) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for v in x.iter_mut() {
        *v -= max;
    }
    if log {
        let total: f32 = x.iter().map(|v| v.exp()).sum();
        let log_total = total.ln();
        for v in x.iter_mut() {
            *v -= log_total;
        }
    } else {
        for v in x.iter_mut() {
            *v = v.exp();
        }
        let inv = 1.0 / sum(x);
        for v in x.iter_mut() {
            *v *= inv;
        }
    }
}

/// Softmax (or its log) down the columns of a row-major `[n, inner]` slab, in place.
fn column_softmax(x: &mut [f32], inner: usize, max: &mut [f32], total: &mut [f32], log: bool) {
    max.fill(f32::NEG_INFINITY);
    for row in x.chunks_exact(inner) {
        for (m, &v) in max.iter_mut().zip(row) {
            *m = m.max(v);
        }
    }
    total.fill(0.0);
    for row in x.chunks_exact_mut(inner) {
        for ((v, &m), t) in row.iter_mut().zip(max.iter()).zip(total.iter_mut()) {
            *v -= m;
            let e = v.exp();
            *t += e;
            if !log {
                *v = e;
            }
        }
    }
    if log {
        for t in total.iter_mut() {
            *t = t.ln();
        }
        for row in x.chunks_exact_mut(inner) {
            for (v, &t) in row.iter_mut().zip(total.iter()) {
                *v -= t;
            }
        }
    } else {
        for t in total.iter_mut() {
            *t = 1.0 / *t;
        }
        for row in x.chunks_exact_mut(inner) {
            for (v, &t) in row.iter_mut().zip(total.iter()) {
                *v *= t;
            }
        }
    }
}
