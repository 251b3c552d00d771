//! Copies to the host that the caller awaits later (`Backend::read_later`): the bytes land
//! in page-locked memory, so the copy is a stream operation like a kernel, and an event
//! marks its end.

use std::sync::{Arc, Mutex};

use cudarc::driver::{result, sys, CudaContext, CudaEvent, CudaStream, PinnedHostSlice};
use tl_tensor::{PendingRead, Result};

use crate::backend::driver_error;

/// Page-locked buffers of this many bytes are kept for reuse: freeing page-locked memory
/// may wait for the device, which would stall the work the caller keeps enqueued.
pub(crate) const POOLED_READ_BYTES: usize = 256;

/// Reusable page-locked buffers of `POOLED_READ_BYTES`.
pub(crate) type PinnedPool = Arc<Mutex<Vec<PinnedHostSlice<u8>>>>;

pub(crate) struct CudaPendingRead {
    /// Always `Some` until dropped.
    host: Option<PinnedHostSlice<u8>>,
    len: usize,
    copied: CudaEvent,
    pool: PinnedPool,
}

impl CudaPendingRead {
    /// Enqueues the copy of `len` bytes at device address `source` on `stream`.
    pub(crate) fn start(
        context: &Arc<CudaContext>,
        stream: &CudaStream,
        pool: &PinnedPool,
        source: sys::CUdeviceptr,
        len: usize,
    ) -> Result<CudaPendingRead> {
        let pooled = if len <= POOLED_READ_BYTES {
            pool.lock().unwrap_or_else(|e| e.into_inner()).pop()
        } else {
            None
        };
        let mut host = match pooled {
            Some(host) => host,
            // SAFETY: the bytes are written by the copy before anyone reads them.
            None => unsafe { context.alloc_pinned_with_flags::<u8>(len.max(POOLED_READ_BYTES), 0) }
                .map_err(driver_error)?,
        };
        let target = host.as_mut_slice().map_err(driver_error)?;
        if len > 0 {
            // SAFETY: `source` holds `len` bytes (the caller's check); the page-locked target
            // stays alive, and out of the pool, until the event says the copy is done.
            unsafe { result::memcpy_dtoh_async(&mut target[..len], source, stream.cu_stream()) }
                .map_err(driver_error)?;
        }
        let copied = stream.record_event(None).map_err(driver_error)?;
        Ok(CudaPendingRead {
            host: Some(host),
            len,
            copied,
            pool: pool.clone(),
        })
    }
}

impl PendingRead for CudaPendingRead {
    fn wait(self: Box<Self>) -> Result<Vec<u8>> {
        self.copied.synchronize().map_err(driver_error)?;
        self.copied.context().check_err().map_err(driver_error)?;
        let host = self.host.as_ref().expect("present until dropped");
        Ok(host.as_slice().map_err(driver_error)?[..self.len].to_vec())
    }
}

impl Drop for CudaPendingRead {
    fn drop(&mut self) {
        // The copy may still be writing the buffer: it goes back to the pool only after.
        if self.copied.synchronize().is_err() {
            return;
        }
        if let Some(host) = self.host.take() {
            if host.len() == POOLED_READ_BYTES {
                self.pool
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(host);
            }
        }
    }
}
