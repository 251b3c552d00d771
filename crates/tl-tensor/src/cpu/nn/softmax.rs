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
    // Outputs far beyond the caches are written with streaming stores: no read of the
    // output lines before they are overwritten, and no eviction of the rows being read.
    let stream = std::mem::size_of_val(out) >= STREAM_BYTES;
    out.par_chunks_mut(slab)
        .with_min_len((MIN_TASK_ELEMENTS / slab).max(1))
        .enumerate()
        .for_each_init(
            || (vec![0.0f32; slab], vec![0.0f32; inner], vec![0.0f32; inner]),
            |(values, max, total), (s, dst)| {
                if inner == 1 && TypeId::of::<T>() == TypeId::of::<f32>() {
                    let dst: &mut [f32] = bytemuck::cast_slice_mut(dst);
                    if let Some(src) = reader.dense_row(s * rows_per_slab) {
                        // A dense f32 row is read where it lies: its maximum in one pass
                        // from memory, then the exponentials from L1 into the scratch row,
                        // then the normalised row written once.
                        let src: &[f32] = bytemuck::cast_slice(src);
                        // The next row (the next task's, at the end of this one) is
                        // fetched while this one's exponentials are computed.
                        let next = (s + 1 < outer)
                            .then(|| reader.dense_row((s + 1) * rows_per_slab))
                            .flatten()
                            .map(bytemuck::cast_slice::<T, f32>);
                        row_softmax_from((src, next), values, dst, log, stream);
                        return;
                    }
                    // f32 rows are normalised in the output itself: one pass less.
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

/// Output bytes from which rows are written with streaming stores (beyond any L2, and a
/// good part of a last-level cache).
const STREAM_BYTES: usize = 16 << 20;

/// Softmax (or its log) of the row `src` into `dst`, through `scratch` (one row, which stays
/// in L1): `src` is read from memory once and `dst` written once, with streaming stores
/// when `stream` is set and the CPU and `dst`'s alignment allow.
fn row_softmax_from(
    (src, next): (&[f32], Option<&[f32]>),
    scratch: &mut [f32],
    dst: &mut [f32],
    log: bool,
    stream: bool,
) {
    let scratch = &mut scratch[..src.len()];
    let next = next.unwrap_or(&[]);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU was just checked for AVX-512F.
            unsafe { row_softmax_from_avx512((src, next), scratch, dst, log, stream) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just checked for AVX2.
            unsafe { row_softmax_from_avx2((src, next), scratch, dst, log) };
            return;
        }
    }
    let _ = stream;
    let (offset, factor) = shifted_exponentials((src, next), scratch, log);
    finish_row(scratch, dst, log, offset, factor);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_softmax_from_avx512(
    (src, next): (&[f32], &[f32]),
    scratch: &mut [f32],
    dst: &mut [f32],
    log: bool,
    stream: bool,
) {
    use std::arch::x86_64::*;
    let (offset, factor) = shifted_exponentials((src, next), scratch, log);
    let aligned = (dst.as_ptr() as usize).is_multiple_of(64) && dst.len().is_multiple_of(16);
    if !(stream && aligned) {
        finish_row(scratch, dst, log, offset, factor);
        return;
    }
    let (offset, factor) = (_mm512_set1_ps(offset), _mm512_set1_ps(factor));
    for (d, s) in dst.chunks_exact_mut(16).zip(scratch.chunks_exact(16)) {
        // SAFETY: `s` is 16 readable floats (unaligned load); `d` is 16 writable floats at
        // a 64-byte boundary (`dst` is aligned and split into whole 16-float chunks).
        let v = _mm512_loadu_ps(s.as_ptr());
        let v = if log {
            _mm512_sub_ps(v, offset)
        } else {
            _mm512_mul_ps(v, factor)
        };
        _mm512_stream_ps(d.as_mut_ptr(), v);
    }
    // Streaming stores are weakly ordered: make them visible before the task ends.
    _mm_sfence();
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_softmax_from_avx2(
    (src, next): (&[f32], &[f32]),
    scratch: &mut [f32],
    dst: &mut [f32],
    log: bool,
) {
    let (offset, factor) = shifted_exponentials((src, next), scratch, log);
    finish_row(scratch, dst, log, offset, factor);
}

/// Fills `scratch` with `x − max` (log) or `exp(x − max)`, and returns what finishes the
/// row: `ln Σ exp(x − max)` to subtract (log), or `1 / Σ exp(x − max)` to multiply by.
/// The lines of `next` are prefetched along the way, so that its maximum pass finds them in
/// cache and memory stays busy while this row is computed.
#[inline(always)]
fn shifted_exponentials(
    (src, next): (&[f32], &[f32]),
    scratch: &mut [f32],
    log: bool,
) -> (f32, f32) {
    let body = src.len() / LANES * LANES;
    let mut maxima = [f32::NEG_INFINITY; LANES];
    for chunk in src[..body].chunks_exact(LANES) {
        for (m, &v) in maxima.iter_mut().zip(chunk) {
            *m = if v > *m { v } else { *m };
        }
    }
    let max = maxima
        .iter()
        .chain(&src[body..])
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sums = [0.0f32; LANES];
    let mut ahead = next.chunks(LANES);
    for (out, chunk) in scratch[..body]
        .chunks_exact_mut(LANES)
        .zip(src[..body].chunks_exact(LANES))
    {
        if let Some(lines) = ahead.next() {
            prefetch(lines);
        }
        for ((s, o), &v) in sums.iter_mut().zip(out.iter_mut()).zip(chunk) {
            let shifted = v - max;
            let e = exp(shifted);
            *s += e;
            *o = if log { shifted } else { e };
        }
    }
    let mut total = 0.0f32;
    for (o, &v) in scratch[body..].iter_mut().zip(&src[body..]) {
        let shifted = v - max;
        let e = exp(shifted);
        total += e;
        *o = if log { shifted } else { e };
    }
    let total = sum(&sums) + total;
    if log {
        (total.ln(), 1.0)
    } else {
        (0.0, 1.0 / total)
    }
}

/// A hint to bring the cache lines of `lines` (at most 32 floats: two lines) into L1.
#[inline(always)]
fn prefetch(lines: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch never faults and reads nothing into the program.
        unsafe {
            _mm_prefetch(lines.as_ptr() as *const i8, _MM_HINT_T0);
            _mm_prefetch(lines[lines.len() - 1..].as_ptr() as *const i8, _MM_HINT_T0);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = lines;
}

/// `dst = scratch − offset` (log) or `scratch · factor`.
#[inline(always)]
fn finish_row(scratch: &[f32], dst: &mut [f32], log: bool, offset: f32, factor: f32) {
    for (d, &s) in dst.iter_mut().zip(scratch) {
        *d = if log { s - offset } else { s * factor };
    }
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

#[cfg(test)]
mod tests {
    use crate::{DType, Device};

    /// Outputs large enough for streaming stores (16 MiB) still match softmax and log-softmax
    /// computed in f64, in every row (the conformance cases are smaller than that).
    #[test]
    fn streamed_rows_match_f64() {
        let device = Device::cpu_with_threads(2);
        let (rows, len) = (1024, 4096);
        let x = device
            .rand_uniform(&[rows, len], DType::F32, -8.0, 8.0, 7)
            .expect("input");
        let host = x.to_vec::<f32>().expect("input values");
        let soft = x
            .softmax(1)
            .expect("softmax")
            .to_vec::<f32>()
            .expect("softmax values");
        let logs = x
            .log_softmax(1)
            .expect("log_softmax")
            .to_vec::<f32>()
            .expect("log_softmax values");
        for r in (0..rows).step_by(97).chain([rows - 1]) {
            let row = &host[r * len..(r + 1) * len];
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let total: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
            for (j, &v) in row.iter().enumerate() {
                let want = (v as f64 - max).exp() / total;
                let got = soft[r * len + j] as f64;
                assert!(
                    (got - want).abs() <= 1e-5 * want,
                    "softmax [{r},{j}]: {got} vs {want}"
                );
                let want = v as f64 - max - total.ln();
                let got = logs[r * len + j] as f64;
                assert!(
                    (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "log [{r},{j}]: {got} vs {want}"
                );
            }
        }
    }
}
