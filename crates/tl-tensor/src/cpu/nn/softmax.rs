//! CPU kernels: `Softmax` and `LogSoftmax` along any axis.
//!
//! The output is split into slabs `[n, inner]` (the softmax axis and the axes after it), one
//! per combination of the leading axes. Along the last axis a slab is one row; along an
//! earlier axis the maxima and sums are kept per column, so the loops run over contiguous
//! columns and vectorise. When there are fewer slabs than threads (a softmax down the first
//! axis), the columns are split across tasks instead.

use std::any::TypeId;

use crate::cpu::elementwise::math::exp;
use rayon::prelude::*;

use super::rows::{load_f32, sum, RowReader};
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
    let outer = out.len() / slab;
    if inner > 1 && outer < rayon::current_num_threads() {
        by_columns(input_slice::<T>(x)?, x, n, inner, log, out);
        return Ok(());
    }
    let reader = RowReader::new(input_slice::<T>(x)?, x.layout());
    let rows_per_slab = slab / reader.len();
    out.par_chunks_mut(slab)
        .with_min_len((MIN_TASK_ELEMENTS / slab).max(1))
        .enumerate()
        .for_each_init(
            || (vec![0.0f32; slab], vec![0.0f32; inner], vec![0.0f32; inner]),
            |(values, max, total), (s, dst)| {
                if inner == 1 && TypeId::of::<T>() == TypeId::of::<f32>() {
                    // f32 rows are normalised in the output itself: one pass less.
                    let dst: &mut [f32] = bytemuck::cast_slice_mut(dst);
                    reader.read_rows(s * rows_per_slab, dst);
                    row_softmax(dst, log);
                    return;
                }
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

/// Columns of a slab handled per task.
const COLUMN_BLOCK: usize = 1024;

/// Few wide slabs: the column statistics (max, then the sum of exponentials) are computed
/// by blocks of columns in parallel over a dense copy, then the rows are written in parallel.
fn by_columns<T: FloatElement>(
    data: &[T],
    x: &Tensor,
    n: usize,
    inner: usize,
    log: bool,
    out: &mut [T],
) {
    let dense = load_f32(data, x.layout());
    let outer = out.len() / (n * inner);
    let mut max = vec![f32::NEG_INFINITY; outer * inner];
    let mut total = vec![0.0f32; outer * inner];
    max.par_chunks_mut(inner)
        .zip(total.par_chunks_mut(inner))
        .enumerate()
        .for_each(|(o, (max, total))| {
            max.par_chunks_mut(COLUMN_BLOCK)
                .zip(total.par_chunks_mut(COLUMN_BLOCK))
                .enumerate()
                .for_each(|(block, (max, total))| {
                    let (start, width) = (block * COLUMN_BLOCK, max.len());
                    let column_rows = (0..n).map(|j| {
                        let at = (o * n + j) * inner + start;
                        &dense[at..at + width]
                    });
                    for row in column_rows.clone() {
                        for (m, &v) in max.iter_mut().zip(row) {
                            *m = m.max(v);
                        }
                    }
                    for row in column_rows {
                        for ((t, &m), &v) in total.iter_mut().zip(max.iter()).zip(row) {
                            *t += (v - m).exp();
                        }
                    }
                    for t in total.iter_mut() {
                        *t = if log { t.ln() } else { 1.0 / *t };
                    }
                });
        });
    out.par_chunks_mut(inner)
        .zip(dense.par_chunks(inner))
        .enumerate()
        .for_each(|(row, (dst, values))| {
            let o = row / n;
            let (max, total) = (&max[o * inner..][..inner], &total[o * inner..][..inner]);
            for (((d, &v), &m), &t) in dst.iter_mut().zip(values).zip(max).zip(total) {
                *d = T::from_f32(if log { v - m - t } else { (v - m).exp() * t });
            }
        });
}

/// Softmax (or its log) of one row, in place; on AVX-512 or AVX2 machines the same code
/// compiled for 16 or 8 lanes (the exponential is `math::exp`, branch-free so that it
/// vectorises).
fn row_softmax(x: &mut [f32], log: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU was just checked for AVX-512F.
            unsafe { row_softmax_avx512(x, log) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just checked for AVX2.
            unsafe { row_softmax_avx2(x, log) };
            return;
        }
    }
    row_softmax_portable(x, log)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_softmax_avx512(x: &mut [f32], log: bool) {
    row_softmax_portable(x, log)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_softmax_avx2(x: &mut [f32], log: bool) {
    row_softmax_portable(x, log)
}

/// Lanes of the partial maxima and sums: two AVX-512 vectors, so that neither reduction is
/// one serial chain (float reductions are not reordered by the compiler).
const LANES: usize = 32;

#[inline(always)]
fn row_softmax_portable(x: &mut [f32], log: bool) {
    let body = x.len() / LANES * LANES;
    // `v > m` skips NaN as `f32::max` does; a NaN still poisons the row through the sum.
    let mut maxima = [f32::NEG_INFINITY; LANES];
    for chunk in x[..body].chunks_exact(LANES) {
        for (m, &v) in maxima.iter_mut().zip(chunk) {
            *m = if v > *m { v } else { *m };
        }
    }
    let max = maxima
        .iter()
        .chain(&x[body..])
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    // One pass writes the shifted values (or their exponentials) and sums the exponentials.
    let mut sums = [0.0f32; LANES];
    let (head, tail) = x.split_at_mut(body);
    for chunk in head.chunks_exact_mut(LANES) {
        for (s, v) in sums.iter_mut().zip(chunk.iter_mut()) {
            let shifted = *v - max;
            let e = exp(shifted);
            *s += e;
            *v = if log { shifted } else { e };
        }
    }
    let mut total = 0.0f32;
    for v in tail.iter_mut() {
        let shifted = *v - max;
        let e = exp(shifted);
        total += e;
        *v = if log { shifted } else { e };
    }
    let total = sum(&sums) + total;
    if log {
        let log_total = total.ln();
        for v in x.iter_mut() {
            *v -= log_total;
        }
    } else {
        let inv = 1.0 / total;
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
