//! The error type of the tensor runtime: every failure names the op and the shapes involved.

use crate::DType;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TensorError {
    #[error("{op}: shapes {lhs:?} and {rhs:?} cannot be broadcast together")]
    Broadcast {
        op: String,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
    },
    #[error("{op}: shape mismatch between {lhs:?} and {rhs:?}: {detail}")]
    ShapeMismatch {
        op: String,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
        detail: String,
    },
    #[error("{op}: axis {axis} is out of range for a tensor of rank {rank}")]
    BadAxis {
        op: String,
        axis: isize,
        rank: usize,
    },
    #[error("{op}: {detail} (shape {shape:?})")]
    BadShape {
        op: String,
        shape: Vec<usize>,
        detail: String,
    },
    #[error("{op}: dtype {dtype} is not supported{detail}")]
    UnsupportedDType {
        op: String,
        dtype: DType,
        detail: String,
    },
    #[error("{op}: dtypes {lhs} and {rhs} differ; cast one of them first")]
    DTypeMismatch { op: String, lhs: DType, rhs: DType },
    #[error("{op}: expected {expected} input(s), got {got}")]
    Arity {
        op: String,
        expected: usize,
        got: usize,
    },
    #[error("{op}: {detail}")]
    BadArgument { op: String, detail: String },
    #[error("{op}: index {index} is out of range for an axis of size {size}")]
    IndexOutOfRange { op: String, index: i64, size: usize },
    #[error("tensors live on different devices ({lhs} and {rhs}); move one first")]
    DeviceMismatch { lhs: String, rhs: String },
    #[error("cannot allocate {bytes} bytes on {device}: {detail}")]
    Allocation {
        device: String,
        bytes: usize,
        detail: String,
    },
    #[error("{backend} backend: {detail}")]
    Backend { backend: String, detail: String },
    #[error("host data has {got} bytes but shape {shape:?} of {dtype} needs {expected}")]
    HostDataSize {
        shape: Vec<usize>,
        dtype: DType,
        expected: usize,
        got: usize,
    },
}

pub type Result<T, E = TensorError> = std::result::Result<T, E>;

impl TensorError {
    pub fn bad_argument(op: impl Into<String>, detail: impl Into<String>) -> Self {
        TensorError::BadArgument {
            op: op.into(),
            detail: detail.into(),
        }
    }

    pub fn bad_shape(op: impl Into<String>, shape: &[usize], detail: impl Into<String>) -> Self {
        TensorError::BadShape {
            op: op.into(),
            shape: shape.to_vec(),
            detail: detail.into(),
        }
    }

    pub fn unsupported_dtype(op: impl Into<String>, dtype: DType) -> Self {
        TensorError::UnsupportedDType {
            op: op.into(),
            dtype,
            detail: String::new(),
        }
    }
}
