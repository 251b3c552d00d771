//! Errors of the CUDA backend, and their conversion into `TensorError`.

use tl_tensor::TensorError;

#[derive(Debug, thiserror::Error)]
pub enum CudaError {
    #[error("CUDA is not available: {what} (hint: {hint})")]
    Unavailable { what: String, hint: String },
    #[error("CUDA driver call failed: {0}")]
    Driver(String),
    #[error("NVRTC could not compile kernel file `{file}` for {arch}:\n{log}")]
    Compile {
        file: String,
        arch: String,
        log: String,
    },
    #[error("cuBLAS call failed: {0}")]
    Blas(String),
    #[error("no CUDA device with ordinal {ordinal} ({count} present)")]
    NoSuchDevice { ordinal: usize, count: usize },
    #[error("could not write kernel timelines to {path}: {detail}")]
    Timelines { path: String, detail: String },
}

impl From<cudarc::driver::DriverError> for CudaError {
    fn from(e: cudarc::driver::DriverError) -> Self {
        CudaError::Driver(e.to_string())
    }
}

impl From<cudarc::cublas::result::CublasError> for CudaError {
    fn from(e: cudarc::cublas::result::CublasError) -> Self {
        CudaError::Blas(format!("{e:?}"))
    }
}

impl From<CudaError> for TensorError {
    fn from(e: CudaError) -> Self {
        TensorError::Backend {
            backend: "cuda".into(),
            detail: e.to_string(),
        }
    }
}

pub type Result<T, E = CudaError> = std::result::Result<T, E>;
