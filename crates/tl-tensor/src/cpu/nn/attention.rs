//! CPU kernel: `Attention` (scaled dot-product, causal or not, grouped-query heads).
//!
//! Work is split per (batch, kv head): the query heads that share a kv head run together, so
//! an f16/bf16 K and V are widened to f32 once per kv head (f32 ones are read in place, with
//! any strides). Inside, one task per block of the group's (query head, query) rows computes
//! the block's scores `[block, keys]` and weighted values `[block, dv]` as two gemm products (the
//! SIMD kernels gemm picks at run time), with the row softmax in between in f32. Keys a
//! causal query may not see get weight 0.
//!
//! A few query rows per kv head (decoding) go to `split_key_attention` instead, which splits
//! the work over chunks of keys.

use std::any::TypeId;

use gemm::Parallelism;
use rayon::prelude::*;

use super::rows::{load_f32, RowReader};
use super::split_key_attention::{self, HeadRows};
use crate::cpu::element::FloatElement;
use crate::cpu::{backend_error, input_slice, output_slice};
use crate::error::{Result, TensorError};
use crate::layout::Layout;
use crate::tensor::Tensor;

/// Queries scored together in one pair of gemm products.
const QUERY_BLOCK: usize = 64;

/// One head's K or V: `[seq, dim]` f32 values at `data[i·row_stride + j·col_stride]`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

/// The first `seq` keys or values of one (batch, head): borrowed when `T` is f32, else
/// widened into `scratch`.
fn head_matrix<'a, T: FloatElement>(
    data: &'a [T],
    layout: &Layout,
    (batch, head, seq): (usize, usize, usize),
    scratch: &'a mut Vec<f32>,
) -> Matrix<'a> {
    let strides = layout.strides();
    let start = layout.offset() + batch * strides[0] + head * strides[1];
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        let all: &[f32] = bytemuck::cast_slice(data);
        return Matrix {
            data: &all[start.min(all.len())..],
            row_stride: strides[2],
            col_stride: strides[3],
        };
    }
    let dim = layout.shape()[3];
    let head_layout = Layout::from_parts(vec![seq, dim], vec![strides[2], strides[3]], start)
        .expect("one length");
    *scratch = load_f32(data, &head_layout);
    Matrix {
        data: scratch,
        row_stride: dim,
        col_stride: 1,
    }
}

/// gemm reads raw pointers: every element a view addresses must be in its buffer.
fn check_span(layout: &Layout, len: usize) -> Result<()> {
    if layout.span_end() > len {
        return Err(backend_error(format!(
            "attention: a view of shape {:?} reaches element {} of a {len}-element buffer",
            layout.shape(),
            layout.span_end()
        )));
    }
    Ok(())
}

/// `dst[m, n] = scale · lhs[m, k] · rhs[k, n]`, `dst` dense row-major, on this thread.
///
/// # Safety
/// For every `i < m`, `p < k`, `j < n`, `i·lhs_rs + p·lhs_cs < lhs.len()` and
/// `p·rhs_rs + j·rhs_cs < rhs.len()`, and `dst.len() == m·n`.
#[allow(clippy::too_many_arguments)]
unsafe fn product(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
    scale: f32,
) {
    if k == 0 {
        dst.fill(0.0);
        return;
    }
    gemm::gemm(
        m,
        n,
        k,
        dst.as_mut_ptr(),
        1,
        n as isize,
        false,
        lhs.as_ptr(),
        lhs_cs as isize,
        lhs_rs as isize,
        rhs.as_ptr(),
        rhs_cs as isize,
        rhs_rs as isize,
        0.0,
        scale,
        false,
        false,
        false,
        Parallelism::None,
    );
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
    let (k_data, v_data) = (input_slice::<T>(k)?, input_slice::<T>(v)?);
    check_span(k.layout(), k_data.len())?;
    check_span(v.layout(), v_data.len())?;
    let q_reader = RowReader::new(input_slice::<T>(q)?, q.layout());
    // Query positions, when given, must lie inside the keys.
    let positions = match inputs.get(3) {
        Some(p) => {
            let positions = crate::cpu::index::read_indices(p)?;
            if let Some(&bad) = positions
                .iter()
                .find(|&&p| p < 0 || p as u64 >= kv_len as u64)
            {
                return Err(TensorError::IndexOutOfRange {
                    op: "attention".into(),
                    index: bad,
                    size: kv_len,
                });
            }
            Some(positions)
        }
        None => None,
    };
    // Keys query `i` sees: causal queries sit at the end of the key sequence, or at their
    // given positions.
    let visible = |i: usize| {
        if let Some(positions) = &positions {
            positions[i] as usize + 1
        } else if causal {
            kv_len - q_len + i + 1
        } else {
            kv_len
        }
    };
    // Keys any query sees: a whole KV cache passed with positions is read only this far.
    let seen = (0..q_len).map(visible).max().unwrap_or(0);
    if group * q_len <= split_key_attention::MAX_ROWS {
        let head_rows = |data, layout: &Layout, dim| {
            let strides = layout.strides().to_vec();
            let offset = layout.offset();
            move |batch: usize, head: usize| HeadRows {
                data,
                start: offset + batch * strides[0] + head * strides[1],
                row_stride: strides[2],
                col_stride: strides[3],
                dim,
            }
        };
        let problem = split_key_attention::Problem {
            q: q_reader,
            batch: q.shape()[0],
            q_heads,
            kv_heads,
            q_len,
            head_dim,
            value_dim,
            scale,
            seen,
        };
        split_key_attention::run(
            &problem,
            head_rows(k_data, k.layout(), head_dim),
            head_rows(v_data, v.layout(), value_dim),
            visible,
            out,
        );
        return Ok(());
    }
    out.par_chunks_mut(group * q_len * value_dim)
        .enumerate()
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(k_scratch, v_scratch), (batch_kv, group_out)| {
                let (batch, kv_head) = (batch_kv / kv_heads, batch_kv % kv_heads);
                let keys = head_matrix(k_data, k.layout(), (batch, kv_head, seen), k_scratch);
                let values = head_matrix(v_data, v.layout(), (batch, kv_head, seen), v_scratch);
                // The group's query heads are consecutive rows (head, query) of q and of the
                // output, so blocks run over them all: a decoding group (one query per head)
                // reads its keys once.
                let q_row0 = (batch * q_heads + kv_head * group) * q_len;
                group_out
                    .par_chunks_mut(QUERY_BLOCK * value_dim)
                    .enumerate()
                    .for_each_init(
                        || (Vec::new(), Vec::new(), Vec::new()),
                        |(queries, scores, acc), (block, dst)| {
                            let first = block * QUERY_BLOCK;
                            let rows = dst.len() / value_dim;
                            let width = (0..rows)
                                .map(|r| visible((first + r) % q_len))
                                .max()
                                .unwrap_or(0);
                            queries.resize(rows * head_dim, 0.0);
                            scores.resize(rows * width, 0.0);
                            acc.resize(rows * value_dim, 0.0);
                            q_reader.read_rows(q_row0 + first, queries);
                            // SAFETY: `queries` is dense [rows, head_dim]; `keys` holds keys
                            // 0..kv_len (width ≤ kv_len) of head_dim elements at its strides,
                            // inside the checked span; `scores` is dense [rows, width].
                            unsafe {
                                product(
                                    rows,
                                    width,
                                    head_dim,
                                    scores,
                                    queries,
                                    (head_dim, 1),
                                    keys.data,
                                    (keys.col_stride, keys.row_stride),
                                    scale,
                                );
                            }
                            let mut totals = [0.0f32; QUERY_BLOCK];
                            for (r, row) in scores.chunks_mut(width).enumerate() {
                                let (seen, hidden) = row.split_at_mut(visible((first + r) % q_len));
                                let max = seen.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                                for s in seen.iter_mut() {
                                    *s = (*s - max).exp();
                                    totals[r] += *s;
                                }
                                hidden.fill(0.0);
                            }
                            // SAFETY: `scores` is dense [rows, width]; `values` holds rows
                            // 0..kv_len of value_dim elements at its strides, inside the
                            // checked span; `acc` is dense [rows, value_dim].
                            unsafe {
                                product(
                                    rows,
                                    value_dim,
                                    width,
                                    acc,
                                    scores,
                                    (width, 1),
                                    values.data,
                                    (values.row_stride, values.col_stride),
                                    1.0,
                                );
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
            },
        );
    Ok(())
}
