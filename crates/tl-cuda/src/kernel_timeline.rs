//! Kernel timelines: with `TL_CUDA_TRACE=FILE`, the instrumented kernels (the pair mat-vecs,
//! decoding attention and the sampler) are compiled to record, per block, the `%globaltimer`
//! nanosecond at which it starts, passes its wait, has its input, finishes its first piece of
//! work and its last, and exits; when the backend is dropped the records go to FILE, for
//! `scripts/gpu/timeline_summary.py`. A developer's tool for finding where a decode step's
//! time goes between and inside kernels (the profilers at hand add microseconds a launch).
//!
//! FILE holds 64-byte records of eight little-endian u64: the six marks (0 where a block
//! did not reach one), `n | k << 32` (the product's rows and row length, the attention's
//! keys in `k`, the sampler's rows and vocabulary), and
//! `kind | early << 4 | multiprocessor << 8 | block << 32`, with kind 1 a pair mat-vec, 2 a
//! gated one, 3 decoding attention, 4 the sampler, 5 a float mat-vec (`tl_matvec_*`,
//! `tl_linear_*`), 6 a gated `tl_linear_*`. Each kernel module keeps the last
//! `RECORDS` records of its kernels in a ring in device memory (`tl_trace_records`, with the
//! running count `tl_trace_count`; kernels/common.cuh).

use std::path::Path;
use std::sync::Arc;

use cudarc::driver::{CudaModule, CudaStream};

use crate::error::CudaError;

/// Records a module's ring holds (`TL_TRACE_RECORDS` in kernels/common.cuh).
const RECORDS: usize = 1 << 18;
const RECORD_BYTES: usize = 64;

/// Writes the records of every module that has a timeline ring to `path`, ordered by start;
/// returns how many.
pub(crate) fn write<'a>(
    modules: impl Iterator<Item = &'a Arc<CudaModule>>,
    stream: &Arc<CudaStream>,
    path: &Path,
) -> Result<usize, CudaError> {
    let failed = |detail: String| CudaError::Timelines {
        path: path.display().to_string(),
        detail,
    };
    stream.synchronize().map_err(|e| failed(e.to_string()))?;
    let mut records: Vec<[u64; 8]> = Vec::new();
    for module in modules {
        // Modules without instrumented kernels have no ring.
        let (Ok(count), Ok(ring)) = (
            module.get_global("tl_trace_count", stream),
            module.get_global("tl_trace_records", stream),
        ) else {
            continue;
        };
        let count: Vec<u8> = stream
            .clone_dtoh(&count)
            .map_err(|e| failed(e.to_string()))?;
        let ring: Vec<u8> = stream
            .clone_dtoh(&ring)
            .map_err(|e| failed(e.to_string()))?;
        let count = match count[..] {
            [a, b, c, d, ..] => u32::from_le_bytes([a, b, c, d]),
            _ => return Err(failed("the record count is not a 32-bit word".into())),
        };
        let held = (count as usize).min(RECORDS).min(ring.len() / RECORD_BYTES);
        for bytes in ring.chunks_exact(RECORD_BYTES).take(held) {
            let mut record = [0u64; 8];
            for (word, chunk) in record.iter_mut().zip(bytes.chunks_exact(8)) {
                *word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            }
            records.push(record);
        }
    }
    records.sort_by_key(|r| r[0]);
    let bytes: Vec<u8> = records
        .iter()
        .flat_map(|r| r.iter().flat_map(|w| w.to_le_bytes()))
        .collect();
    std::fs::write(path, bytes).map_err(|e| failed(e.to_string()))?;
    Ok(records.len())
}
