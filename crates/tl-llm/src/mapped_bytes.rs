//! Model files mapped read-only into memory, and bytes from elsewhere in the same form.

use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use crate::error::{LlmError, Result};

/// `path` mapped read-only. A file shorter than `min_len` bytes (at least one: an empty file
/// cannot be mapped) gives `too_short(its length)` instead.
pub(crate) fn map_file(
    path: &Path,
    min_len: u64,
    too_short: impl FnOnce(u64) -> LlmError,
) -> Result<Arc<Mmap>> {
    let file = std::fs::File::open(path).map_err(|e| LlmError::io(path, &e))?;
    let len = file.metadata().map_err(|e| LlmError::io(path, &e))?.len();
    if len < min_len.max(1) {
        return Err(too_short(len));
    }
    // SAFETY: the map is read-only; like every mmap reader we rely on nobody truncating the
    // model file while it is open (that would fault, not break an assumption we can check).
    let map = unsafe { Mmap::map(&file) }.map_err(|e| LlmError::io(path, &e))?;
    Ok(Arc::new(map))
}

/// A read-only anonymous map holding a copy of `bytes` (tests, fuzzing), so that parsers
/// take one kind of storage. An anonymous map is never empty: it may be longer than `bytes`.
pub(crate) fn map_bytes(label: &Path, bytes: &[u8]) -> Result<Arc<Mmap>> {
    let mut anon =
        memmap2::MmapMut::map_anon(bytes.len().max(1)).map_err(|e| LlmError::io(label, &e))?;
    anon[..bytes.len()].copy_from_slice(bytes);
    let map = anon.make_read_only().map_err(|e| LlmError::io(label, &e))?;
    Ok(Arc::new(map))
}
