//! CPU kernel: `Attention` for a few query rows over many keys (decoding), split over chunks
//! of keys so that every thread streams its own part of the KV cache.
//!
//! A decoding step has one query per head, so the gemm path would give each (batch, kv head)
//! one task: on two threads three kv heads leave one thread idle a third of the time, and gemm
//! packs each head's keys and values (another pass over them) for a product of 1–4 rows. Here
//! a task is (batch, chunk of `KEY_CHUNK` keys): it reads the chunk's key and value rows of
//! every kv head once, position by position (one contiguous stream in a cache laid out
//! `[position, kv head, dim]`), scores each against its group's query rows, and leaves per
//! query row the chunk's largest score, its sum of `exp(score − max)` and the weighted values.
//! A last pass merges a row's chunks (flash-decoding's split-KV). Measured on the default
//! model's decode after a 512-token prompt (2 threads): 54.8 → 65–70 tokens/s.

use std::any::TypeId;

use rayon::prelude::*;

use super::rows::{dot, RowReader};
use crate::cpu::element::FloatElement;
use crate::cpu::elementwise::math::exp;

/// Keys one task scores: for the default model (3 kv heads of 64) that is 48 KiB of f32 keys
/// and as many values, which stay in L2 between the scoring and the weighting (16, 32 and
/// 128 were slower).
const KEY_CHUNK: usize = 64;

/// How many positions ahead of the one being read the kernel asks for keys and values: the
/// hardware prefetcher of some machines does not run far enough ahead of a stream this short
/// (decode after 512 tokens on a 2-core VM: 88 → 93–96 tokens/s).
const PREFETCH_ROWS: usize = 8;

/// Query rows of one kv head (its query heads × queries) up to which this path is used; more
/// rows amortise gemm's packing.
pub(super) const MAX_ROWS: usize = 16;

/// One (batch, kv head)'s keys or values: row `j` starts at `data[start + j·row_stride]` and
/// holds `dim` elements `col_stride` apart.
#[derive(Clone, Copy)]
pub(super) struct HeadRows<'a, T> {
    pub data: &'a [T],
    pub start: usize,
    pub row_stride: usize,
    pub col_stride: usize,
    pub dim: usize,
}

impl<'a, T: FloatElement> HeadRows<'a, T> {
    /// Row `j` as f32: borrowed when it already is dense f32, else widened into `buf`.
    #[inline(always)]
    fn row<'b>(&self, j: usize, buf: &'b mut [f32]) -> &'b [f32]
    where
        'a: 'b,
    {
        let base = self.start + j * self.row_stride;
        if self.col_stride == 1 && TypeId::of::<T>() == TypeId::of::<f32>() {
            let all: &'a [f32] = bytemuck::cast_slice(self.data);
            return &all[base..base + self.dim];
        }
        for (c, d) in buf[..self.dim].iter_mut().enumerate() {
            *d = self.data[base + c * self.col_stride].to_f32();
        }
        &buf[..self.dim]
    }

    /// Asks for row `j`'s cache lines (of a dense row; a strided one is left to the hardware).
    #[inline(always)]
    fn prefetch(&self, j: usize) {
        #[cfg(target_arch = "x86_64")]
        if self.col_stride == 1 {
            let base = self.start + j * self.row_stride;
            let row = self.data.as_ptr().wrapping_add(base) as *const i8;
            for line in (0..self.dim * std::mem::size_of::<T>()).step_by(64) {
                // SAFETY: a prefetch is a hint: it never faults, whatever the address.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        row.wrapping_add(line),
                    )
                };
            }
        }
    }
}

/// The shape of the problem, as `attention::run` has checked it.
pub(super) struct Problem<'a, T> {
    pub q: RowReader<'a, T>,
    pub batch: usize,
    pub q_heads: usize,
    pub kv_heads: usize,
    pub q_len: usize,
    pub head_dim: usize,
    pub value_dim: usize,
    pub scale: f32,
    /// Keys any query sees.
    pub seen: usize,
}

/// One chunk's contribution to one query row.
#[derive(Clone)]
struct Partial {
    max: f32,
    total: f32,
    weighted: Vec<f32>,
}

/// Writes the attention output (dense `[batch, q_heads, q_len, value_dim]`) into `out`.
/// `keys(b, h)`/`values(b, h)` give the rows of a (batch, kv head); `visible(i)` the keys query
/// `i` sees (at most `problem.seen`).
pub(super) fn run<'a, T: FloatElement>(
    problem: &Problem<'a, T>,
    keys: impl Fn(usize, usize) -> HeadRows<'a, T> + Sync,
    values: impl Fn(usize, usize) -> HeadRows<'a, T> + Sync,
    visible: impl Fn(usize) -> usize + Sync,
    out: &mut [T],
) {
    let p = problem;
    let batch_rows = p.q_heads * p.q_len;
    let mut queries = vec![0.0f32; p.batch * batch_rows * p.head_dim];
    p.q.read_rows(0, &mut queries);
    let chunks = p.seen.div_ceil(KEY_CHUNK).max(1);
    let visible: Vec<usize> = (0..p.q_len).map(visible).collect();
    let partials: Vec<Vec<Partial>> = (0..p.batch * chunks)
        .into_par_iter()
        .map(|task| {
            let (batch, chunk) = (task / chunks, task % chunks);
            let heads: Vec<_> = (0..p.kv_heads)
                .map(|h| (keys(batch, h), values(batch, h)))
                .collect();
            let first = chunk * KEY_CHUNK;
            chunk_partials(
                p,
                &queries[batch * batch_rows * p.head_dim..][..batch_rows * p.head_dim],
                &heads,
                first..p.seen.min(first + KEY_CHUNK),
                &visible,
            )
        })
        .collect();
    out.par_chunks_mut(batch_rows * p.value_dim)
        .zip(partials.par_chunks(chunks))
        .for_each(|(batch_out, chunk_partials)| {
            for (r, dst) in batch_out.chunks_mut(p.value_dim).enumerate() {
                merge(chunk_partials.iter().map(|c| &c[r]), dst);
            }
        });
}
/// `Σ_c e^(max_c − M) · weighted_c / Σ_c e^(max_c − M) · total_c` over a row's chunks.
fn merge<'p, T: FloatElement>(parts: impl Iterator<Item = &'p Partial> + Clone, dst: &mut [T]) {
    let overall = parts.clone().fold(f32::NEG_INFINITY, |m, c| m.max(c.max));
    let mut acc = vec![0.0f32; dst.len()];
    let mut total = 0.0f32;
    for part in parts {
        if part.total == 0.0 {
            continue;
        }
        let factor = exp(part.max - overall);
        total += factor * part.total;
        for (a, &w) in acc.iter_mut().zip(&part.weighted) {
            *a += factor * w;
        }
    }
    // A row that sees no key (only possible for an empty key range) gets zeros.
    let inv = if total > 0.0 { 1.0 / total } else { 0.0 };
    for (d, a) in dst.iter_mut().zip(acc) {
        *d = T::from_f32(a * inv);
    }
}

/// The partials of one batch's query rows over the keys `keys_here`, compiled for the widest
/// vectors the CPU has.
fn chunk_partials<T: FloatElement>(
    p: &Problem<'_, T>,
    queries: &[f32],
    heads: &[(HeadRows<'_, T>, HeadRows<'_, T>)],
    keys_here: std::ops::Range<usize>,
    visible: &[usize],
) -> Vec<Partial> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU was just checked for AVX-512F.
            return unsafe { chunk_partials_avx512(p, queries, heads, keys_here, visible) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just checked for AVX2.
            return unsafe { chunk_partials_avx2(p, queries, heads, keys_here, visible) };
        }
    }
    chunk_partials_portable(p, queries, heads, keys_here, visible)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn chunk_partials_avx512<T: FloatElement>(
    p: &Problem<'_, T>,
    queries: &[f32],
    heads: &[(HeadRows<'_, T>, HeadRows<'_, T>)],
    keys_here: std::ops::Range<usize>,
    visible: &[usize],
) -> Vec<Partial> {
    chunk_partials_portable(p, queries, heads, keys_here, visible)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn chunk_partials_avx2<T: FloatElement>(
    p: &Problem<'_, T>,
    queries: &[f32],
    heads: &[(HeadRows<'_, T>, HeadRows<'_, T>)],
    keys_here: std::ops::Range<usize>,
    visible: &[usize],
) -> Vec<Partial> {
    chunk_partials_portable(p, queries, heads, keys_here, visible)
}

#[inline(always)]
fn chunk_partials_portable<T: FloatElement>(
    p: &Problem<'_, T>,
    queries: &[f32],
    heads: &[(HeadRows<'_, T>, HeadRows<'_, T>)],
    keys_here: std::ops::Range<usize>,
    visible: &[usize],
) -> Vec<Partial> {
    // Rows are (query head, query) of one batch; the group of kv head h is rows
    // h·group_rows.. . Keys are read position by position across the kv heads, which in a KV
    // cache laid out [position, kv head, dim] is one contiguous stream.
    let rows = queries.len() / p.head_dim;
    let group_rows = rows / heads.len();
    let width = keys_here.len();
    let mut buf = vec![0.0f32; p.head_dim.max(p.value_dim)];
    // scores[r · width + j]: row r against key first + j (only the keys it sees are written).
    let mut scores = vec![f32::NEG_INFINITY; rows * width];
    let first = keys_here.start;
    let sees = |r: usize| visible[r % p.q_len].saturating_sub(first).min(width);
    for (j, key) in keys_here.clone().enumerate() {
        for (h, (keys, _)) in heads.iter().enumerate() {
            keys.prefetch(key + PREFETCH_ROWS);
            let key_row = keys.row(key, &mut buf);
            let group = h * group_rows..(h + 1) * group_rows;
            for (r, query) in
                group.zip(queries[h * group_rows * p.head_dim..].chunks_exact(p.head_dim))
            {
                if j < sees(r) {
                    scores[r * width + j] = p.scale * dot(query, key_row);
                }
            }
        }
    }
    let mut partials: Vec<Partial> = (0..rows)
        .map(|r| {
            let row = &mut scores[r * width..][..sees(r)];
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
            let mut total = 0.0f32;
            for s in row.iter_mut() {
                *s = exp(*s - max);
                total += *s;
            }
            Partial {
                max,
                total,
                weighted: vec![0.0; p.value_dim],
            }
        })
        .collect();
    for (j, key) in keys_here.enumerate() {
        for (h, (_, values)) in heads.iter().enumerate() {
            values.prefetch(key + PREFETCH_ROWS);
            let value_row = values.row(key, &mut buf);
            for (r, partial) in partials
                .iter_mut()
                .enumerate()
                .skip(h * group_rows)
                .take(group_rows)
            {
                if j < sees(r) {
                    let weight = scores[r * width + j];
                    for (w, &v) in partial.weighted.iter_mut().zip(value_row) {
                        *w += weight * v;
                    }
                }
            }
        }
    }
    partials
}
