//! The `Backend` trait: what a device must provide to run every op.

use std::fmt::Debug;

use crate::buffer::Buffer;
use crate::error::Result;
use crate::op::Op;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

/// A device that stores buffers and executes ops.
///
/// Contract for [`Backend::execute`]: the op is not a view op; inputs are valid for it
/// (checked by [`crate::signature::output_specs`]) and live on this backend, with any
/// strides; outputs are contiguous views (possibly at an offset) of buffers on this backend
/// that overlap no input, with the shapes and dtypes the signature gives. A backend writes
/// every output element and nothing outside the outputs. Execution may be asynchronous;
/// [`Backend::read`] waits for pending work.
pub trait Backend: Send + Sync + Debug {
    /// Human-readable device name, such as `cpu (2 threads)`.
    fn name(&self) -> String;
    fn kind(&self) -> DeviceKind;
    /// A buffer of `bytes` bytes with unspecified contents.
    fn alloc(&self, bytes: usize) -> Result<Buffer>;
    /// A new buffer holding a copy of `bytes`.
    fn upload(&self, bytes: &[u8]) -> Result<Buffer>;
    /// Overwrites `bytes.len()` bytes of `buffer` starting at `byte_offset`.
    fn write(&self, buffer: &Buffer, byte_offset: usize, bytes: &[u8]) -> Result<()>;
    /// Copies `len` bytes starting at `byte_offset` to the host, after pending work.
    fn read(&self, buffer: &Buffer, byte_offset: usize, len: usize) -> Result<Vec<u8>>;
    fn execute(&self, op: &Op, inputs: &[&Tensor], outputs: &[&Tensor]) -> Result<()>;
    /// Waits until every enqueued op has finished.
    fn synchronize(&self) -> Result<()>;

    /// Runs `work` where this backend's ops are cheapest to issue from. The CPU backend runs
    /// it on one of its own worker threads, so each op's parallel loop starts there instead
    /// of handing over from a foreign thread and blocking on a latch; others just call it.
    fn run_scoped(&self, work: &mut (dyn FnMut() + Send)) {
        work()
    }
}
