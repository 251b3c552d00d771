//! Launcher: `Linear` of one activation row (a decode step). Float weights: one kernel,
//! `tl_linear_*` (kernels/matvec.cu), each block of which computes the normalised input
//! itself (kernels/linear_input.cuh). Quantized weights: one block computes the input and
//! quantizes it, then the quantized mat-vec reads it (`quant::linear_matvec`). Gated, both
//! stream w and w_up together and store silu(gate)·up. Every other case is composed of the
//! ops `Linear` stands for.

use cudarc::driver::LaunchConfig;
use tl_tensor::{linear_composed, DType, LinearNorm, Op, Result, Tensor};

use crate::backend::{CudaBackend, DEFAULT_SHARED_BYTES};
use crate::launch::{base_address, dense_address, dtype_code};
use crate::ops::quant::{linear_matvec, QmvWeightsArg};

/// Warps (weight rows) per `tl_linear_*` block: `MV_WARPS` in kernels/matvec.cu.
const WARPS: usize = 8;
/// Elements a thread of the input's computation takes together: `LI_CHUNK` in
/// kernels/linear_input.cuh.
pub(crate) const LINEAR_INPUT_CHUNK: usize = 8;

/// `LI_NONE`, `LI_RMS` and `LI_ADD_RMS` in kernels/linear_input.cuh.
const NORM_NONE: i32 = 0;
const NORM_RMS: i32 = 1;
const NORM_ADD_RMS: i32 = 2;

/// Mirrors `struct LinearInput` in kernels/linear_input.cuh.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinearInputArg {
    x: u64,
    residual: u64,
    norm_weight: u64,
    sum: u64,
    pub(crate) k: i64,
    eps: f64,
    norm: i32,
    dt: i32,
    /// 1 when no kernel that may still run writes the residual or the norm weight: the
    /// kernel requests them before it waits.
    early: i32,
}

impl LinearInputArg {
    /// The input `x` as it is, without a norm: a dense, 16-byte aligned row of `k`
    /// elements of `dtype` at device address `x`.
    pub(crate) fn plain(x: u64, k: usize, dtype: DType) -> LinearInputArg {
        LinearInputArg {
            x,
            residual: 0,
            norm_weight: 0,
            sum: 0,
            k: k as i64,
            eps: 0.0,
            norm: NORM_NONE,
            dt: dtype_code(dtype),
            early: 0,
        }
    }

    /// Bytes of shared memory the input's computation copies its rows into (x, and for the
    /// norms the residual and the weight): `linear_input` in kernels/linear_input.cuh.
    pub(crate) fn scratch_bytes(&self) -> usize {
        let rows = match self.norm {
            NORM_NONE => 1,
            NORM_RMS => 2,
            _ => 3,
        };
        let element = if self.dt == dtype_code(DType::F32) {
            4
        } else {
            2
        };
        rows * self.k as usize * element
    }
}

pub(crate) fn run(
    backend: &CudaBackend,
    (norm, gated): (LinearNorm, bool),
    inputs: &[&Tensor],
    outputs: &[&Tensor],
) -> Result<()> {
    if !fused(backend, (norm, gated), inputs, outputs)? {
        linear_composed(inputs[0].device(), (norm, gated), inputs, outputs)?;
    }
    Ok(())
}

/// The device address of a dense vector's first element when it is 16-byte aligned (the
/// kernels read it in 16-byte vectors), or None.
pub(crate) fn vector_address(tensor: &Tensor) -> Result<Option<u64>> {
    if !tensor.layout().is_contiguous() {
        return Ok(None);
    }
    let offset = tensor.layout().offset() * tensor.dtype().block_bytes();
    let address = base_address(tensor)? + offset as u64;
    Ok(address.is_multiple_of(16).then_some(address))
}

/// Runs the fused kernel and returns true for one dense activation row and weights a kernel
/// takes; returns false, having done nothing, otherwise.
fn fused(
    backend: &CudaBackend,
    (norm, gated): (LinearNorm, bool),
    inputs: &[&Tensor],
    outputs: &[&Tensor],
) -> Result<bool> {
    let op = Op::Linear { norm, gated };
    let x = inputs[0];
    let k = x.shape()[x.rank() - 1];
    let weights = &inputs[inputs.len() - 1 - usize::from(gated)..];
    let (w, y) = (weights[0], outputs[outputs.len() - 1]);
    if x.numel() != k || k == 0 || !k.is_multiple_of(LINEAR_INPUT_CHUNK) || w.shape()[0] == 0 {
        return Ok(false);
    }
    let (residual, norm_weight, sum, norm_code, eps) = match norm {
        LinearNorm::None => (None, None, None, NORM_NONE, 0.0),
        LinearNorm::Rms { eps } => (None, Some(inputs[1]), None, NORM_RMS, eps),
        LinearNorm::AddRms { eps } => (
            Some(inputs[1]),
            Some(inputs[2]),
            Some(outputs[0]),
            NORM_ADD_RMS,
            eps,
        ),
    };
    // The kernel requests these two before it waits, when no running kernel writes them.
    let early = backend.readable_before_wait([residual, norm_weight].into_iter().flatten());
    let optional = |t: Option<&Tensor>| -> Result<Option<u64>> {
        match t {
            Some(t) => vector_address(t),
            None => Ok(Some(0)),
        }
    };
    let (Some(x_address), Some(residual), Some(norm_weight), Some(sum)) = (
        vector_address(x)?,
        optional(residual)?,
        optional(norm_weight)?,
        optional(sum)?,
    ) else {
        return Ok(false);
    };
    let input = LinearInputArg {
        x: x_address,
        residual,
        norm_weight,
        sum,
        k: k as i64,
        eps,
        norm: norm_code,
        dt: dtype_code(x.dtype()),
        early: i32::from(early),
    };
    let y_address = dense_address(y)?;
    if w.dtype().is_quantized() {
        if input.scratch_bytes() > DEFAULT_SHARED_BYTES {
            return Ok(false);
        }
        let up = gated.then(|| weights[1]);
        let same_rows = |a: &Tensor, b: &Tensor| a.layout().strides() == b.layout().strides();
        if up.is_some_and(|up| !same_rows(w, up)) {
            return Ok(false);
        }
        let rows = QmvWeightsArg::new(&op, w, up)?;
        let prefetch = backend.readable_before_wait(weights.iter().copied());
        linear_matvec(
            backend,
            w.dtype(),
            rows,
            &input,
            (y_address, y.dtype()),
            (gated, prefetch),
        )?;
        return Ok(true);
    }
    float_weights(backend, (&input, gated), weights, y_address)
}

/// `tl_linear_<dtype>[_gated]` over dense, 16-byte aligned float weights whose rows are whole
/// 16-byte vectors; false, having done nothing, for others.
fn float_weights(
    backend: &CudaBackend,
    (input, gated): (&LinearInputArg, bool),
    weights: &[&Tensor],
    y: u64,
) -> Result<bool> {
    let w = weights[0];
    let dtype = w.dtype();
    let element = dtype.block_bytes();
    let k = input.k as usize;
    let per_vector = 16 / element;
    let mut addresses = Vec::with_capacity(2);
    for weight in weights {
        let address = base_address(weight)? + (weight.layout().offset() * element) as u64;
        if !weight.is_contiguous() || !address.is_multiple_of(16) {
            return Ok(false);
        }
        addresses.push(address);
    }
    let shared_bytes = input.scratch_bytes();
    if !k.is_multiple_of(per_vector) || shared_bytes > DEFAULT_SHARED_BYTES {
        return Ok(false);
    }
    let (name, many_name) = match (dtype, gated) {
        (DType::F32, false) => ("tl_linear_f32", "tl_linear_f32_many"),
        (DType::F32, true) => ("tl_linear_f32_gated", "tl_linear_f32_gated_many"),
        (DType::F16, false) => ("tl_linear_f16", "tl_linear_f16_many"),
        (DType::F16, true) => ("tl_linear_f16_gated", "tl_linear_f16_gated_many"),
        (DType::BF16, false) => ("tl_linear_bf16", "tl_linear_bf16_many"),
        (DType::BF16, true) => ("tl_linear_bf16_gated", "tl_linear_bf16_gated_many"),
        _ => return Ok(false),
    };
    let n = w.shape()[0];
    let blocks = n.div_ceil(WARPS);
    // Many waves of blocks: as many blocks as the GPU holds at once, each warp taking every
    // G-th row, so that a block computes the input once for several rows (the output head:
    // on an H200, SmolLM2's 49152 rows took 44 us with a block every 8 rows, 24 us so).
    // (A multiprocessor holds at least one block: fewer blocks skip the occupancy query.)
    let mut launch = (name, blocks);
    if blocks >= MANY_WAVES * backend.sm_count as usize {
        let many = backend.function("matvec.cu", many_name)?;
        let resident = backend.resident_blocks(&many, WARPS as u32 * 32, shared_bytes)?;
        if blocks >= MANY_WAVES * resident {
            launch = (many_name, resident);
        }
    }
    let (f, blocks) = (backend.function("matvec.cu", launch.0)?, launch.1);
    let config = LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (WARPS as u32 * 32, 1, 1),
        shared_mem_bytes: shared_bytes as u32,
    };
    let (w_address, up_address) = (addresses[0], *addresses.last().expect("a weight"));
    let (vecs, n) = ((k / per_vector) as i64, n as i64);
    // Weights are read before the kernel waits for its predecessor, unless a kernel that
    // may still run then writes them.
    let prefetch = i32::from(backend.readable_before_wait(weights.iter().copied()));
    launch!(
        backend,
        f,
        config,
        input,
        &w_address,
        &up_address,
        &y,
        &vecs,
        &n,
        &prefetch
    )?;
    Ok(true)
}

/// Waves of one-row-a-warp blocks from which `tl_linear_*_many` takes over.
const MANY_WAVES: usize = 4;
