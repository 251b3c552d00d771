//! llama.cpp's rounding of activations written with `tl-tensor` ops, for
//! [`Numerics::LlamaCpp`](crate::Numerics): ggml's Q8_1/Q8_0 activation blocks
//! (`quantize_row_q8_1` on x86) and the per-block offsets of Q4_1 weights they meet.

use tl_tensor::{BinaryOp, DType, ReduceOp, Tensor, UnaryOp};

use crate::error::Result;
use crate::weight_name::WeightName;
use crate::weight_source::WeightSource;

/// Activations per ggml Q8 block.
const BLOCK: usize = 32;

/// `x` rounded to f16 and back.
pub(crate) fn round_to_f16(x: &Tensor) -> Result<Tensor> {
    Ok(x.cast(DType::F16)?.cast(x.dtype())?)
}

/// `x [n, k]` (f32, `k` a multiple of 32) as ggml's x86 `quantize_row_q8_1` blocks see it:
/// per block of 32, `d = amax / 127` (f32), `q = round_half_even(x · 127 / amax)`, `d` stored
/// as f16 and `s = f16(d · Σq)`.
///
/// Returns `(values, offset_error)`: `values [n, k] = f16(d) · q` (what the weights meet in
/// `d_w · d · Σ q_w q`), and `offset_error [n, k / 32] = s − f16(d) · Σq`, the difference
/// between the activation sum ggml multiplies Q4_1 offsets by and the exact sum of `values`
/// that our mat-vec uses.
pub(crate) fn q8_1_activations(x: &Tensor) -> Result<(Tensor, Tensor)> {
    let (n, k) = (x.shape()[0], x.shape()[1]);
    let device = x.device();
    let blocks = x.reshape(&[n, k / BLOCK, BLOCK])?;
    let amax = blocks
        .unary(UnaryOp::Abs)?
        .reduce(ReduceOp::Max, &[-1], true)?;
    let constant = |v: f64| device.full(&[1], DType::F32, v);
    let d = amax.div(&constant(127.0)?)?;
    // ggml uses 0 for the inverse of an all-zero block; any finite inverse gives q = 0 there.
    let inverse = constant(127.0)?.div(&amax.binary(BinaryOp::Maximum, &constant(1e-30)?)?)?;
    let q = blocks.mul(&inverse)?.unary(UnaryOp::Round)?;
    let d16 = round_to_f16(&d)?;
    let q_sum = q.sum(&[-1], true)?;
    let values = q.mul(&d16)?.reshape(&[n, k])?;
    let offset_error = round_to_f16(&d.mul(&q_sum)?)?
        .sub(&d16.mul(&q_sum)?)?
        .reshape(&[n, k / BLOCK])?;
    Ok((values, offset_error))
}

/// The offsets `m` of a Q4_1 weight's blocks as f32 `[rows, blocks per row]`, or `None` for
/// a weight of another dtype (or not stored in a GGUF file).
pub(crate) fn q4_1_block_offsets(
    weights: &WeightSource,
    name: &WeightName,
    device: &tl_tensor::Device,
) -> Result<Option<Tensor>> {
    let WeightSource::Gguf(file) = weights else {
        return Ok(None);
    };
    let Some(info) = file.tensor_info(&name.gguf_name()) else {
        return Ok(None);
    };
    if info.dtype != DType::Q4_1 || info.shape.len() != 2 {
        return Ok(None);
    }
    // A Q4_1 block is `f16 d; f16 m; u8 qs[16]`.
    let offsets: Vec<f32> = file
        .tensor_bytes(info)
        .chunks_exact(20)
        .map(|block| half::f16::from_le_bytes([block[2], block[3]]).to_f32())
        .collect();
    let shape = [info.shape[0], info.shape[1] / BLOCK];
    Ok(Some(device.from_slice(&offsets, &shape)?))
}
