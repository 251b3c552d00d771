//! CPU kernel: `Attention` (scaled dot-product, causal or not, grouped-query heads).
//!
//! One rayon task per (batch, query head, block of queries). A task scores its block against
//! every key it may see (`[block, keys]`, each key row read once for the whole block), takes
//! the softmax of each row in f32, and accumulates the weighted value rows (again each value
//! row read once per block). K and V are read in place when they are f32 with dense rows, and
//! widened to f32 once per call otherwise.

use std::any::TypeId;

use rayon::prelude::*;

use super::rows::{axpy, dot, load_f32, RowReader};
use crate::cpu::element::FloatElement;
use crate::cpu::{input_slice, output_slice};
use crate::error::Result;
use crate::layout::Layout;
use crate::tensor::Tensor;

/// Queries scored together against each key row.
const QUERY_BLOCK: usize = 16;

/// K or V as f32 rows `[batch, heads, seq]` of `dim` elements.
enum KeyRows<'a> {
    Borrowed {
        data: &'a [f32],
        offset: usize,
        strides: [usize; 3],
        dim: usize,
    },
    Owned {
        data: Vec<f32>,
        heads: usize,
        seq: usize,
        dim: usize,
    },
}

impl<'a> KeyRows<'a> {
    fn new<T: FloatElement>(data: &'a [T], layout: &Layout) -> KeyRows<'a> {
        let (shape, strides) = (layout.shape(), layout.strides());
        let dim = shape[3];
        if TypeId::of::<T>() == TypeId::of::<f32>() && (strides[3] == 1 || dim <= 1) {
            KeyRows::Borrowed {
                data: bytemuck::cast_slice(data),
                offset: layout.offset(),
                strides: [strides[0], strides[1], strides[2]],
                dim,
            }
        } else {
            KeyRows::Owned {
                data: load_f32(data, layout),
                heads: shape[1],
                seq: shape[2],
                dim,
            }
        }
    }

    #[inline]
    fn row(&self, batch: usize, head: usize, position: usize) -> &[f32] {
        match self {
            KeyRows::Borrowed {
                data,
                offset,
                strides,
                dim,
            } => {
                let start = offset + batch * strides[0] + head * strides[1] + position * strides[2];
                &data[start..start + dim]
            }
            KeyRows::Owned {
                data,
                heads,
                seq,
                dim,
            } => {
                let start = ((batch * heads + head) * seq + position) * dim;
                &data[start..start + dim]
            }
        }
    }
}

/// Reusable buffers of one task.
struct Scratch {
    queries: Vec<f32>,
    scores: Vec<f32>,
    acc: Vec<f32>,
}

pub(super) fn run<T: FloatElement>(
    inputs: &[&Tensor],
    causal: bool,
    scale: f64,
    output: &Tensor,
) -> Result<()> {
    let (q, k, v) = (inputs[0], inputs[1], inputs[2]);
    let out = output_slice::<T>(output)?;
    if out.is_empty() {
        return Ok(());
    }
    let (q_heads, q_len, head_dim) = (q.shape()[1], q.shape()[2], q.shape()[3]);
    let (kv_heads, kv_len) = (k.shape()[1], k.shape()[2]);
    let value_dim = v.shape()[3];
    let group = q_heads / kv_heads;
    let scale = scale as f32;
    let keys = KeyRows::new(input_slice::<T>(k)?, k.layout());
    let values = KeyRows::new(input_slice::<T>(v)?, v.layout());
    let q_reader = RowReader::new(input_slice::<T>(q)?, q.layout());
    // Keys query `i` sees: causal queries sit at the end of the key sequence.
    let visible = |i: usize| {
        if causal {
            kv_len - q_len + i + 1
        } else {
            kv_len
        }
    };
    out.par_chunks_mut(q_len * value_dim)
        .enumerate()
        .for_each(|(batch_head, head_out)| {
            let (batch, head) = (batch_head / q_heads, batch_head % q_heads);
            let kv_head = head / group;
            head_out
                .par_chunks_mut(QUERY_BLOCK * value_dim)
                .enumerate()
                .for_each_init(
                    || Scratch {
                        queries: vec![0.0; QUERY_BLOCK * head_dim],
                        scores: Vec::new(),
                        acc: vec![0.0; QUERY_BLOCK * value_dim],
                    },
                    |scratch, (block, dst)| {
                        let first = block * QUERY_BLOCK;
                        let rows = dst.len() / value_dim;
                        let queries = &mut scratch.queries[..rows * head_dim];
                        q_reader.read_rows(batch_head * q_len + first, queries);
                        let width = visible(first + rows - 1);
                        scratch.scores.clear();
                        scratch.scores.resize(rows * width, 0.0);
                        let scores = &mut scratch.scores;
                        for j in 0..width {
                            let key = keys.row(batch, kv_head, j);
                            for i in 0..rows {
                                if j < visible(first + i) {
                                    let query = &queries[i * head_dim..(i + 1) * head_dim];
                                    scores[i * width + j] = dot(query, key) * scale;
                                }
                            }
                        }
                        // Softmax weights, unnormalised; the row sums divide at the end.
                        let mut totals = [0.0f32; QUERY_BLOCK];
                        for (i, total) in totals.iter_mut().enumerate().take(rows) {
                            let row = &mut scores[i * width..i * width + visible(first + i)];
                            let max = row.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                            for s in row.iter_mut() {
                                *s = (*s - max).exp();
                                *total += *s;
                            }
                        }
                        let acc = &mut scratch.acc[..rows * value_dim];
                        acc.fill(0.0);
                        for j in 0..width {
                            let value = values.row(batch, kv_head, j);
                            for i in 0..rows {
                                if j < visible(first + i) {
                                    let weight = scores[i * width + j];
                                    axpy(
                                        weight,
                                        value,
                                        &mut acc[i * value_dim..(i + 1) * value_dim],
                                    );
                                }
                            }
                        }
                        for ((dst_row, acc_row), total) in dst
                            .chunks_mut(value_dim)
                            .zip(acc.chunks(value_dim))
                            .zip(totals)
                        {
                            let inv = 1.0 / total;
                            for (d, &a) in dst_row.iter_mut().zip(acc_row) {
                                *d = T::from_f32(a * inv);
                            }
                        }
                    },
                );
        });
    Ok(())
}
