//! Device memory of the CUDA backend: a stream-ordered allocation freed on its stream.

use std::any::Any;

use cudarc::driver::{CudaSlice, DevicePtr};
use tl_tensor::DeviceBuffer;

#[derive(Debug)]
pub struct CudaBuffer {
    pub(crate) slice: CudaSlice<u8>,
}

impl CudaBuffer {
    /// The raw device address of byte 0.
    pub fn device_address(&self) -> u64 {
        // Event tracking is off in this backend, so the guard does nothing.
        let (ptr, _guard) = self.slice.device_ptr(self.slice.stream());
        ptr
    }
}

impl DeviceBuffer for CudaBuffer {
    fn byte_len(&self) -> usize {
        self.slice.len()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
