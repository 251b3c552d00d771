//! Device memory of the CUDA backend: stream-ordered pool allocations, and the fixed
//! allocations made while a graph is being recorded, which the graph and its tensors share.

use std::any::Any;
use std::sync::{Arc, Mutex};

use cudarc::driver::{sys, CudaContext, CudaSlice, DevicePtr};
use tl_tensor::DeviceBuffer;

/// Whether a graph is being recorded, and what must outlive the recording step.
#[derive(Debug, Default)]
pub(crate) struct CaptureState {
    recording: Mutex<Option<Recorded>>,
}

/// What a recording in progress holds on to.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// Memory allocated while recording: the graph's kernels use these addresses.
    pub(crate) memory: Vec<Arc<GraphMemory>>,
    /// Pool buffers dropped while recording: freeing them would be recorded as a graph node
    /// (and is not allowed for memory from outside the graph), so they wait until the end.
    pub(crate) deferred: Vec<CudaSlice<u8>>,
}

impl CaptureState {
    pub(crate) fn is_recording(&self) -> bool {
        self.recording.lock().expect("capture state").is_some()
    }

    pub(crate) fn begin(&self) {
        *self.recording.lock().expect("capture state") = Some(Recorded::default());
    }

    pub(crate) fn end(&self) -> Recorded {
        self.recording
            .lock()
            .expect("capture state")
            .take()
            .unwrap_or_default()
    }

    /// Runs `f` on the recording in progress, if any.
    pub(crate) fn with_recording<R>(&self, f: impl FnOnce(&mut Recorded) -> R) -> Option<R> {
        self.recording
            .lock()
            .expect("capture state")
            .as_mut()
            .map(f)
    }
}

/// A plain `cuMemAlloc` allocation, freed when the last of the graph and its tensors lets go.
#[derive(Debug)]
pub(crate) struct GraphMemory {
    address: sys::CUdeviceptr,
    context: Arc<CudaContext>,
}

impl GraphMemory {
    pub(crate) fn new(context: &Arc<CudaContext>, bytes: usize) -> Result<Self, String> {
        context.bind_to_thread().map_err(|e| e.to_string())?;
        let mut address: sys::CUdeviceptr = 0;
        // SAFETY: a plain allocation on the bound context; freed exactly once in `drop`.
        unsafe { sys::cuMemAlloc_v2(&mut address, bytes.max(1)).result() }
            .map_err(|e| e.to_string())?;
        Ok(GraphMemory {
            address,
            context: context.clone(),
        })
    }
}

impl Drop for GraphMemory {
    fn drop(&mut self) {
        if self.context.bind_to_thread().is_ok() {
            // SAFETY: allocated by `new`; no recording or tensor refers to it any more.
            let freed = unsafe { sys::cuMemFree_v2(self.address).result() };
            self.context.record_err(freed);
        }
    }
}

#[derive(Debug)]
enum Memory {
    Pooled(Option<CudaSlice<u8>>),
    Recorded(Arc<GraphMemory>),
}

#[derive(Debug)]
pub struct CudaBuffer {
    memory: Memory,
    bytes: usize,
    capture: Arc<CaptureState>,
}

impl CudaBuffer {
    pub(crate) fn pooled(slice: CudaSlice<u8>, capture: &Arc<CaptureState>) -> CudaBuffer {
        CudaBuffer {
            bytes: slice.len(),
            memory: Memory::Pooled(Some(slice)),
            capture: capture.clone(),
        }
    }

    pub(crate) fn recorded(
        memory: Arc<GraphMemory>,
        bytes: usize,
        capture: &Arc<CaptureState>,
    ) -> CudaBuffer {
        CudaBuffer {
            memory: Memory::Recorded(memory),
            bytes,
            capture: capture.clone(),
        }
    }

    /// The raw device address of byte 0.
    pub fn device_address(&self) -> u64 {
        match &self.memory {
            Memory::Pooled(Some(slice)) => {
                // Event tracking is off in this backend, so the guard does nothing.
                let (ptr, _guard) = slice.device_ptr(slice.stream());
                ptr
            }
            Memory::Pooled(None) => 0,
            Memory::Recorded(memory) => memory.address,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }
}

impl Drop for CudaBuffer {
    fn drop(&mut self) {
        if let Memory::Pooled(slice) = &mut self.memory {
            if let Some(slice) = slice.take() {
                // While recording, the stream-ordered free would become part of the graph,
                // so the slice waits in the recording; otherwise the closure is dropped
                // uncalled and the slice with it, freeing it in stream order now.
                self.capture
                    .with_recording(|recorded| recorded.deferred.push(slice));
            }
        }
    }
}

impl DeviceBuffer for CudaBuffer {
    fn byte_len(&self) -> usize {
        self.bytes
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
