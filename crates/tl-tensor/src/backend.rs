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
/// that overlap no input (except `IndexCopy`, whose output may be its destination input
/// itself: then only the copied slices are written), with the shapes and dtypes the
/// signature gives. A backend writes
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
    /// Starts copying `len` bytes starting at `byte_offset` to the host once the work
    /// enqueued so far is done, without waiting for it: work enqueued later may overwrite the
    /// buffer and run while the copy is awaited. The CPU, which runs ops as they come, just
    /// reads.
    fn read_later(
        &self,
        buffer: &Buffer,
        byte_offset: usize,
        len: usize,
    ) -> Result<Box<dyn PendingRead>> {
        Ok(Box::new(ReadDone(self.read(buffer, byte_offset, len)?)))
    }
    fn execute(&self, op: &Op, inputs: &[&Tensor], outputs: &[&Tensor]) -> Result<()>;
    /// Waits until every enqueued op has finished.
    fn synchronize(&self) -> Result<()>;

    /// Runs `work` where this backend's ops are cheapest to issue from. The CPU backend runs
    /// it on one of its own worker threads, so each op's parallel loop starts there instead
    /// of handing over from a foreign thread and blocking on a latch; others just call it.
    fn run_scoped(&self, work: &mut (dyn FnMut() + Send)) {
        work()
    }

    /// Starts recording the ops issued from now on into a replayable graph instead of
    /// running them. Returns false, changing nothing, when this backend cannot record.
    fn begin_capture(&self) -> Result<bool> {
        Ok(false)
    }

    /// Stops recording and returns the recorded work. Buffers allocated while recording are
    /// kept alive by the recording (and by the tensors that use them), at fixed addresses.
    fn end_capture(&self) -> Result<Box<dyn Replay>> {
        Err(crate::error::TensorError::Backend {
            backend: self.name(),
            detail: "this backend does not record graphs".into(),
        })
    }
}

/// Work recorded by [`Backend::begin_capture`] … [`Backend::end_capture`], replayed as a
/// whole: the same kernels on the same buffers, whatever those buffers hold now.
pub trait Replay: Send + Sync {
    /// Enqueues the recorded work once more.
    fn replay(&self) -> Result<()>;
}

/// A copy to the host started by [`Backend::read_later`].
pub trait PendingRead: Send {
    /// Waits for the copy and returns the bytes.
    fn wait(self: Box<Self>) -> Result<Vec<u8>>;
}

/// A read that was done when it was asked for.
struct ReadDone(Vec<u8>);

impl PendingRead for ReadDone {
    fn wait(self: Box<Self>) -> Result<Vec<u8>> {
        Ok(self.0)
    }
}
