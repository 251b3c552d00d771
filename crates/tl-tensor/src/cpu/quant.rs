//! CPU kernels: `Dequantize`, `Quantize` and `QMatMul` on GGUF block formats, built on the
//! block codecs and integer dot kernels of [`crate::quant`].

use std::any::TypeId;

use rayon::prelude::*;

use super::element::FloatElement;
use super::strided::{inner_stride, row_offset, rows_and_len};
use super::{backend_error, input_slice, output_bytes, output_slice};
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::quant::{quantize_activation, ActivationBlock, EncodeBlock, QuantBlock, Simd};
use crate::quant::{BlockQ4_0, BlockQ4_1, BlockQ8_0, ACTIVATION_BLOCK};
use crate::tensor::Tensor;
use crate::{with_block_type, with_float_type, DType};

/// Blocks decoded or encoded per rayon task (a few tens of KiB of output each).
const BLOCKS_PER_TASK: usize = 512;
/// Activation rows, and weight rows, that share one pass over their blocks in `QMatMul`
/// (the tile kernels' largest shape): four rows of 4096 activations (22 KiB as blocks) stay
/// in L1 next to the weight rows; eight do not.
const TILE: usize = crate::quant::MAX_TILE;
/// Activation rows per `QMatMul` task, all reusing one L2-resident chunk of weight rows.
const ROW_BLOCK: usize = 64;
/// Bytes of weight rows per `QMatMul` task (half of a 1-2 MiB L2).
const L2_WEIGHT_BYTES: usize = 512 * 1024;
/// Weight rows per `dot_rows` call in a mat-vec (results staged in f32 on the stack).
const MATVEC_CHUNK: usize = 64;
/// Fewest weight rows per task, so that scheduling stays cheap next to the dot products.
const MIN_COLUMNS_PER_TASK: usize = 8;

pub(crate) fn run(op: &Op, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    let unsupported = |dtype: DType| Err(TensorError::unsupported_dtype(op.name(), dtype));
    match op {
        Op::Dequantize { dtype } => {
            let input = inputs[0];
            with_block_type!(input.dtype(), B => with_float_type!(*dtype, T =>
                dequantize::<B, T>(input, output),
                _ => unsupported(*dtype)),
            _ => unsupported(input.dtype()))
        }
        Op::Quantize { dtype } => {
            let input = inputs[0];
            with_float_type!(input.dtype(), T => match dtype {
                DType::Q8_0 => quantize::<BlockQ8_0, T>(input, output),
                DType::Q4_0 => quantize::<BlockQ4_0, T>(input, output),
                DType::Q4_1 => quantize::<BlockQ4_1, T>(input, output),
                other => unsupported(*other),
            }, _ => unsupported(input.dtype()))
        }
        Op::QMatMul => {
            let (x, w) = (inputs[0], inputs[1]);
            with_block_type!(w.dtype(), B => with_float_type!(x.dtype(), T =>
                qmatmul::<B, T>(x, w, output),
                _ => unsupported(x.dtype())),
            _ => unsupported(w.dtype()))
        }
        _ => unreachable!("quant::run got {}", op.name()),
    }
}

/// Where each row of a quantized tensor starts in its buffer, in blocks.
enum RowStarts {
    /// Rows follow each other (a dense tensor): row `j` starts at `first + j·per_row`.
    Dense { first: usize },
    /// Any other view: each row's start.
    Listed(Vec<usize>),
}

/// The blocks of a quantized tensor: the buffer as blocks, where each row starts (rows are
/// all axes but the last), and the blocks per row. Every row is checked to lie inside the
/// buffer, so kernels index without further checks.
struct BlockRows<'a, B> {
    blocks: &'a [B],
    starts: RowStarts,
    rows: usize,
    per_row: usize,
}

impl<'a, B: QuantBlock> BlockRows<'a, B> {
    fn new(tensor: &'a Tensor) -> Result<Self> {
        let bytes = input_slice::<u8>(tensor)?;
        let size = std::mem::size_of::<B>();
        let blocks: &[B] = bytemuck::try_cast_slice(&bytes[..bytes.len() / size * size])
            .map_err(|e| backend_error(format!("{} blocks: {e}", tensor.dtype())))?;
        let layout = tensor.layout();
        let (rows, len) = rows_and_len(layout);
        let per_row = len / B::WEIGHTS;
        let outside = || {
            backend_error(format!(
                "a {} view {:?} addresses partial blocks or lies outside its buffer",
                tensor.dtype(),
                layout.shape()
            ))
        };
        if rows == 0 || per_row == 0 {
            let starts = RowStarts::Dense { first: 0 };
            return Ok(BlockRows {
                blocks,
                starts,
                rows: 0,
                per_row,
            });
        }
        // A dense tensor (every weight matrix of a model) is checked once, not row by row:
        // a decode step multiplies by tens of thousands of rows.
        if tensor.is_contiguous() {
            let offset = layout.offset();
            let first = offset / B::WEIGHTS;
            if !offset.is_multiple_of(B::WEIGHTS) || first + rows * per_row > blocks.len() {
                return Err(outside());
            }
            let starts = RowStarts::Dense { first };
            return Ok(BlockRows {
                blocks,
                starts,
                rows,
                per_row,
            });
        }
        let starts = (0..rows)
            .map(|row| {
                let offset = row_offset(layout, row);
                let start = offset / B::WEIGHTS;
                if !offset.is_multiple_of(B::WEIGHTS) || start + per_row > blocks.len() {
                    return Err(outside());
                }
                Ok(start)
            })
            .collect::<Result<Vec<usize>>>()?;
        let starts = RowStarts::Listed(starts);
        Ok(BlockRows {
            blocks,
            starts,
            rows,
            per_row,
        })
    }

    /// The blocks of row `j`.
    #[inline]
    fn row(&self, j: usize) -> &'a [B] {
        let start = match &self.starts {
            RowStarts::Dense { first } => first + j * self.per_row,
            RowStarts::Listed(starts) => starts[j],
        };
        &self.blocks[start..start + self.per_row]
    }

    /// Rows `range` as one run of blocks, when they follow each other.
    #[inline]
    fn dense_rows(&self, range: std::ops::Range<usize>) -> Option<&'a [B]> {
        match self.starts {
            RowStarts::Dense { first } => Some(
                &self.blocks[first + range.start * self.per_row..first + range.end * self.per_row],
            ),
            RowStarts::Listed(_) => None,
        }
    }
}

/// The elements of a float input, checked to hold every element its view addresses.
fn float_input<T: FloatElement>(tensor: &Tensor) -> Result<&[T]> {
    let src = input_slice::<T>(tensor)?;
    if tensor.numel() > 0 && tensor.layout().span_end() > src.len() {
        return Err(backend_error(format!(
            "a {} view {:?} lies outside its buffer",
            tensor.dtype(),
            tensor.shape()
        )));
    }
    Ok(src)
}

fn dequantize<B: QuantBlock, T: FloatElement>(input: &Tensor, output: &Tensor) -> Result<()> {
    let rows = BlockRows::<B>::new(input)?;
    let per_row = rows.per_row;
    let out = output_slice::<T>(output)?;
    if rows.rows == 0 || per_row == 0 {
        return Ok(());
    }
    out.par_chunks_mut(BLOCKS_PER_TASK * B::WEIGHTS)
        .enumerate()
        .for_each(|(task, out)| {
            let first = task * BLOCKS_PER_TASK;
            let (mut row, mut col) = (first / per_row, first % per_row);
            let mut values = [0.0f32; 256];
            for out in out.chunks_exact_mut(B::WEIGHTS) {
                rows.row(row)[col].decode(&mut values);
                for (o, &v) in out.iter_mut().zip(&values) {
                    *o = T::from_f32(v);
                }
                col += 1;
                if col == per_row {
                    (row, col) = (row + 1, 0);
                }
            }
        });
    Ok(())
}

fn quantize<B: EncodeBlock, T: FloatElement>(input: &Tensor, output: &Tensor) -> Result<()> {
    let src = float_input::<T>(input)?;
    let out: &mut [B] = bytemuck::try_cast_slice_mut(output_bytes(output)?)
        .map_err(|e| backend_error(format!("{} output: {e}", output.dtype())))?;
    let layout = input.layout();
    let (rows, len) = rows_and_len(layout);
    let per_row = len / B::WEIGHTS;
    if rows == 0 || per_row == 0 {
        return Ok(());
    }
    let stride = inner_stride(layout);
    out.par_chunks_mut(BLOCKS_PER_TASK)
        .enumerate()
        .for_each(|(task, out)| {
            let first = task * BLOCKS_PER_TASK;
            let (mut row, mut col) = (first / per_row, first % per_row);
            let mut base = row_offset(layout, row);
            for block in out {
                let start = base + col * B::WEIGHTS * stride;
                let values: [f32; 32] = std::array::from_fn(|j| src[start + j * stride].to_f32());
                *block = B::encode(&values);
                col += 1;
                if col == per_row {
                    (row, col) = (row + 1, 0);
                    if row < rows {
                        base = row_offset(layout, row);
                    }
                }
            }
        });
    Ok(())
}

/// `out[r, j] = Σ_k x[r, k] · w[j, k]`: the activation rows are quantized once, then every
/// (weight row, activation row) pair is one integer dot over blocks.
fn qmatmul<B: QuantBlock, T: FloatElement>(x: &Tensor, w: &Tensor, output: &Tensor) -> Result<()> {
    let src = float_input::<T>(x)?;
    let weights = BlockRows::<B>::new(w)?;
    let out = output_slice::<T>(output)?;
    let (rows, k) = rows_and_len(x.layout());
    let n = w.shape()[0];
    if rows == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        out.fill(T::from_f32(0.0));
        return Ok(());
    }
    let activations = quantize_rows(x, src, rows, k);
    let act_per_row = k / ACTIVATION_BLOCK;
    let weight_row = |j: usize| weights.row(j);
    let act_row = |i: usize| &activations[i * act_per_row..(i + 1) * act_per_row];
    let simd = Simd::best();
    let threads = rayon::current_num_threads().max(1);

    if rows == 1 {
        // Mat-vec (the decode step): split the weight rows among the threads; each weight
        // byte is read exactly once.
        let columns = n.div_ceil(4 * threads).max(MIN_COLUMNS_PER_TASK);
        // One weight row at a time: tiles of weight rows against the one activation row
        // measured slower here (the activation side of a block is cheap to redo, and
        // several interleaved weight streams prefetch worse than one).
        let act = act_row(0);
        out.par_chunks_mut(columns)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * columns;
                if TypeId::of::<T>() == TypeId::of::<f32>() {
                    if let Some(w) = weights.dense_rows(first..first + out.len()) {
                        // f32 results go straight to the output: one kernel call per task.
                        let out: &mut [f32] = bytemuck::cast_slice_mut(out);
                        B::dot_rows(simd, w, act, out);
                        return;
                    }
                }
                let mut results = [0.0f32; MATVEC_CHUNK];
                for (c, out) in out.chunks_mut(MATVEC_CHUNK).enumerate() {
                    let first = first + c * MATVEC_CHUNK;
                    let results = &mut results[..out.len()];
                    match weights.dense_rows(first..first + out.len()) {
                        Some(w) => B::dot_rows(simd, w, act, results),
                        None => {
                            for (i, r) in results.iter_mut().enumerate() {
                                *r = B::dot_row(simd, weight_row(first + i), act);
                            }
                        }
                    }
                    for (o, &r) in out.iter_mut().zip(results.iter()) {
                        *o = T::from_f32(r);
                    }
                }
            });
        return Ok(());
    }

    // Tasks of (a block of activation rows × a chunk of weight rows). Inside a task, tiles of
    // TILE activation rows (in L1) meet each weight row of the chunk in turn, and the
    // chunk (sized for L2) is reused by every tile of the block, so large prefills stream
    // the weight once per row block instead of once per tile.
    let row_bytes = weights.per_row * std::mem::size_of::<B>();
    let mut columns = (L2_WEIGHT_BYTES / row_bytes.max(1))
        .max(MIN_COLUMNS_PER_TASK)
        .min(n);
    let mut row_block = ROW_BLOCK.min(rows);
    let tasks = |columns: usize, row_block: usize| n.div_ceil(columns) * rows.div_ceil(row_block);
    while tasks(columns, row_block) < 4 * threads && columns > MIN_COLUMNS_PER_TASK {
        columns = (columns / 2).max(MIN_COLUMNS_PER_TASK);
    }
    while tasks(columns, row_block) < 4 * threads && row_block > TILE {
        row_block = (row_block / 2).max(TILE);
    }
    let column_chunks = n.div_ceil(columns);
    let results: Vec<Vec<f32>> = (0..rows.div_ceil(row_block) * column_chunks)
        .into_par_iter()
        .map(|task| {
            let (r0, c0) = (
                task / column_chunks * row_block,
                task % column_chunks * columns,
            );
            let (r1, c1) = ((r0 + row_block).min(rows), (c0 + columns).min(n));
            let width = c1 - c0;
            let mut result = vec![0.0f32; (r1 - r0) * width];
            let mut tile = [0.0f32; TILE * TILE];
            for t0 in (r0..r1).step_by(TILE) {
                let t1 = (t0 + TILE).min(r1);
                let x_rows: [&[ActivationBlock]; TILE] =
                    std::array::from_fn(|r| act_row((t0 + r).min(t1 - 1)));
                let x_rows = &x_rows[..t1 - t0];
                for j0 in (c0..c1).step_by(TILE) {
                    let j1 = (j0 + TILE).min(c1);
                    let w_rows: [&[B]; TILE] =
                        std::array::from_fn(|c| weight_row((j0 + c).min(j1 - 1)));
                    let cols = j1 - j0;
                    let tile = &mut tile[..x_rows.len() * cols];
                    B::dot_tile(simd, &w_rows[..cols], x_rows, tile);
                    for (i, values) in tile.chunks_exact(cols).enumerate() {
                        let at = (t0 + i - r0) * width + (j0 - c0);
                        result[at..at + cols].copy_from_slice(values);
                    }
                }
            }
            result
        })
        .collect();
    out.par_chunks_mut(n).enumerate().for_each(|(i, out)| {
        let (block, r) = (i / row_block, i % row_block);
        for (c, out) in out.chunks_mut(columns).enumerate() {
            let result = &results[block * column_chunks + c];
            let width = out.len();
            for (o, &v) in out.iter_mut().zip(&result[r * width..]) {
                *o = T::from_f32(v);
            }
        }
    });
    Ok(())
}

/// Every row of `x` (all axes but the last, any strides) quantized to activation blocks.
fn quantize_rows<T: FloatElement>(
    x: &Tensor,
    src: &[T],
    rows: usize,
    k: usize,
) -> Vec<ActivationBlock> {
    let per_row = k / ACTIVATION_BLOCK;
    let layout = x.layout();
    let stride = inner_stride(layout);
    let mut activations = vec![ActivationBlock::default(); rows * per_row];
    if rows == 1 && stride == 1 && TypeId::of::<T>() == TypeId::of::<f32>() {
        // A decode step's one dense f32 row: quantized in place, no copy, no task.
        let base = row_offset(layout, 0);
        let values: &[f32] = bytemuck::cast_slice(&src[base..base + k]);
        quantize_activation(values, &mut activations);
        return activations;
    }
    activations
        .par_chunks_mut(per_row)
        .enumerate()
        .for_each_init(
            || vec![0.0f32; k],
            |values, (row, blocks)| {
                let base = row_offset(layout, row);
                if stride == 1 {
                    for (v, s) in values.iter_mut().zip(&src[base..base + k]) {
                        *v = s.to_f32();
                    }
                } else {
                    for (j, v) in values.iter_mut().enumerate() {
                        *v = src[base + j * stride].to_f32();
                    }
                }
                quantize_activation(values, blocks);
            },
        );
    activations
}

#[cfg(test)]
mod tests;
