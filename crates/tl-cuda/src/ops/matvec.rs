//! Launcher: the batch-1 decoding product `x · wᵀ` for a few rows of `x` (kernels/matvec.cu),
//! taken by `MatMul` instead of cuBLAS when its shapes and layouts allow.

use cudarc::driver::LaunchConfig;
use tl_tensor::{DType, Result, Tensor};

use crate::backend::CudaBackend;
use crate::launch::{base_address, dense_address};

const FILE: &str = "matvec.cu";

/// Rows of `x` one launch handles (the kernels' largest R).
const MAX_ROWS: usize = 4;

/// Warps per block: `MV_WARPS` in kernels/matvec.cu.
const WARPS: usize = 8;

/// 16-byte loads a lane has in flight: `MV_UNROLL` in kernels/matvec.cu.
const BATCH: usize = 8;

/// Runs `output = lhs · rhsᵀ` with the matvec kernel and returns true when `lhs` is at most
/// four dense rows and `rhs` a dense `[n, k]` matrix, both 16-byte aligned with `k` a whole
/// number of 16-byte vectors; returns false, having done nothing, otherwise.
pub(crate) fn try_run(
    backend: &CudaBackend,
    lhs: &Tensor,
    rhs: &Tensor,
    transpose_lhs: bool,
    transpose_rhs: bool,
    output: &Tensor,
) -> Result<bool> {
    let dtype = lhs.dtype();
    let k = lhs.shape().last().copied().unwrap_or(0);
    let rows = lhs.numel() / k.max(1);
    let per_vector = 16 / dtype.block_bytes();
    let usable = !transpose_lhs
        && transpose_rhs
        && rhs.rank() == 2
        && rhs.shape()[1] == k
        && (1..=MAX_ROWS).contains(&rows)
        && output.numel() == rows * rhs.shape()[0]
        && lhs.is_contiguous()
        && rhs.is_contiguous()
        && k > 0
        && k.is_multiple_of(per_vector)
        && matches!(dtype, DType::F32 | DType::F16 | DType::BF16);
    if !usable {
        return Ok(false);
    }
    let element = dtype.block_bytes() as u64;
    let x = base_address(lhs)? + lhs.layout().offset() as u64 * element;
    let w = base_address(rhs)? + rhs.layout().offset() as u64 * element;
    if !x.is_multiple_of(16) || !w.is_multiple_of(16) {
        return Ok(false);
    }
    let y = dense_address(output)?;
    let n = rhs.shape()[0];
    let name = match (dtype, rows) {
        (DType::F32, 1) => "tl_matvec_f32_r1",
        (DType::F32, 2) => "tl_matvec_f32_r2",
        (DType::F32, 3) => "tl_matvec_f32_r3",
        (DType::F32, _) => "tl_matvec_f32_r4",
        (DType::F16, 1) => "tl_matvec_f16_r1",
        (DType::F16, 2) => "tl_matvec_f16_r2",
        (DType::F16, 3) => "tl_matvec_f16_r3",
        (DType::F16, _) => "tl_matvec_f16_r4",
        (_, 1) => "tl_matvec_bf16_r1",
        (_, 2) => "tl_matvec_bf16_r2",
        (_, 3) => "tl_matvec_bf16_r3",
        (_, _) => "tl_matvec_bf16_r4",
    };
    let f = backend.function(FILE, name)?;
    let vecs = (k / per_vector) as i64;
    let split = split(vecs as usize);
    let config = LaunchConfig {
        grid_dim: ((n * split).div_ceil(WARPS) as u32, 1, 1),
        block_dim: (WARPS as u32 * 32, 1, 1),
        shared_mem_bytes: 0,
    };
    let (x_row_vecs, n, split) = (vecs, n as i64, split as i32);
    // Weights are read before the kernel waits for its predecessor, unless a kernel that
    // may still run then writes them.
    let prefetch = i32::from(!backend.may_be_written_in_flight(rhs));
    launch!(
        backend,
        f,
        config,
        &x,
        &x_row_vecs,
        &w,
        &y,
        &vecs,
        &n,
        &prefetch,
        &split
    )?;
    Ok(true)
}

/// Warps that share a weight row of `vecs` 16-byte vectors: the fewest (a power of two up to
/// a block's `WARPS`) that leave each at most two batches of loads a lane. A warp waits for
/// one batch before it sends the next, and a single wave of one-row warps sends them all in
/// step, so memory idles between batches; on an H200, TinyLlama's down projection (704
/// vectors a row) decodes 1003-1023 -> 1133 tok/s with two warps a row, 1091 with four, and
/// splitting the 256-vector rows of its other products costs 2-3%.
fn split(vecs: usize) -> usize {
    let per_warp = 2 * 32 * BATCH;
    let mut split = 1;
    while split < WARPS && vecs > split * per_warp {
        split *= 2;
    }
    split
}
