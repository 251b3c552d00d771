//! `CudaBackend`: one context and one compute stream per device, stream-ordered memory,
//! kernels loaded lazily from NVRTC-compiled modules, cuBLAS for GEMM.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::cublas::CudaBlas;
use cudarc::driver::{sys, CudaContext, CudaFunction, CudaModule, CudaStream};
use tl_tensor::{Backend, Buffer, DeviceKind, Op, Result, Tensor, TensorError};

use crate::buffer::CudaBuffer;
use crate::compile::compile;
use crate::error::CudaError;
use crate::ops;

pub struct CudaBackend {
    pub(crate) context: Arc<CudaContext>,
    pub(crate) stream: Arc<CudaStream>,
    pub(crate) blas: CudaBlas,
    /// `sm_XY` of the device, the NVRTC target.
    pub(crate) arch: String,
    /// Streaming multiprocessors, to size grid-stride launches.
    pub(crate) sm_count: u32,
    name: String,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<&'static str, CudaFunction>>,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaBackend({})", self.name)
    }
}

fn driver_error(e: impl std::fmt::Display) -> TensorError {
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
        let blas = CudaBlas::new(stream.clone())?;
        let name = format!("cuda:{ordinal} ({})", context.name()?);
        Ok(CudaBackend {
            context,
            stream,
            blas,
            arch: format!("sm_{major}{minor}"),
            sm_count,
            name,
            modules: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
        })
    }

    /// Most blocks worth launching for a grid-stride kernel.
    pub(crate) fn max_blocks(&self) -> u32 {
        self.sm_count * 16
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
                    let ptx = compile(file, &self.arch)?;
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
        // SAFETY: contents are unspecified by the trait's contract; ops write before reads.
        let slice = unsafe { self.stream.alloc::<u8>(bytes.max(1)) }.map_err(|e| {
            TensorError::Allocation {
                device: self.name.clone(),
                bytes,
                detail: e.to_string(),
            }
        })?;
        Ok(Buffer::new(CudaBuffer { slice }))
    }

    fn upload(&self, bytes: &[u8]) -> Result<Buffer> {
        let buffer = self.alloc(bytes.len())?;
        self.write(&buffer, 0, bytes)?;
        Ok(buffer)
    }

    fn write(&self, buffer: &Buffer, byte_offset: usize, bytes: &[u8]) -> Result<()> {
        let target = self.buffer(buffer)?;
        if byte_offset + bytes.len() > target.slice.len() {
            return Err(TensorError::Backend {
                backend: "cuda".into(),
                detail: "write past the end of the buffer".into(),
            });
        }
        if bytes.is_empty() {
            return Ok(());
        }
        // SAFETY: the range is inside the allocation; the host slice outlives the copy
        // because we wait for the stream before returning.
        unsafe {
            cudarc::driver::result::memcpy_htod_async(
                target.device_address() + byte_offset as u64,
                bytes,
                self.stream.cu_stream(),
            )
            .map_err(driver_error)?;
        }
        self.stream.synchronize().map_err(driver_error)
    }

    fn read(&self, buffer: &Buffer, byte_offset: usize, len: usize) -> Result<Vec<u8>> {
        let source = self.buffer(buffer)?;
        if byte_offset + len > source.slice.len() {
            return Err(TensorError::Backend {
                backend: "cuda".into(),
                detail: "read past the end of the buffer".into(),
            });
        }
        let mut host = vec![0u8; len];
        if len > 0 {
            // SAFETY: the range is inside the allocation; we wait before using `host`.
            unsafe {
                cudarc::driver::result::memcpy_dtoh_async(
                    &mut host,
                    source.device_address() + byte_offset as u64,
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
        ops::execute(self, op, inputs, outputs)
    }

    fn synchronize(&self) -> Result<()> {
        self.stream.synchronize().map_err(driver_error)?;
        self.check()
    }
}
