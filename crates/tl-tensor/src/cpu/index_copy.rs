//! CPU kernel: `IndexCopy`, in place when the output is the destination itself.
//!
//! Work is proportional to the slices written, not to the destination: a decode step writes
//! one row into a KV cache of thousands. Each target slice is written once, from the last
//! source slice that names it, so writes never race.

use rayon::prelude::*;

use super::index::read_indices;
use super::{copy, input_slice, output_bytes};
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::tensor::Tensor;

/// Bytes copied per rayon task; smaller copies run on the calling thread.
const MIN_TASK_BYTES: usize = 64 * 1024;

pub(super) fn run(op: &Op, axis: usize, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    let (dst, indices, src) = (inputs[0], inputs[1], inputs[2]);
    let shape = output.shape();
    let size = shape[axis];
    // (target position, source slice), the last source winning when positions repeat.
    let mut targets = Vec::with_capacity(indices.numel());
    for (k, index) in read_indices(indices)?.into_iter().enumerate() {
        if index < 0 || index as u64 >= size as u64 {
            return Err(TensorError::IndexOutOfRange {
                op: op.name(),
                index,
                size,
            });
        }
        targets.push((index as usize, k));
    }
    // Stable: among equal positions the sources stay in order, and the last one is kept.
    targets.sort_by_key(|&(position, _)| position);
    targets.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 = later.1;
        }
        same
    });
    let in_place = dst.buffer().same_memory(output.buffer()) && dst.layout() == output.layout();
    if !in_place {
        copy::run(&Op::Contiguous, &[dst], output)?;
    }
    let element = output.dtype().block_bytes();
    let inner: usize = shape[axis + 1..].iter().product();
    let slice_bytes = inner * element;
    if slice_bytes == 0 || targets.is_empty() {
        return Ok(());
    }
    let outers: usize = shape[..axis].iter().product();
    let count = indices.numel();
    let src_bytes = input_slice::<u8>(src)?;
    let (src_shape, src_strides) = (src.shape(), src.layout().strides());
    let src_offset = src.layout().offset();
    let src_dense = src.is_contiguous();
    // The output slices to write, split off one by one in increasing order, each with the
    // row-major index of its source slice.
    let mut jobs: Vec<(&mut [u8], usize)> = Vec::with_capacity(outers * targets.len());
    let mut rest = output_bytes(output)?;
    let mut consumed = 0;
    for outer in 0..outers {
        for &(position, k) in &targets {
            let at = outer * size + position;
            let tail = std::mem::take(&mut rest);
            let (target, tail) = tail[(at - consumed) * slice_bytes..].split_at_mut(slice_bytes);
            rest = tail;
            consumed = at + 1;
            jobs.push((target, outer * count + k));
        }
    }
    let copy_slice = |(target, source): &mut (&mut [u8], usize)| {
        let first = *source * inner;
        if src_dense {
            let at = (src_offset + first) * element;
            target.copy_from_slice(&src_bytes[at..at + slice_bytes]);
            return;
        }
        // Each element's offset under the source's strides.
        for (i, bytes) in target.chunks_mut(element).enumerate() {
            let mut flat = first + i;
            let mut offset = src_offset;
            for (&extent, &stride) in src_shape.iter().zip(src_strides).rev() {
                offset += flat % extent * stride;
                flat /= extent;
            }
            let at = offset * element;
            bytes.copy_from_slice(&src_bytes[at..at + element]);
        }
    };
    if jobs.len() * slice_bytes < 2 * MIN_TASK_BYTES {
        jobs.iter_mut().for_each(copy_slice);
    } else {
        jobs.par_iter_mut()
            .with_min_len((MIN_TASK_BYTES / slice_bytes).max(1))
            .for_each(copy_slice);
    }
    Ok(())
}
