//! Reference: softmax, log_softmax, rms_norm, add_rms_norm, layer_norm, rope, swiglu,
//! attention and rope_attention, written from their definitions over f64 values.

use super::{broadcast_value, ravel, unravel, HostTensor};
use crate::error::{Result, TensorError};
use crate::op::{Op, RopeStyle};
use crate::signature::TensorSpec;

pub(super) fn evaluate(
    op: &Op,
    inputs: &[HostTensor],
    specs: &[TensorSpec],
) -> Result<Vec<HostTensor>> {
    let spec = &specs[0];
    let output = |values: Vec<f64>| HostTensor::from_values(&spec.shape, spec.dtype, values);
    Ok(match op {
        Op::Softmax { axis } => vec![output(softmax(&inputs[0], *axis, false))],
        Op::LogSoftmax { axis } => vec![output(softmax(&inputs[0], *axis, true))],
        Op::RmsNorm { eps } => {
            vec![output(rms_norm(
                &inputs[0],
                &inputs[0].values(),
                &inputs[1],
                *eps,
            ))]
        }
        Op::AddRmsNorm { eps } => {
            let sum: Vec<f64> = inputs[0]
                .values()
                .iter()
                .zip(inputs[1].values())
                .map(|(a, b)| a + b)
                .collect();
            let normed = rms_norm(&inputs[0], &sum, &inputs[2], *eps);
            vec![output(sum), output(normed)]
        }
        Op::LayerNorm { eps } => vec![output(layer_norm(inputs, *eps))],
        Op::Rope {
            style,
            base,
            position_scale,
        } => vec![output(rope(inputs, *style, *base, *position_scale))],
        Op::SwiGlu => {
            let values = inputs[0]
                .values()
                .iter()
                .zip(inputs[1].values())
                .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
                .collect();
            vec![output(values)]
        }
        Op::Attention { causal, scale } => vec![output(attention(inputs, *causal, *scale)?)],
        Op::RopeAttention {
            style,
            base,
            position_scale,
            scale,
        } => rope_attention(op, inputs, (*style, *base, *position_scale), *scale)?,
        _ => unreachable!(),
    })
}

/// `exp(x_i) / Σ_j exp(x_j)` along `axis` (or its log), each lane shifted by its maximum.
fn softmax(x: &HostTensor, axis: usize, log: bool) -> Vec<f64> {
    let values = x.values();
    let mut out = vec![0.0; values.len()];
    for flat in 0..values.len() {
        let start = unravel(flat, &x.shape);
        if start[axis] != 0 {
            continue;
        }
        // `flat` starts a lane along `axis`: visit the whole lane.
        let lane: Vec<usize> = (0..x.shape[axis])
            .map(|j| {
                let mut at = start.clone();
                at[axis] = j;
                ravel(&at, &x.shape)
            })
            .collect();
        let max = lane
            .iter()
            .map(|&p| values[p])
            .fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = lane.iter().map(|&p| (values[p] - max).exp()).sum();
        for &p in &lane {
            let shifted = values[p] - max;
            out[p] = if log {
                shifted - total.ln()
            } else {
                shifted.exp() / total
            };
        }
    }
    out
}

/// `x / sqrt(mean(x²) + eps) · weight` over the last axis of `shape_of`'s shape.
fn rms_norm(shape_of: &HostTensor, x: &[f64], weight: &HostTensor, eps: f64) -> Vec<f64> {
    let dim = *shape_of.shape.last().expect("rank checked");
    let weights = weight.values();
    let mut out = vec![0.0; x.len()];
    for (row, chunk) in x.chunks(dim.max(1)).enumerate() {
        let mean_square = chunk.iter().map(|v| v * v).sum::<f64>() / dim as f64;
        let inv = 1.0 / (mean_square + eps).sqrt();
        for (j, v) in chunk.iter().enumerate() {
            let index = unravel(row * dim + j, &shape_of.shape);
            out[row * dim + j] = v * inv * broadcast_value(weight, &weights, &index);
        }
    }
    out
}

/// `(x − mean) / sqrt(var + eps) · weight + bias` over the last axis (population variance).
fn layer_norm(inputs: &[HostTensor], eps: f64) -> Vec<f64> {
    let (x, weight, bias) = (&inputs[0], &inputs[1], &inputs[2]);
    let (values, weights, biases) = (x.values(), weight.values(), bias.values());
    let dim = *x.shape.last().expect("rank checked");
    let mut out = vec![0.0; values.len()];
    for (row, chunk) in values.chunks(dim.max(1)).enumerate() {
        let mean = chunk.iter().sum::<f64>() / dim as f64;
        let variance = chunk.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / dim as f64;
        let inv = 1.0 / (variance + eps).sqrt();
        for (j, v) in chunk.iter().enumerate() {
            let index = unravel(row * dim + j, &x.shape);
            out[row * dim + j] = (v - mean) * inv * broadcast_value(weight, &weights, &index)
                + broadcast_value(bias, &biases, &index);
        }
    }
    out
}

/// Rotates pair `p` of each head by `position · position_scale · base^(−2p/head_dim)`; the
/// pairs are `(p, p + head_dim/2)` (half split) or `(2p, 2p + 1)` (interleaved).
fn rope(inputs: &[HostTensor], style: RopeStyle, base: f64, position_scale: f64) -> Vec<f64> {
    let (x, positions) = (&inputs[0], &inputs[1]);
    let (values, positions) = (x.values(), positions.values());
    let rank = x.shape.len();
    let head_dim = x.shape[rank - 1];
    let half = head_dim / 2;
    let mut out = vec![0.0; values.len()];
    for (flat, slot) in out.iter_mut().enumerate() {
        let index = unravel(flat, &x.shape);
        let position = positions[index[rank - 3]];
        let d = index[rank - 1];
        let (pair, first, partner) = match style {
            RopeStyle::HalfSplit => {
                if d < half {
                    (d, true, flat + half)
                } else {
                    (d - half, false, flat - half)
                }
            }
            RopeStyle::Interleaved => {
                if d & 1 == 0 {
                    (d / 2, true, flat + 1)
                } else {
                    (d / 2, false, flat - 1)
                }
            }
        };
        let angle = position * position_scale * base.powf(-2.0 * pair as f64 / head_dim as f64);
        let (sin, cos) = angle.sin_cos();
        *slot = if first {
            values[flat] * cos - values[partner] * sin
        } else {
            values[partner] * sin + values[flat] * cos
        };
    }
    out
}

/// `softmax(q·kᵀ·scale) · v` per (batch, query head); query head `h` reads kv head
/// `h / (hq / hkv)`; a causal query `i` sees keys `0 ..= skv − sq + i`.
fn attention(inputs: &[HostTensor], causal: bool, scale: f64) -> Result<Vec<f64>> {
    let (q, k, v) = (&inputs[0], &inputs[1], &inputs[2]);
    // Query positions given as a fourth input, checked to lie inside the keys.
    let positions = inputs
        .get(3)
        .map(|p| {
            p.values()
                .into_iter()
                .map(|x| {
                    if x < 0.0 || x >= k.shape[2] as f64 {
                        Err(TensorError::IndexOutOfRange {
                            op: "attention".into(),
                            index: x as i64,
                            size: k.shape[2],
                        })
                    } else {
                        Ok(x as usize)
                    }
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let (qv, kv, vv) = (q.values(), k.values(), v.values());
    let (batch, q_heads, q_len, head_dim) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]);
    let (kv_heads, kv_len) = (k.shape[1], k.shape[2]);
    let value_dim = v.shape[3];
    let group = q_heads / kv_heads;
    let mut out = Vec::with_capacity(batch * q_heads * q_len * value_dim);
    for b in 0..batch {
        for h in 0..q_heads {
            let kh = h / group;
            for i in 0..q_len {
                let seen = if let Some(positions) = &positions {
                    positions[i] + 1
                } else if causal {
                    kv_len - q_len + i + 1
                } else {
                    kv_len
                };
                let scores: Vec<f64> = (0..seen)
                    .map(|j| {
                        (0..head_dim)
                            .map(|d| {
                                qv[ravel(&[b, h, i, d], &q.shape)]
                                    * kv[ravel(&[b, kh, j, d], &k.shape)]
                            })
                            .sum::<f64>()
                            * scale
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = weights.iter().sum();
                for e in 0..value_dim {
                    let weighted: f64 = weights
                        .iter()
                        .enumerate()
                        .map(|(j, w)| w * vv[ravel(&[b, kh, j, e], &v.shape)])
                        .sum();
                    out.push(weighted / total);
                }
            }
        }
    }
    Ok(out)
}

/// `RopeAttention` from its definition: q and k rotated (rounded to the dtype, as `Rope`
/// stores them), the cache rows at the positions replaced, then attention over the caches.
fn rope_attention(
    op: &Op,
    inputs: &[HostTensor],
    (style, base, position_scale): (RopeStyle, f64, f64),
    scale: f64,
) -> Result<Vec<HostTensor>> {
    let (q, k, v) = (&inputs[0], &inputs[1], &inputs[2]);
    let (k_cache, v_cache, positions) = (&inputs[3], &inputs[4], &inputs[5]);
    let rotated = |x: &HostTensor| {
        let values = rope(&[x.clone(), positions.clone()], style, base, position_scale);
        HostTensor::from_values(&x.shape, x.dtype, values).rounded()
    };
    let (q, k) = (rotated(q), rotated(k));
    let write = |cache: &HostTensor, new: &HostTensor| -> Result<HostTensor> {
        let mut values = cache.values();
        let row = cache.shape[1] * cache.shape[2];
        let new_values = new.values();
        for (i, &p) in positions.values().iter().enumerate() {
            if p < 0.0 || p >= cache.shape[0] as f64 {
                return Err(TensorError::IndexOutOfRange {
                    op: op.name(),
                    index: p as i64,
                    size: cache.shape[0],
                });
            }
            let p = p as usize;
            values[p * row..(p + 1) * row].copy_from_slice(&new_values[i * row..(i + 1) * row]);
        }
        Ok(HostTensor::from_values(&cache.shape, cache.dtype, values))
    };
    let (k_cache, v_cache) = (write(k_cache, &k)?, write(v_cache, v)?);
    // [a, h, d] → [1, h, a, d], the layout `attention` takes.
    let heads_first = |t: &HostTensor| {
        let (a, h, d) = (t.shape[0], t.shape[1], t.shape[2]);
        let values = t.values();
        let mut out = vec![0.0; values.len()];
        for i in 0..a {
            for j in 0..h {
                for c in 0..d {
                    out[(j * a + i) * d + c] = values[(i * h + j) * d + c];
                }
            }
        }
        HostTensor::from_values(&[1, h, a, d], t.dtype, out)
    };
    let attended = attention(
        &[
            heads_first(&q),
            heads_first(&k_cache),
            heads_first(&v_cache),
            positions.clone(),
        ],
        true,
        scale,
    )?;
    let (n, heads, value_dim) = (q.shape[0], q.shape[1], v.shape[2]);
    let mut out = vec![0.0; n * heads * value_dim];
    for i in 0..n {
        for j in 0..heads {
            for c in 0..value_dim {
                out[(i * heads + j) * value_dim + c] = attended[(j * n + i) * value_dim + c];
            }
        }
    }
    Ok(vec![
        HostTensor::from_values(&[n, heads, value_dim], q.dtype, out),
        k_cache,
        v_cache,
    ])
}
