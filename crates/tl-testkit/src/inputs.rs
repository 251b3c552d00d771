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
/// format keeps them (so every decoded value is finite and of moderate size).
fn random_blocks(dtype: DType, numel: usize, seed: u64) -> Vec<u8> {
    let blocks = numel / dtype.block_size();
    let size = dtype.block_bytes();
    let mut bytes: Vec<u8> = (0..blocks * size)
        .map(|i| (mix64(seed ^ mix64(i as u64)) & 0xff) as u8)
        .collect();
    let scale_offsets: &[usize] = match dtype {
        DType::Q4_0 | DType::Q8_0 => &[0],
        DType::Q4_1 | DType::Q4_K => &[0, 2],
        DType::Q6_K => &[208],
        _ => &[],
    };
    for b in 0..blocks {
        for (k, &off) in scale_offsets.iter().enumerate() {
            let u = uniform01(seed ^ 0x5ca1e, (b * 2 + k) as u64);
            let scale = half::f16::from_f64(0.001 + 0.049 * u);
            bytes[b * size + off..b * size + off + 2].copy_from_slice(&scale.to_le_bytes());
        }
    }
    bytes
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
