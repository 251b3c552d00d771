//! Launchers: token sampling and the repetition penalty, one block per row.

use cudarc::driver::LaunchConfig;
use tl_tensor::{Op, Result, Tensor, TensorError};

use crate::backend::CudaBackend;
use crate::launch::{base_address, dense_address, dtype_code};

const FILE: &str = "sample.cu";

/// Threads of a `tl_sample` block (`SAMPLE_THREADS` in kernels/sample.cu).
const SAMPLE_THREADS: u32 = 1024;

/// Threads of a `tl_repetition_penalty` block (`PENALTY_THREADS` in kernels/sample.cu).
const PENALTY_THREADS: u32 = 256;

/// Candidate keys are below 2^32 · vocab and must fit an i64.
const MAX_SAMPLE_VOCAB: usize = i32::MAX as usize;

pub(crate) fn run(
    backend: &CudaBackend,
    op: &Op,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let logits = inputs[0];
    let (rows, vocab) = (logits.shape()[0], logits.shape()[1]);
    if rows == 0 {
        return Ok(());
    }
    let (x_offset, x_row_stride, x_col_stride) = matrix_view(logits);
    let (x, dt, y) = (
        base_address(logits)?,
        dtype_code(logits.dtype()),
        dense_address(output)?,
    );
    let (rows_i, vocab_i) = (rows as i64, vocab as i64);
    match op {
        Op::Sample {
            temperature,
            top_k,
            top_p,
            min_p,
        } => {
            if vocab > MAX_SAMPLE_VOCAB {
                return Err(TensorError::bad_shape(
                    op.name(),
                    logits.shape(),
                    format!("the CUDA backend samples from at most {MAX_SAMPLE_VOCAB} tokens"),
                ));
            }
            if *temperature <= 0.0 && rows == 1 {
                return greedy_split(backend, (x, dt, x_offset, x_col_stride), y, vocab);
            }
            let uniform = inputs[1];
            let u = base_address(uniform)?;
            let (u_offset, u_stride) = (
                uniform.layout().offset() as i64,
                uniform.layout().strides()[0] as i64,
            );
            // 0 and anything >= vocab keep every token (the kernel's convention).
            let top_k = if *top_k >= vocab { 0 } else { *top_k as i64 };
            let (temperature, top_p, min_p) = (*temperature, *top_p, *min_p);
            // A draw passes over the row about 150 times: from shared memory when it fits.
            let row_bytes = vocab * std::mem::size_of::<f32>();
            // (The kernel's own reduction scratch takes the last KiB.)
            let cached = temperature > 0.0 && row_bytes + 1024 <= backend.max_shared_bytes;
            let shared_bytes = if cached { row_bytes } else { 0 };
            let config = LaunchConfig {
                shared_mem_bytes: shared_bytes as u32,
                ..row_blocks(backend, rows, SAMPLE_THREADS)
            };
            let f = backend.function_with_shared(FILE, "tl_sample", shared_bytes)?;
            let cached = i32::from(cached);
            launch!(
                backend,
                f,
                config,
                &x,
                &dt,
                &x_offset,
                &x_row_stride,
                &x_col_stride,
                &u,
                &u_offset,
                &u_stride,
                &y,
                &rows_i,
                &vocab_i,
                &temperature,
                &top_k,
                &top_p,
                &min_p,
                &cached
            )
        }
        Op::RepetitionPenalty { penalty } => {
            let tokens = inputs[1];
            let (t_offset, t_row_stride, t_col_stride) = matrix_view(tokens);
            let (t, tdt) = (base_address(tokens)?, dtype_code(tokens.dtype()));
            let n = tokens.shape()[1] as i64;
            let penalty = *penalty as f32;
            let config = row_blocks(backend, rows, PENALTY_THREADS);
            let f = backend.function(FILE, "tl_repetition_penalty")?;
            launch!(
                backend,
                f,
                config,
                &x,
                &dt,
                &x_offset,
                &x_row_stride,
                &x_col_stride,
                &t,
                &tdt,
                &t_offset,
                &t_row_stride,
                &t_col_stride,
                &y,
                &rows_i,
                &vocab_i,
                &n,
                &penalty
            )
        }
        _ => unreachable!("sample::run got {}", op.name()),
    }
}

/// Threads of a `tl_sample_greedy_split` block (`GREEDY_THREADS` in kernels/sample.cu).
const GREEDY_THREADS: u32 = 256;

/// Logits a `tl_sample_greedy_split` block takes: four a thread, one round of loads.
const GREEDY_SLICE: usize = 4 * GREEDY_THREADS as usize;

/// The greedy token of one row of logits, the row spread over a grid of blocks (a decode
/// step's sampler: one block took 10 µs of dependent load rounds over a 32,000-token row).
fn greedy_split(
    backend: &CudaBackend,
    (x, dt, x_offset, x_col_stride): (u64, i32, i64, i64),
    y: u64,
    vocab: usize,
) -> Result<()> {
    let blocks = vocab
        .div_ceil(GREEDY_SLICE)
        .clamp(1, super::GREEDY_MAX_BLOCKS);
    let config = LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (GREEDY_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    let f = backend.function(FILE, "tl_sample_greedy_split")?;
    let done = backend.greedy_scratch.device_address();
    let partials = done + 128;
    let vocab = vocab as i64;
    launch!(
        backend,
        f,
        config,
        &x,
        &dt,
        &x_offset,
        &x_col_stride,
        &y,
        &vocab,
        &partials,
        &done
    )
}

/// `(offset, row stride, column stride)` of a 2-D view, in elements.
fn matrix_view(tensor: &Tensor) -> (i64, i64, i64) {
    let layout = tensor.layout();
    (
        layout.offset() as i64,
        layout.strides()[0] as i64,
        layout.strides()[1] as i64,
    )
}

/// One block of `threads` per row, rows grid-strided beyond the useful block count.
fn row_blocks(backend: &CudaBackend, rows: usize, threads: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (rows.clamp(1, backend.max_blocks() as usize) as u32, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}
