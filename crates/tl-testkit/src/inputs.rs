//! Seeded input generation: the same logical values for the reference and, in the requested
//! view, for a backend.

use tl_tensor::layout::Layout;
use tl_tensor::random::{mix64, uniform01};
use tl_tensor::reference::{HostData, HostTensor};
use tl_tensor::{DType, Device, Result, Tensor};

use crate::case::{Fill, Input, View};

/// The values of a dense host tensor of `shape` drawn from `fill`.
pub fn host_values(shape: &[usize], dtype: DType, fill: &Fill, seed: u64) -> HostTensor {
    let n: usize = shape.iter().product();
    if dtype.is_quantized() {
        return HostTensor {
            shape: shape.to_vec(),
            dtype,
            data: HostData::Blocks(random_blocks(dtype, n, seed)),
        };
    }
    let values: Vec<f64> = match fill {
        Fill::Uniform { low, high } => (0..n)
            .map(|i| low + (high - low) * uniform01(seed, i as u64))
            .collect(),
        Fill::Integers { low, high } => (0..n)
            .map(|i| {
                let span = (high - low).max(1) as u64;
                (*low + (mix64(seed ^ mix64(i as u64)) % span) as i64) as f64
            })
            .collect(),
        Fill::Bool => (0..n)
            .map(|i| (mix64(seed ^ mix64(i as u64)) & 1) as f64)
            .collect(),
        Fill::Values(v) => (0..n).map(|i| v[i % v.len().max(1)]).collect(),
        Fill::Blocks => vec![0.0; n],
    };
    HostTensor::from_values(shape, dtype, values).rounded()
}

/// Random but valid blocks: random quant bytes, and small positive f16 scales where the
/// format keeps them (so every decoded value is finite and of moderate size). The formats
/// with a per-block offset (Q4_1's min, Q4_K's sub-block mins) get offsets that centre their
/// blocks near zero, as a quantized weight's are: random offsets give every weight row a mean
/// of the same sign, so all of a gated product's gates can be far negative, where
/// silu(gate)·up is exponentially small and its relative error (the gate's absolute error,
/// from the activation's 8-bit rounding) grows without bound.
fn random_blocks(dtype: DType, numel: usize, seed: u64) -> Vec<u8> {
    let blocks = numel / dtype.block_size();
    let size = dtype.block_bytes();
    let mut bytes: Vec<u8> = (0..blocks * size)
        .map(|i| (mix64(seed ^ mix64(i as u64)) & 0xff) as u8)
        .collect();
    // Where the block's f16 scale d lies.
    let scale_offset = match dtype {
        DType::Q4_0 | DType::Q8_0 | DType::Q4_1 | DType::Q4_K => Some(0),
        DType::Q6_K => Some(208),
        _ => None,
    };
    for b in 0..blocks {
        let block = &mut bytes[b * size..(b + 1) * size];
        if let Some(off) = scale_offset {
            let u = uniform01(seed ^ 0x5ca1e, (b * 2) as u64);
            let scale = half::f16::from_f64(0.001 + 0.049 * u);
            block[off..off + 2].copy_from_slice(&scale.to_le_bytes());
        }
        let draw = |k: u64| uniform01(seed ^ 0xce47e, b as u64 * 32 + k);
        match dtype {
            // w = d·q + m, q in 0..=15: m near −7.5·d.
            DType::Q4_1 => {
                let d = half::f16::from_le_bytes([block[0], block[1]]).to_f64();
                let min = half::f16::from_f64(-d * (6.5 + 2.0 * draw(0)));
                block[2..4].copy_from_slice(&min.to_le_bytes());
            }
            // w = d·scale_j·q − dmin·min_j, q in 0..=15: dmin = d, scales 1..=8 and mins
            // near 7.5·scale_j (6 bits each).
            DType::Q4_K => {
                let (d0, d1) = (block[0], block[1]);
                block[2..4].copy_from_slice(&[d0, d1]);
                let mut scales = [0u8; 8];
                let mut mins = [0u8; 8];
                for j in 0..8 {
                    scales[j] = 1 + (draw(1 + j as u64) * 8.0).min(7.0) as u8;
                    let centre = f64::from(scales[j]) * (6.5 + 2.0 * draw(9 + j as u64));
                    mins[j] = centre.round().min(63.0) as u8;
                }
                block[4..16].copy_from_slice(&pack_q4_k_scales(&scales, &mins));
            }
            _ => {}
        }
    }
    bytes
}

/// Q4_K's 12 bytes of 6-bit sub-block scales and mins (ggml's get_scale_min_k4 layout):
/// sub-blocks 0..3 in the low 6 bits of bytes j (scale) and j + 4 (min); sub-blocks 4..7 as
/// nibbles of byte j + 4 (scale low, min high) and their top 2 bits in the top bits of bytes
/// j − 4 (scale) and j (min).
fn pack_q4_k_scales(scales: &[u8; 8], mins: &[u8; 8]) -> [u8; 12] {
    let mut packed = [0u8; 12];
    for j in 0..4 {
        packed[j] = scales[j] | ((scales[j + 4] >> 4) << 6);
        packed[j + 4] = mins[j] | ((mins[j + 4] >> 4) << 6);
        packed[j + 8] = (scales[j + 4] & 0xF) | ((mins[j + 4] & 0xF) << 4);
    }
    packed
}

/// Builds an input: its logical host values, and a backend tensor with those values in the
/// requested view.
pub fn make_input(input: &Input, device: &Device, seed: u64) -> Result<(HostTensor, Tensor)> {
    match &input.view {
        View::Dense => {
            let host = host_values(&input.shape, input.dtype, &input.fill, seed);
            let tensor = device.from_bytes(&host.to_bytes(), &host.shape, host.dtype)?;
            Ok((host, tensor))
        }
        View::Permuted(dims) => {
            let mut inverse = vec![0; dims.len()];
            for (i, &d) in dims.iter().enumerate() {
                inverse[d] = i;
            }
            let stored_shape: Vec<usize> = inverse.iter().map(|&i| input.shape[i]).collect();
            let stored = host_values(&stored_shape, input.dtype, &input.fill, seed);
            let tensor = device
                .from_bytes(&stored.to_bytes(), &stored_shape, input.dtype)?
                .permute(dims)?;
            let host = stored.gather_layout(&Layout::contiguous(&stored_shape).permute(dims)?)?;
            Ok((host, tensor))
        }
        View::Narrowed => {
            let stored_shape: Vec<usize> = input.shape.iter().map(|d| d + 2).collect();
            let stored = host_values(&stored_shape, input.dtype, &input.fill, seed);
            let mut layout = Layout::contiguous(&stored_shape);
            let mut tensor = device.from_bytes(&stored.to_bytes(), &stored_shape, input.dtype)?;
            for (axis, &d) in input.shape.iter().enumerate() {
                layout = layout.narrow(axis as isize, 1, d)?;
                tensor = tensor.narrow(axis as isize, 1, d)?;
            }
            Ok((stored.gather_layout(&layout)?, tensor))
        }
        View::Broadcast(stored_shape) => {
            let stored = host_values(stored_shape, input.dtype, &input.fill, seed);
            let tensor = device
                .from_bytes(&stored.to_bytes(), stored_shape, input.dtype)?
                .expand(&input.shape)?;
            let host =
                stored.gather_layout(&Layout::contiguous(stored_shape).expand(&input.shape)?)?;
            Ok((host, tensor))
        }
    }
}
