//! Walking up to three operands broadcast to one dense output, one contiguous run at a time.
//!
//! The output shape and every operand's (expanded) strides are coalesced together, so dense
//! operands collapse into one long row and a broadcast row vector stays a short row. Each
//! run (a piece of an output row) is handed to a loop specialised for the inner strides
//! (1 = contiguous slice, 0 = one repeated value, other = gather); those loops are plain
//! zips over slices that LLVM vectorises.

use rayon::prelude::*;

use super::super::strided::row_offset;
use super::super::{backend_error, input_slice, output_slice};
use super::widen::{Widen, BLOCK};
use crate::error::Result;
use crate::layout::Layout;
use crate::tensor::Tensor;

/// Output elements per rayon task: enough to amortise scheduling, small enough to balance.
const TASK_ELEMENTS: usize = 32 * 1024;

/// `N` operand layouts coalesced jointly over the output shape.
pub(super) struct Walk<const N: usize> {
    layouts: Vec<Layout>,
    row_len: usize,
    inner: [usize; N],
}

impl<const N: usize> Walk<N> {
    pub(super) fn new(out_shape: &[usize], operands: [&Layout; N]) -> Result<Walk<N>> {
        let expanded = operands
            .iter()
            .map(|layout| layout.expand(out_shape))
            .collect::<Result<Vec<Layout>>>()?;
        let mut shape: Vec<usize> = Vec::new();
        let mut strides: Vec<Vec<usize>> = vec![Vec::new(); N];
        for (axis, &dim) in out_shape.iter().enumerate() {
            if dim == 1 {
                continue;
            }
            let merges = !shape.is_empty()
                && expanded.iter().zip(&strides).all(|(layout, merged)| {
                    merged.last().copied() == Some(layout.strides()[axis] * dim)
                });
            if let (true, Some(last)) = (merges, shape.last_mut()) {
                *last *= dim;
                for (layout, merged) in expanded.iter().zip(&mut strides) {
                    if let Some(s) = merged.last_mut() {
                        *s = layout.strides()[axis];
                    }
                }
            } else {
                shape.push(dim);
                for (layout, merged) in expanded.iter().zip(&mut strides) {
                    merged.push(layout.strides()[axis]);
                }
            }
        }
        if shape.is_empty() {
            // One element (rank 0 or all axes of size 1).
            shape.push(1);
            strides.iter_mut().for_each(|s| s.push(0));
        }
        let row_len = shape.last().copied().unwrap_or(1);
        let inner = std::array::from_fn(|k| strides[k].last().copied().unwrap_or(0));
        let layouts = expanded
            .iter()
            .zip(strides)
            .map(|(layout, s)| Layout::from_parts(shape.clone(), s, layout.offset()))
            .collect::<Result<Vec<Layout>>>()?;
        Ok(Walk {
            layouts,
            row_len,
            inner,
        })
    }

    /// Inner strides of the operands along the runs.
    pub(super) fn inner(&self) -> [usize; N] {
        self.inner
    }

    /// Calls `body(run, starts)` for consecutive runs of `out` (in parallel), where
    /// `starts[k]` is the element offset of operand `k` at the first element of the run.
    pub(super) fn for_each_run<O: Send>(
        &self,
        out: &mut [O],
        body: impl Fn(&mut [O], [usize; N]) + Sync,
    ) {
        let len = self.row_len.max(1);
        out.par_chunks_mut(TASK_ELEMENTS)
            .enumerate()
            .for_each(|(task, chunk)| {
                let mut flat = task * TASK_ELEMENTS;
                let mut rest = chunk;
                while !rest.is_empty() {
                    let (row, col) = (flat / len, flat % len);
                    let count = (len - col).min(rest.len());
                    let starts = std::array::from_fn(|k| {
                        row_offset(&self.layouts[k], row) + col * self.inner[k]
                    });
                    let (run, tail) = std::mem::take(&mut rest).split_at_mut(count);
                    body(run, starts);
                    rest = tail;
                    flat += count;
                }
            });
    }
}

/// The whole buffer behind `tensor` as `T`, checked to hold every element its view reaches
/// (so the kernels' indexing cannot go out of bounds).
pub(in crate::cpu) fn checked_input<T: bytemuck::Pod>(tensor: &Tensor) -> Result<&[T]> {
    let data = input_slice::<T>(tensor)?;
    if tensor.layout().span_end() > data.len() {
        return Err(backend_error(format!(
            "a {} view of shape {:?} reaches past its buffer",
            tensor.dtype(),
            tensor.shape()
        )));
    }
    Ok(data)
}

/// `out[i] = f(x[i])` over a broadcast, strided `x`.
pub(super) fn map1<A, O>(x: &Tensor, out: &Tensor, f: impl Fn(A) -> O + Sync + Copy) -> Result<()>
where
    A: bytemuck::Pod + Sync,
    O: bytemuck::Pod + Send,
{
    let a = checked_input::<A>(x)?;
    let dst = output_slice::<O>(out)?;
    if dst.is_empty() {
        return Ok(());
    }
    let walk = Walk::new(out.shape(), [x.layout()])?;
    let [ia] = walk.inner();
    walk.for_each_run(dst, |run, [sa]| {
        // A local copy of the function (and what it captured), so LLVM sees that the
        // output stores cannot change it and hoists its captures out of the loop.
        let function = f;
        let n = run.len();
        if ia == 1 {
            dense_map(run, &a[sa..sa + n], function);
        } else {
            for (j, o) in run.iter_mut().enumerate() {
                *o = function(a[sa + j * ia]);
            }
        }
    });
    Ok(())
}

/// `out[i] = f(x[i])` over dense slices, compiled again for AVX-512 and for AVX2 and chosen
/// at run time: the baseline x86-64 build has only 4-lane SSE2, and the branch-free math of
/// `math.rs` vectorises to 16 or 8 lanes there. No FMA contraction happens in Rust, so all
/// paths give bit-identical results.
#[inline(always)]
fn dense_map<A: Copy, O>(out: &mut [O], input: &[A], f: impl Fn(A) -> O + Copy) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU was just checked for AVX-512F.
            unsafe { dense_map_avx512(out, input, f) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just checked for AVX2.
            unsafe { dense_map_avx2(out, input, f) };
            return;
        }
    }
    for (o, &v) in out.iter_mut().zip(input) {
        *o = f(v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dense_map_avx512<A: Copy, O>(out: &mut [O], input: &[A], f: impl Fn(A) -> O + Copy) {
    for (o, &v) in out.iter_mut().zip(input) {
        *o = f(v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dense_map_avx2<A: Copy, O>(out: &mut [O], input: &[A], f: impl Fn(A) -> O + Copy) {
    for (o, &v) in out.iter_mut().zip(input) {
        *o = f(v);
    }
}

/// `out[i] = f(x[i], y[i])` with `x` and `y` broadcast to the output.
pub(super) fn map2<A, B, O>(
    x: &Tensor,
    y: &Tensor,
    out: &Tensor,
    f: impl Fn(A, B) -> O + Sync + Copy,
) -> Result<()>
where
    A: bytemuck::Pod + Sync,
    B: bytemuck::Pod + Sync,
    O: bytemuck::Pod + Send,
{
    let (a, b) = (checked_input::<A>(x)?, checked_input::<B>(y)?);
    let dst = output_slice::<O>(out)?;
    if dst.is_empty() {
        return Ok(());
    }
    let walk = Walk::new(out.shape(), [x.layout(), y.layout()])?;
    let [ia, ib] = walk.inner();
    walk.for_each_run(dst, |run, [sa, sb]| {
        // A local copy of the function (and what it captured), so LLVM sees that the
        // output stores cannot change it and hoists its captures out of the loop.
        let function = f;
        let n = run.len();
        match (ia, ib) {
            (1, 1) => {
                for ((o, &va), &vb) in run.iter_mut().zip(&a[sa..sa + n]).zip(&b[sb..sb + n]) {
                    *o = function(va, vb);
                }
            }
            (1, 0) => {
                let vb = b[sb];
                for (o, &va) in run.iter_mut().zip(&a[sa..sa + n]) {
                    *o = function(va, vb);
                }
            }
            (0, 1) => {
                let va = a[sa];
                for (o, &vb) in run.iter_mut().zip(&b[sb..sb + n]) {
                    *o = function(va, vb);
                }
            }
            _ => {
                for (j, o) in run.iter_mut().enumerate() {
                    *o = function(a[sa + j * ia], b[sb + j * ib]);
                }
            }
        }
    });
    Ok(())
}

/// `out[i] = f(x[i], y[i], z[i])` with all three broadcast to the output.
pub(super) fn map3<A, B, C, O>(
    x: &Tensor,
    y: &Tensor,
    z: &Tensor,
    out: &Tensor,
    f: impl Fn(A, B, C) -> O + Sync + Copy,
) -> Result<()>
where
    A: bytemuck::Pod + Sync,
    B: bytemuck::Pod + Sync,
    C: bytemuck::Pod + Sync,
    O: bytemuck::Pod + Send,
{
    let (a, b, c) = (
        checked_input::<A>(x)?,
        checked_input::<B>(y)?,
        checked_input::<C>(z)?,
    );
    let dst = output_slice::<O>(out)?;
    if dst.is_empty() {
        return Ok(());
    }
    let walk = Walk::new(out.shape(), [x.layout(), y.layout(), z.layout()])?;
    let [ia, ib, ic] = walk.inner();
    walk.for_each_run(dst, |run, [sa, sb, sc]| {
        // A local copy of the function (and what it captured), so LLVM sees that the
        // output stores cannot change it and hoists its captures out of the loop.
        let function = f;
        let n = run.len();
        match (ia, ib, ic) {
            (1, 1, 1) => {
                for (((o, &va), &vb), &vc) in run
                    .iter_mut()
                    .zip(&a[sa..sa + n])
                    .zip(&b[sb..sb + n])
                    .zip(&c[sc..sc + n])
                {
                    *o = function(va, vb, vc);
                }
            }
            // A mask choosing between a tensor and a constant (masked fill), either way round.
            (1, 1, 0) => {
                let vc = c[sc];
                for ((o, &va), &vb) in run.iter_mut().zip(&a[sa..sa + n]).zip(&b[sb..sb + n]) {
                    *o = function(va, vb, vc);
                }
            }
            (1, 0, 1) => {
                let vb = b[sb];
                for ((o, &va), &vc) in run.iter_mut().zip(&a[sa..sa + n]).zip(&c[sc..sc + n]) {
                    *o = function(va, vb, vc);
                }
            }
            _ => {
                for (j, o) in run.iter_mut().enumerate() {
                    *o = function(a[sa + j * ia], b[sb + j * ib], c[sc + j * ic]);
                }
            }
        }
    });
    Ok(())
}

/// The f32 values of `count` elements of a run starting at `start` with inner `stride`.
#[inline(always)]
fn load_f32<'a, T: Widen>(
    src: &'a [T],
    (start, stride): (usize, usize),
    count: usize,
    buf: &'a mut [f32; BLOCK],
) -> &'a [f32] {
    match stride {
        1 => T::widen(&src[start..start + count], buf),
        0 => {
            buf[..count].fill(src[start].to_f32());
            &buf[..count]
        }
        _ => {
            for (j, w) in buf[..count].iter_mut().enumerate() {
                *w = src[start + j * stride].to_f32();
            }
            &buf[..count]
        }
    }
}

/// `out[i] = f(x[i])` for f16/bf16: each block of a run is widened to f32, mapped, and
/// narrowed back, so conversions and math are all slice loops.
pub(super) fn widened_map1<T: Widen>(
    x: &Tensor,
    out: &Tensor,
    f: impl Fn(f32) -> f32 + Sync + Copy,
) -> Result<()> {
    let a = checked_input::<T>(x)?;
    let dst = output_slice::<T>(out)?;
    if dst.is_empty() {
        return Ok(());
    }
    let walk = Walk::new(out.shape(), [x.layout()])?;
    let [ia] = walk.inner();
    walk.for_each_run(dst, |run, [sa]| {
        let function = f;
        let (mut buf_a, mut buf_out) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
        for (k, block) in run.chunks_mut(BLOCK).enumerate() {
            let n = block.len();
            let xs = load_f32(a, (sa + k * BLOCK * ia, ia), n, &mut buf_a);
            for (o, &v) in buf_out[..n].iter_mut().zip(xs) {
                *o = function(v);
            }
            T::narrow(&buf_out[..n], block);
        }
    });
    Ok(())
}

/// `out[i] = f(x[i], y[i])` for f16/bf16, a widened block at a time.
pub(super) fn widened_map2<T: Widen>(
    x: &Tensor,
    y: &Tensor,
    out: &Tensor,
    f: impl Fn(f32, f32) -> f32 + Sync + Copy,
) -> Result<()> {
    let (a, b) = (checked_input::<T>(x)?, checked_input::<T>(y)?);
    let dst = output_slice::<T>(out)?;
    if dst.is_empty() {
        return Ok(());
    }
    let walk = Walk::new(out.shape(), [x.layout(), y.layout()])?;
    let [ia, ib] = walk.inner();
    walk.for_each_run(dst, |run, [sa, sb]| {
        let function = f;
        let mut bufs = ([0.0f32; BLOCK], [0.0f32; BLOCK], [0.0f32; BLOCK]);
        for (k, block) in run.chunks_mut(BLOCK).enumerate() {
            let n = block.len();
            let xs = load_f32(a, (sa + k * BLOCK * ia, ia), n, &mut bufs.0);
            let ys = load_f32(b, (sb + k * BLOCK * ib, ib), n, &mut bufs.1);
            for ((o, &va), &vb) in bufs.2[..n].iter_mut().zip(xs).zip(ys) {
                *o = function(va, vb);
            }
            T::narrow(&bufs.2[..n], block);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::math;
    use super::dense_map;

    /// The run-time-chosen SIMD builds of the dense map compute exactly what the plain
    /// function computes, element by element (no contraction, no approximate instruction).
    #[test]
    fn simd_builds_of_the_dense_map_are_bit_identical() {
        let values: Vec<f32> = (0..20_000)
            .map(|i| (i as f32 - 10_000.0) * 0.0123)
            .chain([0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, 1e-40, -1e-40])
            .collect();
        type Function = fn(f32) -> f32;
        let functions: [(&str, Function); 6] = [
            ("exp", math::exp),
            ("ln", math::ln),
            ("tanh", math::tanh),
            ("silu", math::silu),
            ("gelu_erf", math::gelu_erf),
            ("gelu_tanh", math::gelu_tanh),
        ];
        for (name, f) in functions {
            for len in [1, 7, values.len()] {
                let mut out = vec![0.0f32; len];
                dense_map(&mut out, &values[..len], f);
                for (&v, &o) in values.iter().zip(&out) {
                    let want = f(v);
                    assert!(
                        o.to_bits() == want.to_bits() || (o.is_nan() && want.is_nan()),
                        "{name}({v}) = {o} by the dense map, {want} by the function"
                    );
                }
            }
        }
    }
}
