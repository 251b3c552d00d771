//! The CUDA backend of TensorLogic.
