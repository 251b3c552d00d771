//! CPU kernels: index ops (to be written by the owner of this group).

use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::tensor::Tensor;

pub(crate) fn run(op: &Op, _inputs: &[&Tensor], _output: &Tensor) -> Result<()> {
    Err(TensorError::Backend {
        backend: "cpu".into(),
        detail: format!("{} has no CPU kernel yet", op.name()),
    })
}
