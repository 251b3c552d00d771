//! Launchers: full, arange, rand_uniform, rand_normal.

use tl_tensor::{Op, Result, Tensor};

use crate::backend::CudaBackend;
use crate::launch::{dense_address, dtype_code, grid};

pub(crate) fn run(backend: &CudaBackend, op: &Op, output: &Tensor) -> Result<()> {
    let n = output.numel();
    if n == 0 {
        return Ok(());
    }
    let (y, dt, count) = (dense_address(output)?, dtype_code(output.dtype()), n as i64);
    let config = grid(n, backend.max_blocks());
    match op {
        Op::Full { value, .. } => {
            let f = backend.function("creation.cu", "tl_full")?;
            launch!(backend, f, config, &y, &dt, value, &count)
        }
        Op::Arange { start, step, .. } => {
            let f = backend.function("creation.cu", "tl_arange")?;
            launch!(backend, f, config, &y, &dt, start, step, &count)
        }
        Op::RandUniform {
            low, high, seed, ..
        } => {
            let f = backend.function("creation.cu", "tl_rand_uniform")?;
            launch!(backend, f, config, &y, &dt, low, high, seed, &count)
        }
        Op::RandNormal {
            mean, std, seed, ..
        } => {
            let f = backend.function("creation.cu", "tl_rand_normal")?;
            launch!(backend, f, config, &y, &dt, mean, std, seed, &count)
        }
        _ => unreachable!("creation::run got {}", op.name()),
    }
}
