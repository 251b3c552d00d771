//! TensorLogic's tensor runtime: dtypes, strided layouts, tensors on passed-around devices,
//! the closed op set, the `Backend` trait, the CPU backend and the naive reference.
//!
//! The README's example runs as a doctest of this crate:
#![doc = include_str!("../../../README.md")]

pub mod backend;
pub mod buffer;
pub mod cpu;
pub mod device;
pub mod dtype;
pub mod error;
pub mod host_element;
pub mod layout;
pub mod linear;
pub mod op;
pub mod quant;
pub mod random;
pub mod reference;
pub mod rope_attention;
pub mod signature;
pub mod tensor;
mod tensor_ops;

pub use backend::{Backend, DeviceKind, PendingRead, Replay};
pub use buffer::{Buffer, DeviceBuffer};
pub use device::{Device, Recording};
pub use dtype::DType;
pub use error::{Result, TensorError};
pub use host_element::HostElement;
pub use layout::Layout;
pub use linear::linear_composed;
pub use op::{
    ArgReduceOp, BagMode, BinaryOp, CompareOp, LinearNorm, Op, ReduceOp, RopeStyle, UnaryOp,
};
pub use rope_attention::rope_attention_composed;
pub use signature::TensorSpec;
pub use tensor::{PendingVec, Tensor};

pub use half::{bf16, f16};
