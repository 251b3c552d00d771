//! Reference: the quantized ops as plain loops straight from the GGUF block layouts
//! (ggml-common.h), weight by weight in f64. Shares nothing with [`crate::quant`].

use half::f16;

use super::{HostData, HostTensor};
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::signature::TensorSpec;
use crate::DType;

pub(super) fn evaluate(
    op: &Op,
    inputs: &[HostTensor],
    spec: &TensorSpec,
) -> Result<Vec<HostTensor>> {
    match op {
        Op::Dequantize { .. } => Ok(vec![HostTensor::from_values(
            &spec.shape,
            spec.dtype,
            inputs[0].values(),
        )]),
        Op::Quantize { dtype } => {
            let values = inputs[0].values();
            let mut blocks = Vec::new();
            for chunk in values.chunks_exact(32) {
                let x: Vec<f32> = chunk.iter().map(|&v| v as f32).collect();
                blocks.extend(match dtype {
                    DType::Q8_0 => encode_q8_0(&x),
                    DType::Q4_0 => encode_q4_0(&x),
                    DType::Q4_1 => encode_q4_1(&x),
                    other => return Err(TensorError::unsupported_dtype(op.name(), *other)),
                });
            }
            Ok(vec![HostTensor {
                shape: spec.shape.clone(),
                dtype: *dtype,
                data: HostData::Blocks(blocks),
            }])
        }
        Op::QMatMul => {
            let (x, w) = (inputs[0].values(), inputs[1].values());
            let (n, k) = (inputs[1].shape[0], inputs[1].shape[1]);
            let rows = x.len().checked_div(k).unwrap_or(0);
            let mut out = vec![0.0; spec.shape.iter().product()];
            for r in 0..rows {
                for j in 0..n {
                    let mut sum = 0.0f64;
                    for c in 0..k {
                        sum += x[r * k + c] * w[j * k + c];
                    }
                    out[r * n + j] = sum;
                }
            }
            Ok(vec![HostTensor::from_values(&spec.shape, spec.dtype, out)])
        }
        _ => unreachable!("reference quant::evaluate got {}", op.name()),
    }
}

/// Decodes quantized blocks to f64 values (the reference decoder). A trailing partial block
/// is ignored; plain dtypes give no values.
pub(crate) fn decode(dtype: DType, blocks: &[u8]) -> Vec<f64> {
    if !dtype.is_quantized() {
        return Vec::new();
    }
    let mut values = Vec::new();
    for block in blocks.chunks_exact(dtype.block_bytes()) {
        for i in 0..dtype.block_size() {
            values.push(weight(dtype, block, i));
        }
    }
    values
}

/// The f16 stored little-endian at `block[at..at + 2]`.
fn half_at(block: &[u8], at: usize) -> f64 {
    f16::from_bits(u16::from(block[at]) | (u16::from(block[at + 1]) << 8)).to_f64()
}

/// Weight `i` of one block, read straight from the layout.
fn weight(dtype: DType, block: &[u8], i: usize) -> f64 {
    // Q4_0/Q4_1: weight i < 16 is the low nibble of quant byte i, weight i ≥ 16 the high
    // nibble of byte i − 16.
    let nibble = |byte: u8, high: bool| f64::from(if high { byte >> 4 } else { byte & 0x0f });
    match dtype {
        DType::Q4_0 => {
            // f16 d; u8 qs[16]
            let q = nibble(block[2 + i % 16], i >= 16);
            half_at(block, 0) * (q - 8.0)
        }
        DType::Q4_1 => {
            // f16 d; f16 m; u8 qs[16]
            let q = nibble(block[4 + i % 16], i >= 16);
            half_at(block, 0) * q + half_at(block, 2)
        }
        DType::Q8_0 => {
            // f16 d; i8 qs[32]
            half_at(block, 0) * f64::from(block[2 + i] as i8)
        }
        DType::Q4_K => {
            // f16 d; f16 dmin; u8 scales[12]; u8 qs[128]. Sub-block s (of 32) takes the low
            // nibbles of qs[32·(s/2) ..] when s is even, the high nibbles when odd.
            let sub = i / 32;
            let q = nibble(block[16 + 32 * (sub / 2) + i % 32], sub % 2 == 1);
            let (scale, min) = q4_k_scale_min(&block[4..16], sub);
            half_at(block, 0) * scale * q - half_at(block, 2) * min
        }
        DType::Q6_K => {
            // u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d. Half h of 128 weights uses
            // ql[64h..64h+64] and qh[32h..32h+32]; within it, group g of 32 takes its low 4
            // bits from ql[32·(g%2) + l] (low nibble for g < 2, high for g ≥ 2) and its top
            // 2 bits from bits 2g, 2g+1 of qh[l].
            let (half, within) = (i / 128, i % 128);
            let (group, l) = (within / 32, within % 32);
            let low = nibble(block[64 * half + 32 * (group % 2) + l], group >= 2);
            let high = f64::from((block[128 + 32 * half + l] >> (2 * group)) & 3);
            let q = low + 16.0 * high;
            let scale = f64::from(block[192 + i / 16] as i8);
            half_at(block, 208) * scale * (q - 32.0)
        }
        _ => f64::NAN,
    }
}

/// Scale and min (6 bits each) of Q4_K sub-block `sub` from the 12 packed bytes: sub-blocks
/// 0..4 keep them whole in the low 6 bits of bytes `sub` and `sub + 4`; sub-blocks 4..8 keep
/// the low 4 bits in byte `sub + 4` (scale in the low nibble, min in the high one) and the
/// top 2 bits in the top bits of bytes `sub − 4` (scale) and `sub` (min).
fn q4_k_scale_min(packed: &[u8], sub: usize) -> (f64, f64) {
    let (scale, min) = if sub < 4 {
        (packed[sub] % 64, packed[sub + 4] % 64)
    } else {
        (
            packed[sub + 4] % 16 + 16 * (packed[sub - 4] / 64),
            packed[sub + 4] / 16 + 16 * (packed[sub] / 64),
        )
    };
    (f64::from(scale), f64::from(min))
}

/// ggml's `quantize_row_q8_0_ref` for one block, its f32 arithmetic kept.
fn encode_q8_0(x: &[f32]) -> Vec<u8> {
    let mut amax = 0.0f32;
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
        }
    }
    let d = amax / 127.0;
    let id = if d == 0.0 { 0.0 } else { 1.0 / d };
    let mut block = f16::from_f32(d).to_le_bytes().to_vec();
    for &v in x {
        // C's roundf rounds halves away from zero, as f32::round does.
        block.push((v * id).round() as i8 as u8);
    }
    block
}

/// ggml's `quantize_row_q4_0_ref` for one block.
fn encode_q4_0(x: &[f32]) -> Vec<u8> {
    let mut amax = 0.0f32;
    let mut max = 0.0f32;
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d == 0.0 { 0.0 } else { 1.0 / d };
    // (int8_t)(x·id + 8.5) truncates toward zero, then MIN(15, ·).
    let q = |v: f32| ((v * id + 8.5).trunc() as i32).min(15) as u8;
    let mut block = f16::from_f32(d).to_le_bytes().to_vec();
    for j in 0..16 {
        block.push(q(x[j]) | (q(x[j + 16]) << 4));
    }
    block
}

/// ggml's `quantize_row_q4_1_ref` for one block.
fn encode_q4_1(x: &[f32]) -> Vec<u8> {
    let mut min = f32::MAX;
    let mut max = -f32::MAX;
    for &v in x {
        min = if v < min { v } else { min };
        max = if v > max { v } else { max };
    }
    let d = (max - min) / 15.0;
    let id = if d == 0.0 { 0.0 } else { 1.0 / d };
    let q = |v: f32| (((v - min) * id + 0.5).trunc() as i32).min(15) as u8;
    let mut block = f16::from_f32(d).to_le_bytes().to_vec();
    block.extend(f16::from_f32(min).to_le_bytes());
    for j in 0..16 {
        block.push(q(x[j]) | (q(x[j + 16]) << 4));
    }
    block
}
