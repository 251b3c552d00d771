//! CPU kernel: `IndexCopy`, in place when the output is the destination itself.
//!
//! Each output slice along `axis` is owned by one task, which copies the source slice that
//! targets it (the last one, when indices repeat), so writes never race.

use rayon::prelude::*;

use super::index::read_indices;
use super::{copy, input_slice, output_bytes};
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::tensor::Tensor;

pub(super) fn run(op: &Op, axis: usize, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    let (dst, indices, src) = (inputs[0], inputs[1], inputs[2]);
    let shape = output.shape();
    let size = shape[axis];
    let mut source_of = vec![None; size];
    for (k, index) in read_indices(indices)?.into_iter().enumerate() {
        if index < 0 || index as u64 >= size as u64 {
            return Err(TensorError::IndexOutOfRange {
                op: op.name(),
                index,
                size,
            });
        }
        source_of[index as usize] = Some(k);
    }
    let in_place = dst.buffer().same_memory(output.buffer()) && dst.layout() == output.layout();
    if !in_place {
        copy::run(&Op::Contiguous, &[dst], output)?;
    }
    let element = output.dtype().block_bytes();
    let inner: usize = shape[axis + 1..].iter().product();
    let slice_bytes = inner * element;
    if slice_bytes == 0 {
        return Ok(());
    }
    let count = indices.numel();
    let src_bytes = input_slice::<u8>(src)?;
    let (src_shape, src_strides) = (src.shape(), src.layout().strides());
    let src_offset = src.layout().offset();
    let out = output_bytes(output)?;
    out.par_chunks_mut(slice_bytes)
        .enumerate()
        .for_each(|(row, target)| {
            let (outer, position) = (row / size, row % size);
            let Some(k) = source_of[position] else {
                return;
            };
            // Row-major position of the source slice's first element, then each element's
            // offset under the source's strides.
            let first = (outer * count + k) * inner;
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
        });
    Ok(())
}
