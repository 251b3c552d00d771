//! Reference: nn ops (to be written by the owner of this group).

use super::HostTensor;
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::signature::TensorSpec;

pub(super) fn evaluate(
    op: &Op,
    _inputs: &[HostTensor],
    _specs: &[TensorSpec],
) -> Result<Vec<HostTensor>> {
    Err(TensorError::bad_argument(op.name(), "has no reference yet"))
}
