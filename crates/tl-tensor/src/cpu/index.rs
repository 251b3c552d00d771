//! CPU kernels: `IndexSelect`, `Gather`, `ScatterAdd`, `IndexAdd` and `EmbeddingBag`.
//!
//! Every index is checked before anything is written: a negative or too large index is an
//! `IndexOutOfRange` error, never a panic. The adding ops are deterministic: each output
//! element is owned by one task, which adds its contributions in ascending source order.

use rayon::prelude::*;

use super::element::FloatElement;
use super::nn::rows::{load_f32, store_f32, RowReader};
use super::strided::{byte_layout, coalesce, inner_stride, row_offset, rows_and_len};
use super::{input_slice, output_bytes, output_slice};
use crate::error::{Result, TensorError};
use crate::layout::{contiguous_strides, Layout};
use crate::op::{BagMode, Op};
use crate::tensor::Tensor;
use crate::{with_float_type, DType};

/// Rows shorter than this many bytes are grouped into one rayon task.
const MIN_TASK_BYTES: usize = 16 * 1024;

pub(crate) fn run(op: &Op, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    match op {
        Op::IndexSelect { axis } => index_select(op, *axis, inputs[0], inputs[1], output),
        Op::Gather { axis } => match inputs[0].dtype().block_bytes() {
            1 => gather::<u8>(op, *axis, inputs[0], inputs[1], output),
            2 => gather::<u16>(op, *axis, inputs[0], inputs[1], output),
            4 => gather::<u32>(op, *axis, inputs[0], inputs[1], output),
            _ => gather::<u64>(op, *axis, inputs[0], inputs[1], output),
        },
        Op::ScatterAdd { axis } => with_float_type!(output.dtype(), T => {
            scatter_add::<T>(op, *axis, inputs, output)
        }, _ => unreachable!("scatter_add of {} is rejected by the signature", output.dtype())),
        Op::IndexAdd { axis } => with_float_type!(output.dtype(), T => {
            index_add::<T>(op, *axis, inputs, output)
        }, _ => unreachable!("index_add of {} is rejected by the signature", output.dtype())),
        Op::IndexCopy { axis } => super::index_copy::run(op, *axis, inputs, output),
        Op::EmbeddingBag { mode } => with_float_type!(output.dtype(), T => {
            embedding_bag::<T>(op, *mode, inputs[0], inputs[1], output)
        }, _ => unreachable!("embedding_bag of {} is rejected by the signature", output.dtype())),
        _ => unreachable!("index::run got {}", op.name()),
    }
}

/// The values of an `i32`/`i64` tensor in row-major order.
pub(super) fn read_indices(tensor: &Tensor) -> Result<Vec<i64>> {
    fn typed<I: bytemuck::Pod + Into<i64>>(tensor: &Tensor) -> Result<Vec<i64>> {
        let data = input_slice::<I>(tensor)?;
        Ok(tensor.layout().offsets().map(|o| data[o].into()).collect())
    }
    match tensor.dtype() {
        DType::I32 => typed::<i32>(tensor),
        _ => typed::<i64>(tensor),
    }
}

/// `index` as a position along an axis of `size`, or the error naming it.
fn position(op: &Op, index: i64, size: usize) -> Result<usize> {
    if index < 0 || index as u64 >= size as u64 {
        return Err(TensorError::IndexOutOfRange {
            op: op.name(),
            index,
            size,
        });
    }
    Ok(index as usize)
}

fn positions(op: &Op, indices: &[i64], size: usize) -> Result<Vec<usize>> {
    indices.iter().map(|&i| position(op, i, size)).collect()
}

/// Offset of row-major position `flat` in `shape` under `strides`.
fn strided_offset(mut flat: usize, shape: &[usize], strides: &[usize]) -> usize {
    let mut offset = 0;
    for (&dim, &stride) in shape.iter().zip(strides).rev() {
        offset += (flat % dim) * stride;
        flat /= dim;
    }
    offset
}

/// The axes after `axis` of a layout, as one coalesced view at offset 0.
fn inner_view(layout: &Layout, axis: usize) -> Layout {
    let inner = Layout::from_parts(
        layout.shape()[axis + 1..].to_vec(),
        layout.strides()[axis + 1..].to_vec(),
        0,
    )
    .expect("one length");
    coalesce(&inner)
}

/// Whole slices along `axis`, copied as bytes so every dtype (quantized rows of blocks too)
/// takes the same path.
fn index_select(
    op: &Op,
    axis: usize,
    src: &Tensor,
    indices: &Tensor,
    output: &Tensor,
) -> Result<()> {
    let picked = positions(op, &read_indices(indices)?, src.shape()[axis])?;
    let bytes = input_slice::<u8>(src)?;
    let layout = byte_layout(src);
    let out = output_bytes(output)?;
    let inner = inner_view(&layout, axis);
    let inner_bytes = inner.numel();
    if out.is_empty() || inner_bytes == 0 {
        return Ok(());
    }
    let outer_shape = &layout.shape()[..axis];
    let outer_strides = &layout.strides()[..axis];
    let axis_stride = layout.strides()[axis];
    let (inner_rows, inner_len) = rows_and_len(&inner);
    let dense_inner = inner_rows == 1 && inner_stride(&inner) == 1;
    let n = picked.len();
    out.par_chunks_mut(inner_bytes)
        .with_min_len((MIN_TASK_BYTES / inner_bytes).max(1))
        .enumerate()
        .for_each(|(chunk, dst)| {
            let (o, j) = (chunk / n, chunk % n);
            let base = layout.offset()
                + strided_offset(o, outer_shape, outer_strides)
                + picked[j] * axis_stride;
            if dense_inner {
                dst.copy_from_slice(&bytes[base..base + inner_bytes]);
                return;
            }
            let stride = inner_stride(&inner);
            for (r, dst_row) in dst.chunks_mut(inner_len).enumerate() {
                let start = base + row_offset(&inner, r);
                for (k, b) in dst_row.iter_mut().enumerate() {
                    *b = bytes[start + k * stride];
                }
            }
        });
    Ok(())
}

/// `out[.., i, ..] = src[.., index[.., i, ..], ..]`, moving elements of `E`'s size.
fn gather<E: bytemuck::Pod + Send + Sync>(
    op: &Op,
    axis: usize,
    src: &Tensor,
    index: &Tensor,
    output: &Tensor,
) -> Result<()> {
    let data = input_slice::<E>(src)?;
    let out = output_slice::<E>(output)?;
    let indices = read_indices(index)?;
    let shape = index.shape();
    let rank = shape.len();
    let len = shape[rank - 1];
    if out.is_empty() || len == 0 {
        return Ok(());
    }
    let size = src.shape()[axis];
    let strides = src.layout().strides();
    // Along the last axis the index replaces the column, otherwise it moves whole rows.
    let column_stride = if axis + 1 == rank {
        0
    } else {
        strides[rank - 1]
    };
    let row_shape = &shape[..rank - 1];
    out.par_chunks_mut(len)
        .with_min_len((MIN_TASK_BYTES / (len * std::mem::size_of::<E>())).max(1))
        .enumerate()
        .try_for_each(|(row, dst)| {
            let mut base = src.layout().offset();
            let mut rest = row;
            for a in (0..rank - 1).rev() {
                let coord = rest % row_shape[a];
                rest /= row_shape[a];
                if a != axis {
                    base += coord * strides[a];
                }
            }
            let row_indices = &indices[row * len..(row + 1) * len];
            for (j, (d, &i)) in dst.iter_mut().zip(row_indices).enumerate() {
                let p = position(op, i, size)?;
                *d = data[base + j * column_stride + p * strides[axis]];
            }
            Ok(())
        })
}

/// The output as an f32 accumulator: initialised from `dst`, updated by `accumulate`, then
/// rounded once into `output`.
fn accumulate_into<T: FloatElement>(
    dst: &Tensor,
    output: &Tensor,
    accumulate: impl FnOnce(&mut [f32]),
) -> Result<()> {
    let mut acc = load_f32(input_slice::<T>(dst)?, dst.layout());
    accumulate(&mut acc);
    store_f32(&acc, output_slice::<T>(output)?);
    Ok(())
}

/// PyTorch `scatter_add`: tasks own the output slabs before `axis` (every contribution to a
/// slab comes from the index entries with the same leading coordinates) and add in row-major
/// order of the index.
fn scatter_add<T: FloatElement>(
    op: &Op,
    axis: usize,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let (dst, index, src) = (inputs[0], inputs[1], inputs[2]);
    let indices = read_indices(index)?;
    let out_shape = output.shape();
    let size = out_shape[axis];
    for &i in &indices {
        position(op, i, size)?;
    }
    let src_data = input_slice::<T>(src)?;
    let src_layout = src.layout();
    let idx_shape = index.shape();
    let rank = idx_shape.len();
    let slab: usize = out_shape[axis..].iter().product();
    let out_sub_strides = contiguous_strides(&out_shape[axis..]);
    let sub_shape = &idx_shape[axis..];
    let sub_numel: usize = sub_shape.iter().product();
    let last = idx_shape[rank - 1];
    accumulate_into::<T>(dst, output, |acc| {
        if slab == 0 || sub_numel == 0 {
            return;
        }
        acc.par_chunks_mut(slab).enumerate().for_each(|(o, acc)| {
            // Leading coordinates of this slab; slabs the index does not reach get nothing.
            let mut coords = vec![0; axis];
            let mut rest = o;
            for a in (0..axis).rev() {
                coords[a] = rest % out_shape[a];
                rest /= out_shape[a];
            }
            if coords.iter().zip(idx_shape).any(|(&c, &d)| c >= d) {
                return;
            }
            let idx_slab: usize = coords
                .iter()
                .zip(idx_shape)
                .fold(0, |flat, (&c, &d)| flat * d + c);
            let idx_base = idx_slab * sub_numel;
            let src_base = src_layout.offset()
                + coords
                    .iter()
                    .zip(src_layout.strides())
                    .map(|(&c, &s)| c * s)
                    .sum::<usize>();
            let src_sub_strides = &src_layout.strides()[axis..];
            let src_last = src_layout.strides()[rank - 1];
            for row in 0..sub_numel / last {
                // Row coordinates over sub_shape[..-1]; the first is the scattered axis.
                let mut src_at = src_base;
                let mut out_at = 0;
                let mut rest = row;
                for t in (0..sub_shape.len() - 1).rev() {
                    let c = rest % sub_shape[t];
                    rest /= sub_shape[t];
                    src_at += c * src_sub_strides[t];
                    if t > 0 {
                        out_at += c * out_sub_strides[t];
                    }
                }
                let row_indices = &indices[idx_base + row * last..idx_base + (row + 1) * last];
                for (j, &i) in row_indices.iter().enumerate() {
                    let target = i as usize * out_sub_strides[0]
                        + out_at
                        + if sub_shape.len() > 1 { j } else { 0 };
                    acc[target] += src_data[src_at + j * src_last].to_f32();
                }
            }
        });
    })
}

/// PyTorch `index_add`: each output slice along `axis` is owned by one task, which adds the
/// source slices aimed at it in ascending source order.
fn index_add<T: FloatElement>(
    op: &Op,
    axis: usize,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let (dst, indices, src) = (inputs[0], inputs[1], inputs[2]);
    let out_shape = output.shape();
    let size = out_shape[axis];
    let targets = positions(op, &read_indices(indices)?, size)?;
    // Source slices grouped by target (a counting sort keeps each group in source order).
    let mut starts = vec![0usize; size + 1];
    for &t in &targets {
        starts[t + 1] += 1;
    }
    for p in 0..size {
        starts[p + 1] += starts[p];
    }
    let mut fill = starts.clone();
    let mut by_target = vec![0usize; targets.len()];
    for (k, &t) in targets.iter().enumerate() {
        by_target[fill[t]] = k;
        fill[t] += 1;
    }
    let src_data = input_slice::<T>(src)?;
    let src_layout = src.layout();
    let inner = inner_view(src_layout, axis);
    let inner_len: usize = out_shape[axis + 1..].iter().product();
    let (inner_rows, inner_row_len) = rows_and_len(&inner);
    let inner_step = inner_stride(&inner);
    let outer_shape = &out_shape[..axis];
    let outer_strides = &src_layout.strides()[..axis];
    accumulate_into::<T>(dst, output, |acc| {
        if inner_len == 0 || size == 0 {
            return;
        }
        acc.par_chunks_mut(inner_len)
            .with_min_len((MIN_TASK_BYTES / (inner_len * 4)).max(1))
            .enumerate()
            .for_each(|(row, acc)| {
                let (o, p) = (row / size, row % size);
                let outer_base =
                    src_layout.offset() + strided_offset(o, outer_shape, outer_strides);
                for &k in &by_target[starts[p]..starts[p + 1]] {
                    let base = outer_base + k * src_layout.strides()[axis];
                    for (r, acc_row) in acc.chunks_mut(inner_row_len).enumerate().take(inner_rows) {
                        let start = base + row_offset(&inner, r);
                        if inner_step == 1 {
                            for (a, s) in acc_row.iter_mut().zip(&src_data[start..]) {
                                *a += s.to_f32();
                            }
                        } else {
                            for (j, a) in acc_row.iter_mut().enumerate() {
                                *a += src_data[start + j * inner_step].to_f32();
                            }
                        }
                    }
                }
            });
    })
}

/// Each bag's rows combined in f32: summed (then averaged) or maximised. An empty bag gives
/// zeros, as in PyTorch.
fn embedding_bag<T: FloatElement>(
    op: &Op,
    mode: BagMode,
    table: &Tensor,
    indices: &Tensor,
    output: &Tensor,
) -> Result<()> {
    let (rows, dim) = (table.shape()[0], table.shape()[1]);
    let per_bag = indices.shape()[1];
    let picked = positions(op, &read_indices(indices)?, rows)?;
    let data = input_slice::<T>(table)?;
    let reader = RowReader::new(data, table.layout());
    let out = output_slice::<T>(output)?;
    if out.is_empty() || dim == 0 {
        return Ok(());
    }
    out.par_chunks_mut(dim).enumerate().for_each_init(
        || (vec![0.0f32; dim], vec![0.0f32; dim]),
        |(acc, row), (bag, dst)| {
            let bag_rows = &picked[bag * per_bag..(bag + 1) * per_bag];
            let start = match mode {
                BagMode::Max => f32::NEG_INFINITY,
                BagMode::Sum | BagMode::Mean => 0.0,
            };
            acc.fill(start);
            for &p in bag_rows {
                reader.read(p, row);
                match mode {
                    BagMode::Max => {
                        for (a, &v) in acc.iter_mut().zip(row.iter()) {
                            *a = a.max(v);
                        }
                    }
                    BagMode::Sum | BagMode::Mean => {
                        for (a, &v) in acc.iter_mut().zip(row.iter()) {
                            *a += v;
                        }
                    }
                }
            }
            if per_bag == 0 {
                acc.fill(0.0);
            } else if mode == BagMode::Mean {
                let inv = 1.0 / per_bag as f32;
                for a in acc.iter_mut() {
                    *a *= inv;
                }
            }
            for (d, &a) in dst.iter_mut().zip(acc.iter()) {
                *d = T::from_f32(a);
            }
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Device, TensorError};

    #[test]
    fn out_of_range_and_negative_indices_are_errors() {
        let device = Device::cpu_with_threads(2);
        let table = device
            .from_slice(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2])
            .unwrap();
        for bad in [2i64, -1] {
            let idx = device.from_slice(&[0i64, bad], &[2]).unwrap();
            let err = table.index_select(0, &idx).unwrap_err();
            assert!(
                matches!(err, TensorError::IndexOutOfRange { index, size: 2, .. } if index == bad),
                "{err}"
            );
            let idx2 = device.from_slice(&[0i64, bad], &[1, 2]).unwrap();
            assert!(matches!(
                table.gather(1, &idx2).unwrap_err(),
                TensorError::IndexOutOfRange { .. }
            ));
            assert!(matches!(
                table.embedding_bag(&idx2, crate::BagMode::Sum).unwrap_err(),
                TensorError::IndexOutOfRange { .. }
            ));
            let src = device.from_slice(&[1.0f32, 1.0], &[1, 2]).unwrap();
            assert!(matches!(
                table.scatter_add(1, &idx2, &src).unwrap_err(),
                TensorError::IndexOutOfRange { .. }
            ));
            let rows = device.from_slice(&[1.0f32; 4], &[2, 2]).unwrap();
            assert!(matches!(
                table.index_add(0, &idx, &rows).unwrap_err(),
                TensorError::IndexOutOfRange { .. }
            ));
        }
    }

    /// Duplicate targets add up, in a fixed order, whatever the thread count.
    #[test]
    fn duplicate_targets_accumulate_deterministically() {
        let mut results = Vec::new();
        for threads in [1, 2, 3] {
            let device = Device::cpu_with_threads(threads);
            let dst = device.zeros(&[3, 4], crate::DType::F32).unwrap();
            let idx = device.from_slice(&[1i32, 1, 1, 0, 1], &[5]).unwrap();
            let values: Vec<f32> = (0..20).map(|i| 0.1 + i as f32 * 1e-3).collect();
            let src = device.from_slice(&values, &[5, 4]).unwrap();
            let out = dst
                .index_add(0, &idx, &src)
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            // Row 1 receives source rows 0, 1, 2 and 4; row 0 source row 3.
            let row1: f32 = [0, 1, 2, 4].iter().map(|&k| values[k * 4]).sum();
            assert_eq!(out[4], row1);
            assert_eq!(out[0], values[12]);
            assert_eq!(&out[8..], &[0.0; 4]);
            results.push(out);
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn scatter_add_is_the_same_on_any_thread_count() {
        let mut results = Vec::new();
        for threads in [1, 2, 3] {
            let device = Device::cpu_with_threads(threads);
            let dst = device.zeros(&[2, 3], crate::DType::BF16).unwrap();
            let idx: Vec<i64> = (0..64).map(|i| (i * 7 % 3) as i64).collect();
            let idx = device.from_slice(&idx, &[2, 32]).unwrap();
            let values: Vec<f32> = (0..64).map(|i| 1.0 + i as f32 / 64.0).collect();
            let src = device.from_slice(&values, &[2, 32]).unwrap();
            let src = src.cast(crate::DType::BF16).unwrap();
            let out = dst
                .scatter_add(1, &idx, &src)
                .unwrap()
                .to_f64_vec()
                .unwrap();
            results.push(out);
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]));
    }
}
