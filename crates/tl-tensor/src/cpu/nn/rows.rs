//! Reading strided float views as f32 rows, and the vectorisable reductions the float kernels
//! share (dot products, sums of squares).

use rayon::prelude::*;

use crate::cpu::element::FloatElement;
use crate::cpu::strided::{inner_stride, row_offset, rows_and_len};
use crate::layout::Layout;

/// Elements converted per rayon task by [`load_f32`].
const LOAD_CHUNK: usize = 16 * 1024;

/// A strided float view read one row (all axes but the last) at a time, widened to f32.
pub(crate) struct RowReader<'a, T> {
    data: &'a [T],
    layout: &'a Layout,
    stride: usize,
    len: usize,
}

impl<'a, T: FloatElement> RowReader<'a, T> {
    pub(crate) fn new(data: &'a [T], layout: &'a Layout) -> Self {
        let (_, len) = rows_and_len(layout);
        RowReader {
            data,
            layout,
            stride: inner_stride(layout),
            len,
        }
    }

    /// Elements per row.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Row `row` itself, when its elements are adjacent.
    pub(crate) fn dense_row(&self, row: usize) -> Option<&'a [T]> {
        if self.stride != 1 {
            return None;
        }
        let base = row_offset(self.layout, row);
        Some(&self.data[base..base + self.len])
    }

    /// Widens row `row` into `dst`, which holds exactly one row.
    pub(crate) fn read(&self, row: usize, dst: &mut [f32]) {
        let base = row_offset(self.layout, row);
        if self.stride == 1 {
            for (d, s) in dst.iter_mut().zip(&self.data[base..base + self.len]) {
                *d = s.to_f32();
            }
        } else {
            for (j, d) in dst.iter_mut().enumerate() {
                *d = self.data[base + j * self.stride].to_f32();
            }
        }
    }

    /// Widens the consecutive rows starting at `first_row` that fill `dst` (a whole number
    /// of rows).
    pub(crate) fn read_rows(&self, first_row: usize, dst: &mut [f32]) {
        if self.len == 0 {
            return;
        }
        for (i, row) in dst.chunks_mut(self.len).enumerate() {
            self.read(first_row + i, row);
        }
    }
}

/// The whole view, widened to dense row-major f32.
pub(crate) fn load_f32<T: FloatElement>(data: &[T], layout: &Layout) -> Vec<f32> {
    let mut out = vec![0.0f32; layout.numel()];
    let reader = RowReader::new(data, layout);
    let len = reader.len();
    if len == 0 || out.is_empty() {
        return out;
    }
    let rows_per_task = (LOAD_CHUNK / len).max(1);
    out.par_chunks_mut(rows_per_task * len)
        .enumerate()
        .for_each(|(task, chunk)| reader.read_rows(task * rows_per_task, chunk));
    out
}

/// Rounds dense f32 values into a dense output of `T`.
pub(crate) fn store_f32<T: FloatElement>(src: &[f32], dst: &mut [T]) {
    dst.par_chunks_mut(LOAD_CHUNK)
        .zip(src.par_chunks(LOAD_CHUNK))
        .for_each(|(d, s)| {
            for (o, &v) in d.iter_mut().zip(s) {
                *o = T::from_f32(v);
            }
        });
}

/// Lanes of the partial sums below: independent accumulators let LLVM vectorise a float
/// reduction it may not reorder.
const LANES: usize = 8;

/// `Σ a·b` over two equal-length slices, accumulated in f32.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (a_body, a_tail) = a.split_at(n / LANES * LANES);
    let (b_body, b_tail) = b.split_at(n / LANES * LANES);
    for (x, y) in a_body.chunks_exact(LANES).zip(b_body.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut total: f32 = acc.iter().sum();
    for (x, y) in a_tail.iter().zip(b_tail) {
        total += x * y;
    }
    total
}

/// `Σ x²`, accumulated in f32.
#[inline]
pub(crate) fn sum_squares(x: &[f32]) -> f32 {
    dot(x, x)
}

/// `Σ x`, accumulated in f32.
#[inline]
pub(crate) fn sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let body = x.len() / LANES * LANES;
    for c in x[..body].chunks_exact(LANES) {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + x[body..].iter().sum::<f32>()
}
