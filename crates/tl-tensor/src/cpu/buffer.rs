//! CPU memory: 64-byte-aligned owned bytes (recycled through a per-backend pool), or a
//! read-only window of a memory-mapped file.

use std::any::Any;
use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::buffer::DeviceBuffer;
use crate::error::{Result, TensorError};

/// One cache line; keeps every element type and SIMD load aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

enum Storage {
    Owned {
        lines: UnsafeCell<Vec<Line>>,
        len: usize,
        /// Where the memory goes back to when the buffer is dropped.
        pool: Option<Arc<BufferPool>>,
    },
    Mapped {
        map: Arc<memmap2::Mmap>,
        start: usize,
        len: usize,
    },
}

/// Freed owned memory kept for reuse by size, so an op in a loop gets warm, already-mapped
/// pages instead of a fresh allocation the kernel must fault in and zero (which cost more
/// than the op itself for large streaming ops).
#[derive(Default)]
pub struct BufferPool {
    free: Mutex<PoolState>,
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.free.lock().map(|s| s.pooled_bytes).unwrap_or(0);
        write!(f, "BufferPool({bytes} bytes free)")
    }
}

#[derive(Default)]
struct PoolState {
    by_lines: HashMap<usize, Vec<Vec<Line>>>,
    pooled_bytes: usize,
}

/// Most memory the pool keeps; beyond it freed buffers go back to the system.
const POOL_LIMIT_BYTES: usize = 1 << 30;

impl BufferPool {
    fn take(&self, lines: usize) -> Option<Vec<Line>> {
        let mut state = self.free.lock().ok()?;
        let found = state.by_lines.get_mut(&lines)?.pop()?;
        state.pooled_bytes -= lines * 64;
        Some(found)
    }

    fn give(&self, lines: Vec<Line>) {
        let bytes = lines.len() * 64;
        if let Ok(mut state) = self.free.lock() {
            if state.pooled_bytes + bytes <= POOL_LIMIT_BYTES {
                state.pooled_bytes += bytes;
                state.by_lines.entry(lines.len()).or_default().push(lines);
            }
        }
    }
}

/// A CPU buffer. Owned buffers are written through [`CpuBuffer::bytes_mut`] by the op that
/// produces them; the `Backend` contract (outputs overlap no input and are owned by the op
/// being run) is what makes that sound.
pub struct CpuBuffer {
    storage: Storage,
}

// SAFETY: the only interior mutation is `bytes_mut`, whose callers uphold the backend
// contract: no two threads write the same bytes and nothing reads bytes being written.
unsafe impl Sync for CpuBuffer {}
unsafe impl Send for CpuBuffer {}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        if let Storage::Owned {
            lines,
            pool: Some(pool),
            ..
        } = &mut self.storage
        {
            pool.give(std::mem::take(lines.get_mut()));
        }
    }
}

impl fmt::Debug for CpuBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.storage {
            Storage::Owned { len, .. } => write!(f, "CpuBuffer(owned, {len} bytes)"),
            Storage::Mapped { len, .. } => write!(f, "CpuBuffer(mapped, {len} bytes)"),
        }
    }
}

impl CpuBuffer {
    /// Memory of `len` bytes with unspecified (but initialised) contents, reused from
    /// `pool` when it holds a buffer of the same size.
    pub fn pooled(pool: &Arc<BufferPool>, len: usize) -> Result<CpuBuffer> {
        let mut buffer = match pool.take(len.div_ceil(64)) {
            Some(lines) => CpuBuffer {
                storage: Storage::Owned {
                    lines: UnsafeCell::new(lines),
                    len,
                    pool: None,
                },
            },
            None => CpuBuffer::zeroed(len)?,
        };
        if let Storage::Owned { pool: slot, .. } = &mut buffer.storage {
            *slot = Some(Arc::clone(pool));
        }
        Ok(buffer)
    }

    /// Zero-filled memory of `len` bytes.
    pub fn zeroed(len: usize) -> Result<CpuBuffer> {
        let lines_needed = len.div_ceil(64);
        let mut lines = Vec::new();
        lines
            .try_reserve_exact(lines_needed)
            .map_err(|e| TensorError::Allocation {
                device: "cpu".into(),
                bytes: len,
                detail: e.to_string(),
            })?;
        lines.resize(lines_needed, Line([0; 64]));
        Ok(CpuBuffer {
            storage: Storage::Owned {
                lines: UnsafeCell::new(lines),
                len,
                pool: None,
            },
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<CpuBuffer> {
        let buffer = CpuBuffer::zeroed(bytes.len())?;
        // SAFETY: the buffer was just created and is not shared.
        unsafe { buffer.bytes_mut()? }.copy_from_slice(bytes);
        Ok(buffer)
    }

    /// A read-only window `start .. start + len` of a mapped file (no copy). Fails when the
    /// window lies outside the map.
    pub fn mapped(map: Arc<memmap2::Mmap>, start: usize, len: usize) -> Result<CpuBuffer> {
        if start.checked_add(len).is_none_or(|end| end > map.len()) {
            return Err(TensorError::Backend {
                backend: "cpu".into(),
                detail: format!(
                    "mapped window {start}..{} exceeds the {}-byte file",
                    start.saturating_add(len),
                    map.len()
                ),
            });
        }
        Ok(CpuBuffer {
            storage: Storage::Mapped { map, start, len },
        })
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Owned { lines, len, .. } => {
                // SAFETY: reading while no op writes these bytes (backend contract).
                let lines = unsafe { &*lines.get() };
                &bytemuck_lines(lines)[..*len]
            }
            Storage::Mapped { map, start, len } => &map[*start..*start + *len],
        }
    }

    /// Mutable access to the bytes of an owned buffer.
    ///
    /// # Safety
    /// The caller must be the only one reading or writing these bytes while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn bytes_mut(&self) -> Result<&mut [u8]> {
        match &self.storage {
            Storage::Owned { lines, len, .. } => {
                let lines = &mut *lines.get();
                let all =
                    std::slice::from_raw_parts_mut(lines.as_mut_ptr() as *mut u8, lines.len() * 64);
                Ok(&mut all[..*len])
            }
            Storage::Mapped { .. } => Err(TensorError::Backend {
                backend: "cpu".into(),
                detail: "a memory-mapped buffer is read-only".into(),
            }),
        }
    }
}

fn bytemuck_lines(lines: &[Line]) -> &[u8] {
    // SAFETY: `Line` is 64 plain bytes with no padding.
    unsafe { std::slice::from_raw_parts(lines.as_ptr() as *const u8, lines.len() * 64) }
}

impl DeviceBuffer for CpuBuffer {
    fn byte_len(&self) -> usize {
        match &self.storage {
            Storage::Owned { len, .. } | Storage::Mapped { len, .. } => *len,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
