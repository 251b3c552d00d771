//! CPU kernels: `Contiguous`, `Cast` and `Concat`, all as strided copies.

use half::{bf16, f16};
use rayon::prelude::*;

use super::strided::{byte_layout, coalesce, inner_stride, row_offset, rows_and_len};
use super::{input_slice, output_bytes, output_slice};
use crate::error::Result;
use crate::host_element::HostElement;
use crate::layout::Layout;
use crate::op::Op;
use crate::tensor::Tensor;
use crate::DType;

/// Rows shorter than this are grouped so each rayon task moves at least this many bytes.
const MIN_TASK_BYTES: usize = 64 * 1024;

pub(crate) fn run(op: &Op, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    match op {
        Op::Contiguous => {
            if strided_elements(inputs[0], output)? {
                return Ok(());
            }
            let src = coalesce(&byte_layout(inputs[0]));
            copy_bytes(input_slice::<u8>(inputs[0])?, &src, output_bytes(output)?);
            Ok(())
        }
        Op::Cast { dtype } => cast(inputs[0], *dtype, output),
        Op::Concat { axis } => {
            let dst_all = output_bytes(output)?;
            // `dst_all` already starts at the output's first byte.
            let out_bytes = byte_layout(output);
            let out_layout =
                Layout::from_parts(out_bytes.shape().to_vec(), out_bytes.strides().to_vec(), 0)?;
            let mut start = 0;
            for input in inputs {
                let len = input.shape()[*axis];
                let dst = out_layout.narrow(*axis as isize, start, len)?;
                copy_bytes_strided(
                    input_slice::<u8>(input)?,
                    &byte_layout(input),
                    dst_all,
                    &dst,
                );
                start += len;
            }
            Ok(())
        }
        _ => unreachable!("copy::run got {}", op.name()),
    }
}

/// Output rows per task of a strided (transposing) copy, and the width of the column
/// blocks inside it: a task reads `TILE` source elements that a permute usually left
/// adjacent, and writes `TILE` output rows that stay in L1 while their columns fill.
const TILE: usize = 32;

/// `Contiguous` of a plain dtype whose elements are not adjacent along the output's rows
/// (a transpose or permute), as a cache-tiled gather; returns false (nothing done) for
/// views the byte copy handles as well (rows of adjacent elements, quantized blocks).
fn strided_elements(input: &Tensor, output: &Tensor) -> Result<bool> {
    let layout = input.layout().coalesced();
    let (rows, len) = rows_and_len(&layout);
    if input.dtype().is_quantized() || inner_stride(&layout) == 1 || rows < 2 || len < 2 {
        return Ok(false);
    }
    match input.dtype().block_bytes() {
        1 => tiled_gather::<u8>(input, &layout, output),
        2 => tiled_gather::<u16>(input, &layout, output),
        4 => tiled_gather::<u32>(input, &layout, output),
        8 => tiled_gather::<u64>(input, &layout, output),
        _ => return Ok(false),
    }?;
    Ok(true)
}

/// `dst[row, j] = src[row_offset(row) + j·stride]` by tiles of `TILE` rows × `TILE` columns:
/// for a transpose, one column of a tile is `TILE` adjacent source elements, and the tile's
/// output rows are written while they are in L1.
fn tiled_gather<T: bytemuck::Pod + Send + Sync>(
    input: &Tensor,
    layout: &Layout,
    output: &Tensor,
) -> Result<()> {
    let src = input_slice::<T>(input)?;
    let dst = output_slice::<T>(output)?;
    let (rows, len) = rows_and_len(layout);
    let stride = inner_stride(layout);
    if layout.span_end() > src.len() || dst.len() != rows * len {
        return Err(super::backend_error(format!(
            "contiguous: a {} view {:?} does not fit its buffer or output",
            input.dtype(),
            input.shape()
        )));
    }
    // A plain transpose (output rows at adjacent source elements) of 4-byte elements goes
    // through register tiles.
    if std::mem::size_of::<T>() == 4 && layout.rank() == 2 && layout.strides()[0] == 1 {
        let words: &[u32] = bytemuck::cast_slice(src);
        let out: &mut [u32] = bytemuck::cast_slice_mut(&mut *dst);
        if super::transpose::transpose_u32(words, (layout.offset(), stride), (rows, len), out) {
            return Ok(());
        }
    }
    gather_tiles(src, layout, dst);
    Ok(())
}

/// [`tiled_gather`] element by element.
fn gather_tiles<T: bytemuck::Pod + Send + Sync>(src: &[T], layout: &Layout, dst: &mut [T]) {
    let (_, len) = rows_and_len(layout);
    let stride = inner_stride(layout);
    dst.par_chunks_mut(TILE * len)
        .enumerate()
        .for_each(|(task, chunk)| {
            let count = chunk.len() / len;
            let mut bases = [0usize; TILE];
            for (i, base) in bases[..count].iter_mut().enumerate() {
                *base = row_offset(layout, task * TILE + i);
            }
            let bases = &bases[..count];
            // Rows that start at adjacent source elements (a transpose) read each tile
            // column as one slice.
            let adjacent = bases.iter().enumerate().all(|(i, &b)| b == bases[0] + i);
            // `tile[jj][i]` is output row i, column j0 + jj: gathered column by column, then
            // written row by row. Writing the rows straight from the gather would touch
            // TILE lines a power-of-two apart per column, which share one L1 set.
            let mut tile = [[T::zeroed(); TILE]; TILE];
            for j0 in (0..len).step_by(TILE) {
                let width = TILE.min(len - j0);
                for (jj, column) in tile[..width].iter_mut().enumerate() {
                    let at = (j0 + jj) * stride;
                    if adjacent {
                        column[..count].copy_from_slice(&src[bases[0] + at..][..count]);
                    } else {
                        for (c, &base) in column.iter_mut().zip(bases) {
                            *c = src[base + at];
                        }
                    }
                }
                for (i, row) in chunk.chunks_exact_mut(len).enumerate() {
                    for (o, column) in row[j0..j0 + width].iter_mut().zip(&tile) {
                        *o = column[i];
                    }
                }
            }
        });
}

/// Copies the bytes a strided byte layout selects into `dst`, densely.
fn copy_bytes(src: &[u8], layout: &Layout, dst: &mut [u8]) {
    let (rows, len) = rows_and_len(layout);
    if rows == 0 || len == 0 {
        return;
    }
    let stride = inner_stride(layout);
    let rows_per_task = (MIN_TASK_BYTES / len).max(1);
    dst.par_chunks_mut(len * rows_per_task)
        .enumerate()
        .for_each(|(task, chunk)| {
            for (i, out_row) in chunk.chunks_mut(len).enumerate() {
                let base = row_offset(layout, task * rows_per_task + i);
                if stride == 1 {
                    out_row.copy_from_slice(&src[base..base + len]);
                } else {
                    for (j, b) in out_row.iter_mut().enumerate() {
                        *b = src[base + j * stride];
                    }
                }
            }
        });
}

/// Copies between two strided byte layouts of one shape (used for concat destinations).
fn copy_bytes_strided(src: &[u8], src_layout: &Layout, dst: &mut [u8], dst_layout: &Layout) {
    let (rows, len) = rows_and_len(src_layout);
    let (src_stride, dst_stride) = (inner_stride(src_layout), inner_stride(dst_layout));
    for row in 0..rows {
        let (s, d) = (row_offset(src_layout, row), row_offset(dst_layout, row));
        if src_stride == 1 && dst_stride == 1 {
            dst[d..d + len].copy_from_slice(&src[s..s + len]);
        } else {
            for j in 0..len {
                dst[d + j * dst_stride] = src[s + j * src_stride];
            }
        }
    }
}

/// Element conversion following `Op::Cast`'s rules.
fn cast(input: &Tensor, to: DType, output: &Tensor) -> Result<()> {
    macro_rules! from {
        ($s:ty) => {
            match to {
                DType::F32 => convert::<$s, f32>(input, output, |v| f32::from_f64(v.to_f64())),
                DType::F16 => convert::<$s, f16>(input, output, |v| f16::from_f64(v.to_f64())),
                DType::BF16 => convert::<$s, bf16>(input, output, |v| bf16::from_f64(v.to_f64())),
                DType::I32 => convert::<$s, i32>(input, output, |v| i32::from_f64(v.to_f64())),
                DType::I64 => convert::<$s, i64>(input, output, |v| i64::from_f64(v.to_f64())),
                DType::U8 => convert::<$s, u8>(input, output, |v| u8::from_f64(v.to_f64())),
                DType::Bool => convert::<$s, u8>(input, output, |v| (v.to_f64() != 0.0) as u8),
                _ => unreachable!("cast to a quantized dtype is rejected by the signature"),
            }
        };
    }
    match input.dtype() {
        DType::F32 => from!(f32),
        DType::F16 => from!(f16),
        DType::BF16 => from!(bf16),
        DType::I32 => from!(i32),
        DType::I64 => from!(i64),
        DType::U8 | DType::Bool => from!(u8),
        _ => unreachable!("cast from a quantized dtype is rejected by the signature"),
    }
}

fn convert<S: HostElement, D: bytemuck::Pod + Send>(
    input: &Tensor,
    output: &Tensor,
    f: impl Fn(S) -> D + Sync,
) -> Result<()> {
    let src = input_slice::<S>(input)?;
    let dst = output_slice::<D>(output)?;
    let layout = input.layout();
    let (rows, len) = rows_and_len(layout);
    if rows == 0 || len == 0 {
        return Ok(());
    }
    let stride = inner_stride(layout);
    let rows_per_task = (MIN_TASK_BYTES / (len * 4)).max(1);
    dst.par_chunks_mut(len * rows_per_task)
        .enumerate()
        .for_each(|(task, chunk)| {
            for (i, out_row) in chunk.chunks_mut(len).enumerate() {
                let base = row_offset(layout, task * rows_per_task + i);
                for (j, d) in out_row.iter_mut().enumerate() {
                    *d = f(src[base + j * stride]);
                }
            }
        });
    Ok(())
}
