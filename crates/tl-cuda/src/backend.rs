//! `CudaBackend`: one context and one compute stream per device, stream-ordered memory,
//! kernels loaded lazily from NVRTC-compiled modules, cuBLAS for GEMM.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::cublas::CudaBlas;
use cudarc::driver::{sys, CudaContext, CudaFunction, CudaGraph, CudaModule, CudaStream};
use tl_tensor::{
    Backend, Buffer, DeviceKind, Op, PendingRead, Replay, Result, Tensor, TensorError,
};

use crate::buffer::{CaptureState, CudaBuffer, GraphMemory};
use crate::compile::compile;
use crate::error::CudaError;
use crate::ops;
use crate::pending_read::{CudaPendingRead, PinnedPool};

pub struct CudaBackend {
    pub(crate) context: Arc<CudaContext>,
    pub(crate) stream: Arc<CudaStream>,
    pub(crate) blas: CudaBlas,
    /// `sm_XY` of the device, the NVRTC target.
    pub(crate) arch: String,
    /// Streaming multiprocessors, to size grid-stride launches.
    pub(crate) sm_count: u32,
    /// The most dynamic shared memory a block may opt in to.
    pub(crate) max_shared_bytes: usize,
    /// Whether kernels that wait for their predecessor in-kernel are launched with
    /// programmatic stream serialization (sm_90 and later, unless `TL_CUDA_PDL=0`).
    pub(crate) programmatic_launch: bool,
    /// Device address ranges that kernels still running when the next kernel starts may
    /// write: the last op's outputs, and those of the ops before it back to the last one
    /// whose kernels let their successor start only after waiting (see
    /// `launch::launch_dependent`).
    in_flight_outputs: Mutex<Vec<std::ops::Range<u64>>>,
    /// Set by a launcher whose kernel lets its successor start before it waits itself.
    early_successor: std::sync::atomic::AtomicBool,
    name: String,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<&'static str, CudaFunction>>,
    capture: Arc<CaptureState>,
    /// cuBLAS's workspace, set once so that cuBLAS never allocates inside a recording.
    _blas_workspace: CudaBuffer,
    /// Page-locked buffers for `read_later`.
    pinned_reads: PinnedPool,
    /// Where to write kernel timelines when the backend is dropped (`TL_CUDA_TRACE`).
    timelines: Option<std::path::PathBuf>,
    /// Scratch of `tl_sample_greedy_split`: its arrival count (zero between launches) in
    /// the first 128 bytes, then a key per block.
    pub(crate) greedy_scratch: CudaBuffer,
}

/// Bytes of [`CudaBackend::greedy_scratch`]: the count's line and `GREEDY_MAX_BLOCKS` keys.
pub(crate) const GREEDY_SCRATCH_BYTES: usize = 128 + 8 * crate::ops::GREEDY_MAX_BLOCKS;

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaBackend({})", self.name)
    }
}

/// Dynamic shared memory a kernel may use without opting in.
pub(crate) const DEFAULT_SHARED_BYTES: usize = 48 * 1024;

pub(crate) fn driver_error(e: impl std::fmt::Display) -> TensorError {
    CudaError::Driver(e.to_string()).into()
}

impl CudaBackend {
    /// Opens device `ordinal`. Checks that the libraries load first (cudarc panics on a
    /// missing library), so a machine without CUDA gets an error, not a crash.
    pub fn new(ordinal: usize) -> Result<CudaBackend, CudaError> {
        let count = crate::availability::check()?;
        if ordinal >= count {
            return Err(CudaError::NoSuchDevice { ordinal, count });
        }
        let context = CudaContext::new(ordinal)?;
        // One stream: ordering between kernels needs no events, and per-buffer events
        // would break graph capture and cost time.
        // SAFETY: called before any allocation of this context.
        unsafe { context.disable_event_tracking() };
        let stream = context.new_stream()?;
        keep_freed_memory_in_pool(&context)?;
        let (major, minor) = context.compute_capability()?;
        let sm_count = context
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?
            .max(1) as u32;
        let max_shared_bytes = context
            .attribute(
                sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
            )?
            .max(0) as usize;
        let blas = CudaBlas::new(stream.clone())?;
        let capture = Arc::new(CaptureState::default());
        let workspace =
            CudaBuffer::pooled(stream.alloc_zeros::<u8>(BLAS_WORKSPACE_BYTES)?, &capture);
        // SAFETY: the handle is live and the workspace outlives it (both are fields of the
        // backend; the workspace's free is stream-ordered after cuBLAS's last use).
        unsafe {
            cudarc::cublas::sys::cublasSetWorkspace_v2(
                *blas.handle(),
                workspace.device_address() as *mut std::ffi::c_void,
                BLAS_WORKSPACE_BYTES,
            )
            .result()?;
        }
        let greedy_scratch =
            CudaBuffer::pooled(stream.alloc_zeros::<u8>(GREEDY_SCRATCH_BYTES)?, &capture);
        let name = format!("cuda:{ordinal} ({})", context.name()?);
        Ok(CudaBackend {
            capture,
            _blas_workspace: workspace,
            pinned_reads: PinnedPool::default(),
            context,
            stream,
            blas,
            arch: format!("sm_{major}{minor}"),
            sm_count,
            max_shared_bytes,
            programmatic_launch: major >= 9
                && std::env::var_os("TL_CUDA_PDL").is_none_or(|v| v != "0"),
            name,
            in_flight_outputs: Mutex::new(Vec::new()),
            early_successor: std::sync::atomic::AtomicBool::new(false),
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
            timelines: std::env::var_os("TL_CUDA_TRACE").map(Into::into),
            greedy_scratch,
        })
    }

    /// Whether `tensor`'s buffer may be written by a kernel still running when the next
    /// kernel starts; a dependent kernel must not read it before it waits.
    pub(crate) fn may_be_written_in_flight(&self, tensor: &Tensor) -> bool {
        let Ok(buffer) = crate::launch::cuda_buffer(tensor) else {
            return true;
        };
        let start = buffer.device_address();
        let range = start..start + buffer.len() as u64;
        self.in_flight_outputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|r| r.start < range.end && range.start < r.end)
    }

    /// Whether a dependent kernel may read all of `tensors` before it waits: no kernel that
    /// may still run when it starts writes any of them.
    pub(crate) fn readable_before_wait<'a>(
        &self,
        tensors: impl IntoIterator<Item = &'a Tensor>,
    ) -> bool {
        !tensors
            .into_iter()
            .any(|t| self.may_be_written_in_flight(t))
    }

    /// Called by a launcher whose kernel calls `tl_allow_successor()` before it waits.
    pub(crate) fn note_early_successor(&self) {
        self.early_successor
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Device memory of `bytes` bytes with unspecified contents: from the stream-ordered pool,
    /// or, while a graph is recorded, a fixed allocation the graph keeps alive.
    pub(crate) fn scratch(&self, bytes: usize) -> Result<CudaBuffer> {
        let failed = |detail: String| TensorError::Allocation {
            device: self.name.clone(),
            bytes,
            detail,
        };
        if self.capture.is_recording() {
            let memory = Arc::new(GraphMemory::new(&self.context, bytes).map_err(failed)?);
            self.capture
                .with_recording(|recorded| recorded.memory.push(memory.clone()));
            return Ok(CudaBuffer::recorded(memory, bytes, &self.capture));
        }
        // SAFETY: contents are unspecified by the contract; ops write before they read.
        let slice =
            unsafe { self.stream.alloc::<u8>(bytes.max(1)) }.map_err(|e| failed(e.to_string()))?;
        Ok(CudaBuffer::pooled(slice, &self.capture))
    }

    /// The device address of bytes `byte_offset..byte_offset + len` of `buffer`, checked to
    /// lie inside it, for a read to the host (refused while recording).
    fn readable(&self, buffer: &Buffer, byte_offset: usize, len: usize) -> Result<u64> {
        self.refuse_while_recording("read from the device")?;
        let source = self.buffer(buffer)?;
        if byte_offset + len > source.len() {
            return Err(TensorError::Backend {
                backend: "cuda".into(),
                detail: "read past the end of the buffer".into(),
            });
        }
        Ok(source.device_address() + byte_offset as u64)
    }

    /// Host transfers wait for the stream, which a recording forbids.
    fn refuse_while_recording(&self, what: &str) -> Result<()> {
        if self.capture.is_recording() {
            return Err(TensorError::Backend {
                backend: self.name.clone(),
                detail: format!("cannot {what} while a graph is being recorded"),
            });
        }
        Ok(())
    }

    /// Most blocks worth launching for a grid-stride kernel.
    pub(crate) fn max_blocks(&self) -> u32 {
        self.sm_count * 16
    }

    /// Blocks of `threads` threads and `shared_bytes` of dynamic shared memory running `f`
    /// that the GPU holds at once (at least one a multiprocessor).
    pub(crate) fn resident_blocks(
        &self,
        f: &CudaFunction,
        threads: u32,
        shared_bytes: usize,
    ) -> Result<usize> {
        let per_sm = f
            .occupancy_max_active_blocks_per_multiprocessor(threads, shared_bytes, None)
            .map_err(|e| TensorError::Backend {
                backend: "cuda".into(),
                detail: format!("occupancy query failed: {e}"),
            })?
            .max(1) as usize;
        Ok(self.sm_count as usize * per_sm)
    }

    /// Kernel `name` from kernel file `file`, compiled and loaded on first use.
    pub(crate) fn function(&self, file: &'static str, name: &'static str) -> Result<CudaFunction> {
        if let Some(f) = self.functions.lock().expect("kernel table").get(name) {
            return Ok(f.clone());
        }
        let module = {
            let mut modules = self.modules.lock().expect("module table");
            match modules.get(file) {
                Some(m) => m.clone(),
                None => {
                    let ptx = compile(file, &self.arch, self.timelines.is_some())?;
                    let module = self.context.load_module(ptx).map_err(driver_error)?;
                    modules.insert(file, module.clone());
                    module
                }
            }
        };
        let function = module.load_function(name).map_err(driver_error)?;
        self.functions
            .lock()
            .expect("kernel table")
            .insert(name, function.clone());
        Ok(function)
    }

    /// Kernel `name` of `file`, allowed `shared_bytes` of dynamic shared memory (raising its
    /// limit when that is above the 48 KiB a kernel gets without opting in).
    pub(crate) fn function_with_shared(
        &self,
        file: &'static str,
        name: &'static str,
        shared_bytes: usize,
    ) -> Result<CudaFunction> {
        let f = self.function(file, name)?;
        if shared_bytes > DEFAULT_SHARED_BYTES {
            self.context.bind_to_thread().map_err(driver_error)?;
            f.set_attribute(
                sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                shared_bytes as i32,
            )
            .map_err(driver_error)?;
        }
        Ok(f)
    }

    fn buffer<'a>(&self, buffer: &'a Buffer) -> Result<&'a CudaBuffer> {
        buffer
            .downcast::<CudaBuffer>()
            .ok_or_else(|| TensorError::Backend {
                backend: "cuda".into(),
                detail: "the buffer belongs to another backend".into(),
            })
    }

    /// Reports errors recorded by asynchronous frees and launches.
    pub(crate) fn check(&self) -> Result<()> {
        self.context.check_err().map_err(driver_error)
    }
}

/// Freed blocks stay in the device's memory pool instead of returning to the driver, so
/// allocation in a decode loop is a pool lookup.
fn keep_freed_memory_in_pool(context: &Arc<CudaContext>) -> Result<(), CudaError> {
    context.bind_to_thread()?;
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    let mut threshold: u64 = u64::MAX;
    // SAFETY: the device handle is valid; the attribute takes a pointer to a u64.
    unsafe {
        sys::cuDeviceGetDefaultMemPool(&mut pool, context.cu_device()).result()?;
        sys::cuMemPoolSetAttribute(
            pool,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            &mut threshold as *mut u64 as *mut std::ffi::c_void,
        )
        .result()?;
    }
    Ok(())
}

impl Backend for CudaBackend {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn kind(&self) -> DeviceKind {
        DeviceKind::Cuda
    }

    fn alloc(&self, bytes: usize) -> Result<Buffer> {
        Ok(Buffer::new(self.scratch(bytes)?))
    }

    fn upload(&self, bytes: &[u8]) -> Result<Buffer> {
        let buffer = self.alloc(bytes.len())?;
        self.write(&buffer, 0, bytes)?;
        Ok(buffer)
    }

    fn write(&self, buffer: &Buffer, byte_offset: usize, bytes: &[u8]) -> Result<()> {
        self.refuse_while_recording("write to the device")?;
        let target = self.buffer(buffer)?;
        if byte_offset + bytes.len() > target.len() {
            return Err(TensorError::Backend {
                backend: "cuda".into(),
                detail: "write past the end of the buffer".into(),
            });
        }
        if bytes.is_empty() {
            return Ok(());
        }
        // SAFETY: the range is inside the allocation. `bytes` is pageable memory (the only
        // page-locked memory here is `read_later`'s own), and from pageable memory the
        // driver returns only once it has staged the bytes: the slice may go as soon as the
        // call returns, and the copy stays ordered before the stream's later work without
        // waiting for it.
        unsafe {
            cudarc::driver::result::memcpy_htod_async(
                target.device_address() + byte_offset as u64,
                bytes,
                self.stream.cu_stream(),
            )
            .map_err(driver_error)
        }
    }

    fn read_later(
        &self,
        buffer: &Buffer,
        byte_offset: usize,
        len: usize,
    ) -> Result<Box<dyn PendingRead>> {
        let source = self.readable(buffer, byte_offset, len)?;
        Ok(Box::new(CudaPendingRead::start(
            &self.context,
            &self.stream,
            &self.pinned_reads,
            source,
            len,
        )?))
    }

    fn read(&self, buffer: &Buffer, byte_offset: usize, len: usize) -> Result<Vec<u8>> {
        let source = self.readable(buffer, byte_offset, len)?;
        let mut host = vec![0u8; len];
        if len > 0 {
            // SAFETY: the range is inside the allocation; we wait before using `host`.
            unsafe {
                cudarc::driver::result::memcpy_dtoh_async(
                    &mut host,
                    source,
                    self.stream.cu_stream(),
                )
                .map_err(driver_error)?;
            }
        }
        self.stream.synchronize().map_err(driver_error)?;
        self.check()?;
        Ok(host)
    }

    fn execute(&self, op: &Op, inputs: &[&Tensor], outputs: &[&Tensor]) -> Result<()> {
        use std::sync::atomic::Ordering;
        self.early_successor.store(false, Ordering::Relaxed);
        let result = ops::execute(self, op, inputs, outputs);
        let ranges = outputs
            .iter()
            .filter_map(|t| crate::launch::cuda_buffer(t).ok())
            .map(|b| b.device_address()..b.device_address() + b.len() as u64);
        let mut in_flight = self
            .in_flight_outputs
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !self.early_successor.load(Ordering::Relaxed) {
            in_flight.clear();
        }
        in_flight.extend(ranges);
        result
    }

    fn synchronize(&self) -> Result<()> {
        self.refuse_while_recording("synchronize")?;
        self.stream.synchronize().map_err(driver_error)?;
        self.check()
    }

    fn begin_capture(&self) -> Result<bool> {
        self.refuse_while_recording("begin a second recording")?;
        // Relaxed: allocating device memory for the graph's tensors stays allowed.
        self.stream
            .begin_capture(sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_RELAXED)
            .map_err(driver_error)?;
        self.capture.begin();
        Ok(true)
    }

    fn end_capture(&self) -> Result<Box<dyn Replay>> {
        let recorded = self.capture.end();
        let graph = self
            .stream
            .end_capture(sys::CUgraphInstantiate_flags(0))
            .map_err(driver_error)?
            .ok_or_else(|| TensorError::Backend {
                backend: self.name.clone(),
                detail: "the recording captured no work".into(),
            })?;
        // Pool buffers dropped while recording are freed now, in stream order.
        drop(recorded.deferred);
        Ok(Box::new(CudaRecording {
            graph: Mutex::new(graph),
            _memory: recorded.memory,
        }))
    }
}

/// A recorded CUDA graph and the memory its kernels use.
struct CudaRecording {
    /// cudarc's graph is not `Sync`; launches are serialised here.
    graph: Mutex<CudaGraph>,
    _memory: Vec<Arc<GraphMemory>>,
}

// SAFETY: the graph is only touched under the mutex; CUDA graphs may be launched from any
// thread once access is serialised (the driver docs' thread-safety rule for graph objects).
unsafe impl Send for CudaRecording {}
unsafe impl Sync for CudaRecording {}

impl Replay for CudaRecording {
    fn replay(&self) -> Result<()> {
        self.graph
            .lock()
            .expect("graph")
            .launch()
            .map_err(driver_error)
    }
}

/// cuBLAS's workspace: PyTorch's size for Hopper, enough for every GEMM algorithm.
const BLAS_WORKSPACE_BYTES: usize = 32 << 20;

impl Drop for CudaBackend {
    fn drop(&mut self) {
        let Some(path) = &self.timelines else {
            return;
        };
        let modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
        match crate::kernel_timeline::write(modules.values(), &self.stream, path) {
            Ok(records) => eprintln!("kernel timelines: {records} records in {}", path.display()),
            Err(e) => eprintln!("kernel timelines: {e}"),
        }
    }
}
