//! Device memory as an opaque, reference-counted handle that each backend downcasts.

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

/// Memory owned by one backend. Backends define their own buffer type and recover it from a
/// [`Buffer`] with [`Buffer::downcast`].
pub trait DeviceBuffer: Any + Send + Sync + Debug {
    fn byte_len(&self) -> usize;
    fn as_any(&self) -> &dyn Any;
}

/// A shared handle to device memory; clones share the memory.
#[derive(Clone, Debug)]
pub struct Buffer(Arc<dyn DeviceBuffer>);

impl Buffer {
    pub fn new(inner: impl DeviceBuffer) -> Self {
        Buffer(Arc::new(inner))
    }

    pub fn byte_len(&self) -> usize {
        self.0.byte_len()
    }

    pub fn downcast<T: DeviceBuffer>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }

    /// Whether two handles refer to the same memory.
    pub fn same_memory(&self, other: &Buffer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
