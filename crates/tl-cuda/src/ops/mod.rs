//! Host-side launchers of the CUDA kernels, one file per op group.

/// Launches kernel `$function` with a config and arguments (references to values whose C
/// layout matches the kernel's parameters). Every kernel calls `tl_wait_for_predecessor()`
/// before it touches memory an earlier kernel writes or reads, so where the device allows it
/// starts while its predecessor finishes (see `launch::launch_dependent`).
macro_rules! launch {
    ($backend:expr, $function:expr, $config:expr, $($arg:expr),+ $(,)?) => {{
        let mut params: Vec<*mut std::ffi::c_void> =
            vec![$( ($arg) as *const _ as *mut std::ffi::c_void ),+];
        // SAFETY: each launcher passes arguments matching its kernel's C signature (the
        // driver copies them before this returns), addresses of live buffers, and views that
        // the signature check keeps inside them.
        unsafe { $crate::launch::launch_dependent($backend, &$function, $config, &mut params) }
    }};
}

/// The most blocks a greedy sampler spreads one row over (`tl_sample_greedy_split`).
pub(crate) const GREEDY_MAX_BLOCKS: usize = 128;

mod copy;
mod creation;
mod elementwise;
mod index;
mod linear;
mod matmul;
mod matvec;
mod nn;
mod quant;
mod reduce;
mod sample;

use tl_tensor::{Op, Result, Tensor, TensorError};

use crate::backend::CudaBackend;

pub(crate) fn execute(
    backend: &CudaBackend,
    op: &Op,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
) -> Result<()> {
    match op {
        Op::Full { .. } | Op::Arange { .. } | Op::RandUniform { .. } | Op::RandNormal { .. } => {
            creation::run(backend, op, outputs[0])
        }
        Op::Contiguous | Op::Cast { .. } | Op::Concat { .. } => {
            copy::run(backend, op, inputs, outputs[0])
        }
        Op::Unary(_) | Op::Affine { .. } | Op::Binary(_) | Op::Compare(_) | Op::Where => {
            elementwise::run(backend, op, inputs, outputs[0])
        }
        Op::Reduce { .. } | Op::ArgReduce { .. } => reduce::run(backend, op, inputs, outputs[0]),
        Op::MatMul { .. } => matmul::run(backend, op, inputs, outputs[0]),
        Op::IndexSelect { .. }
        | Op::Gather { .. }
        | Op::ScatterAdd { .. }
        | Op::IndexAdd { .. }
        | Op::IndexCopy { .. }
        | Op::EmbeddingBag { .. } => index::run(backend, op, inputs, outputs[0]),
        Op::Softmax { .. }
        | Op::LogSoftmax { .. }
        | Op::RmsNorm { .. }
        | Op::AddRmsNorm { .. }
        | Op::LayerNorm { .. }
        | Op::Rope { .. }
        | Op::SwiGlu
        | Op::Attention { .. }
        | Op::RopeAttention { .. } => nn::run(backend, op, inputs, outputs),
        Op::Dequantize { .. } | Op::Quantize { .. } | Op::QMatMul => {
            quant::run(backend, op, inputs, outputs[0])
        }
        Op::Linear { norm, gated } => linear::run(backend, (*norm, *gated), inputs, outputs),
        Op::Sample { .. } | Op::RepetitionPenalty { .. } => {
            sample::run(backend, op, inputs, outputs[0])
        }
        other => Err(TensorError::Backend {
            backend: "cuda".into(),
            detail: format!("{} has no CUDA kernel yet", other.name()),
        }),
    }
}
