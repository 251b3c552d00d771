//! Launchers: reductions (two passes through f64 partials) and argmax/argmin.

use cudarc::driver::LaunchConfig;
use tl_tensor::{ArgReduceOp, Layout, Op, ReduceOp, Result, Tensor};

use crate::backend::CudaBackend;
use crate::buffer::CudaBuffer;
use crate::launch::{base_address, dense_address, dtype_code, grid, StridedArg, BLOCK};

/// Views of the kept axes (with the input's offset) and of the reduced axes (offset 0).
fn split_views(
    input: &Tensor,
    reduced: &[usize],
) -> Result<(StridedArg, StridedArg, usize, usize)> {
    let layout = input.layout();
    let pick = |keep: bool| -> (Vec<usize>, Vec<usize>) {
        (0..layout.rank())
            .filter(|axis| reduced.contains(axis) != keep)
            .map(|axis| (layout.shape()[axis], layout.strides()[axis]))
            .unzip()
    };
    let (kept_shape, kept_strides) = pick(true);
    let (red_shape, red_strides) = pick(false);
    let (n_out, n_red) = (kept_shape.iter().product(), red_shape.iter().product());
    let kept = Layout::from_parts(kept_shape, kept_strides, layout.offset())?;
    let red = Layout::from_parts(red_shape, red_strides, 0)?;
    Ok((
        StridedArg::new("reduce", &kept)?,
        StridedArg::new("reduce", &red)?,
        n_out,
        n_red,
    ))
}

fn reduce_code(op: ReduceOp) -> i32 {
    ReduceOp::ALL.iter().position(|&r| r == op).expect("listed") as i32
}

pub(crate) fn run(
    backend: &CudaBackend,
    op: &Op,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let input = inputs[0];
    let (x, dt, y) = (
        base_address(input)?,
        dtype_code(input.dtype()),
        dense_address(output)?,
    );
    match op {
        Op::Reduce {
            op: reduce, axes, ..
        } => {
            let (kept, red, n_out, n_red) = split_views(input, axes)?;
            if n_out == 0 {
                return Ok(());
            }
            // Enough (output, chunk) blocks to fill the GPU, chunks of at least 2048 items.
            let wanted_blocks = backend.sm_count as usize * 4;
            let chunks = if n_out >= wanted_blocks {
                1
            } else {
                wanted_blocks
                    .div_ceil(n_out)
                    .min(n_red.div_ceil(2048))
                    .max(1)
            };
            let chunk_len = n_red.div_ceil(chunks).max(1) as i64;
            let partial = backend_partials(backend, n_out * chunks)?;
            let code = reduce_code(*reduce);
            let (n_out_i, n_red_i, chunks_i) = (n_out as i64, n_red as i64, chunks as i64);
            let blocks = (n_out * chunks).min(backend.max_blocks() as usize * 4) as u32;
            let config = LaunchConfig {
                grid_dim: (blocks.max(1), 1, 1),
                block_dim: (BLOCK, 1, 1),
                shared_mem_bytes: 0,
            };
            let f = backend.function("reduce.cu", "tl_reduce_partial")?;
            let p = partial.device_address();
            launch!(
                backend, f, config, &code, &kept, &red, &x, &dt, &p, &n_out_i, &n_red_i, &chunks_i,
                &chunk_len
            )?;
            let f = backend.function("reduce.cu", "tl_reduce_final")?;
            launch!(
                backend,
                f,
                grid(n_out, backend.max_blocks()),
                &code,
                &p,
                &y,
                &dt,
                &n_out_i,
                &chunks_i,
                &n_red_i
            )
        }
        Op::ArgReduce { op: arg, axis, .. } => {
            let (kept, red, n_out, n_red) = split_views(input, &[*axis])?;
            if n_out == 0 {
                return Ok(());
            }
            let is_max = i32::from(*arg == ArgReduceOp::ArgMax);
            let (n_out_i, n_red_i) = (n_out as i64, n_red as i64);
            let config = LaunchConfig {
                grid_dim: (n_out.min(65_535) as u32, 1, 1),
                block_dim: (BLOCK, 1, 1),
                shared_mem_bytes: 0,
            };
            let f = backend.function("reduce.cu", "tl_arg_reduce")?;
            launch!(backend, f, config, &is_max, &kept, &red, &x, &dt, &y, &n_out_i, &n_red_i)
        }
        _ => unreachable!("reduce::run got {}", op.name()),
    }
}

/// Scratch for `count` accumulator pairs (two f64 each); freed in stream order on drop.
fn backend_partials(backend: &CudaBackend, count: usize) -> Result<CudaBuffer> {
    // Every slot is written by the partial pass before the final pass reads it.
    backend.scratch((count * 16).max(16))
}
