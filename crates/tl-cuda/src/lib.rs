//! The CUDA backend of TensorLogic: one context and compute stream per device, stream-ordered
//! memory, kernels in `kernels/*.cu` compiled at run time by NVRTC and cached on disk, and
//! cuBLAS for GEMM. Everything is loaded dynamically: the crate builds and its users run on
//! machines without CUDA, where [`cuda_device`] returns an error instead of panicking.

pub mod availability;
mod backend;
mod buffer;
pub mod compile;
pub mod error;
pub mod kernel_sources;
mod kernel_timeline;
mod launch;
mod ops;
mod pending_read;

use std::sync::Arc;

pub use backend::CudaBackend;
pub use buffer::CudaBuffer;
pub use error::CudaError;
use tl_tensor::Device;

/// A `Device` on CUDA device `ordinal`, or why there is none.
pub fn cuda_device(ordinal: usize) -> Result<Device, CudaError> {
    Ok(Device::new(Arc::new(CudaBackend::new(ordinal)?)))
}
