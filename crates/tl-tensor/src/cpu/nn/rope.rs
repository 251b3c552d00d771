//! CPU kernel: `Rope` in both pairings (half-split and interleaved).
//!
//! The angles are computed once per call into cos/sin tables `[seq, head_dim/2]`, in f64
//! (positions reach the tens of thousands, where an f32 angle would be off by ~1e-3 rad),
//! then every row `[head_dim]` of `x` is rotated in f32.

use rayon::prelude::*;

use super::rows::RowReader;
use crate::cpu::element::FloatElement;
use crate::cpu::index::read_indices;
use crate::cpu::{input_slice, output_slice};
use crate::error::Result;
use crate::op::RopeStyle;
use crate::tensor::Tensor;

/// Rows shorter than this many elements are grouped into one rayon task.
const MIN_TASK_ELEMENTS: usize = 8 * 1024;

pub(super) fn run<T: FloatElement>(
    x: &Tensor,
    positions: &Tensor,
    style: RopeStyle,
    base: f64,
    position_scale: f64,
    output: &Tensor,
) -> Result<()> {
    let out = output_slice::<T>(output)?;
    let shape = x.shape();
    let rank = shape.len();
    let (seq, heads, head_dim) = (shape[rank - 3], shape[rank - 2], shape[rank - 1]);
    if out.is_empty() || head_dim == 0 {
        return Ok(());
    }
    let half = head_dim / 2;
    let positions = read_indices(positions)?;
    let inverse_frequencies: Vec<f64> = (0..half)
        .map(|i| base.powf(-2.0 * i as f64 / head_dim as f64))
        .collect();
    let mut cos = vec![0.0f32; seq * half];
    let mut sin = vec![0.0f32; seq * half];
    if half > 0 {
        cos.par_chunks_mut(half)
            .zip(sin.par_chunks_mut(half))
            .zip(&positions)
            .for_each(|((cos, sin), &position)| {
                let scaled = position as f64 * position_scale;
                for ((c, s), &f) in cos.iter_mut().zip(sin.iter_mut()).zip(&inverse_frequencies) {
                    let (sin_angle, cos_angle) = (scaled * f).sin_cos();
                    *c = cos_angle as f32;
                    *s = sin_angle as f32;
                }
            });
    }
    let reader = RowReader::new(input_slice::<T>(x)?, x.layout());
    out.par_chunks_mut(head_dim)
        .with_min_len((MIN_TASK_ELEMENTS / head_dim).max(1))
        .enumerate()
        .for_each_init(
            || vec![0.0f32; head_dim],
            |row, (r, dst)| {
                reader.read(r, row);
                let s = (r / heads) % seq;
                let (cos, sin) = (
                    &cos[s * half..(s + 1) * half],
                    &sin[s * half..(s + 1) * half],
                );
                match style {
                    RopeStyle::HalfSplit => {
                        let (first, second) = row.split_at(half);
                        let (dst_first, dst_second) = dst.split_at_mut(half);
                        for i in 0..half {
                            let (a, b) = (first[i], second[i]);
                            dst_first[i] = T::from_f32(a * cos[i] - b * sin[i]);
                            dst_second[i] = T::from_f32(a * sin[i] + b * cos[i]);
                        }
                    }
                    RopeStyle::Interleaved => {
                        for ((pair, out_pair), (&c, &s)) in row
                            .chunks_exact(2)
                            .zip(dst.chunks_exact_mut(2))
                            .zip(cos.iter().zip(sin))
                        {
                            let (a, b) = (pair[0], pair[1]);
                            out_pair[0] = T::from_f32(a * c - b * s);
                            out_pair[1] = T::from_f32(a * s + b * c);
                        }
                    }
                }
            },
        );
    Ok(())
}
