//! Kernel arguments shared by the op launchers: strided views, dtype codes, grid sizes and
//! device addresses of tensors.

use cudarc::driver::{sys, CudaFunction, DeviceRepr, LaunchConfig};
use tl_tensor::{DType, Layout, Tensor, TensorError};

use crate::backend::CudaBackend;
use crate::buffer::CudaBuffer;

/// Highest rank a kernel's strided view supports after coalescing (`TL_MAX_RANK`).
pub const MAX_RANK: usize = 8;
pub const BLOCK: u32 = 256;

/// Mirrors `struct Strided` in kernels/common.cuh.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StridedArg {
    rank: i32,
    contiguous: i32,
    offset: i64,
    shape: [i64; MAX_RANK],
    strides: [i64; MAX_RANK],
}

// SAFETY: a plain #[repr(C)] struct of integers, laid out as the C struct it mirrors.
unsafe impl DeviceRepr for StridedArg {}

impl StridedArg {
    /// The kernel view of `layout` (in elements), coalesced so dense data is one row.
    pub fn new(op: &str, layout: &Layout) -> Result<StridedArg, TensorError> {
        let layout = layout.coalesced();
        if layout.rank() > MAX_RANK {
            return Err(TensorError::bad_shape(
                op,
                layout.shape(),
                format!("the CUDA backend supports views of at most {MAX_RANK} non-mergeable axes"),
            ));
        }
        let mut arg = StridedArg {
            rank: layout.rank() as i32,
            contiguous: i32::from(
                layout.rank() <= 1 && layout.strides().first().is_none_or(|&s| s == 1),
            ),
            offset: layout.offset() as i64,
            shape: [1; MAX_RANK],
            strides: [0; MAX_RANK],
        };
        for (i, (&d, &s)) in layout.shape().iter().zip(layout.strides()).enumerate() {
            arg.shape[i] = d as i64;
            arg.strides[i] = s as i64;
        }
        Ok(arg)
    }
}

/// The dtype code of kernels/common.cuh (`TL_F32` …).
pub fn dtype_code(dtype: DType) -> i32 {
    match dtype {
        DType::F32 => 0,
        DType::F16 => 1,
        DType::BF16 => 2,
        DType::I32 => 3,
        DType::I64 => 4,
        DType::U8 => 5,
        _ => 6,
    }
}

/// A 1-D grid-stride launch over `n` items with at most `max_blocks` blocks.
pub fn grid(n: usize, max_blocks: u32) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, max_blocks as usize) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

pub fn cuda_buffer(tensor: &Tensor) -> Result<&CudaBuffer, TensorError> {
    tensor
        .buffer()
        .downcast::<CudaBuffer>()
        .ok_or_else(|| TensorError::Backend {
            backend: "cuda".into(),
            detail: "the buffer belongs to another backend".into(),
        })
}

/// Device address of the buffer behind an input (its layout's offset is applied by the
/// kernel through the strided view).
pub fn base_address(tensor: &Tensor) -> Result<u64, TensorError> {
    Ok(cuda_buffer(tensor)?.device_address())
}

/// Device address of the first element of a dense tensor (outputs).
pub fn dense_address(tensor: &Tensor) -> Result<u64, TensorError> {
    let dtype = tensor.dtype();
    let byte_offset = tensor.layout().offset() / dtype.block_size() * dtype.block_bytes();
    Ok(base_address(tensor)? + byte_offset as u64)
}

/// The byte view of a tensor's elements (see `Layout::byte_view`).
pub fn byte_layout(dtype: DType, layout: &Layout) -> Layout {
    layout.byte_view(dtype)
}

/// Two byte views of one shape, rewritten in the widest unit (16, 8, 4, 2 or 1 bytes) that
/// divides every run, stride and offset of both, with axes merged where both allow.
pub fn unit_views(src: &Layout, dst: &Layout) -> (usize, Layout, Layout) {
    let mut shape: Vec<usize> = Vec::new();
    let (mut a, mut b): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for ((&dim, &sa), &sb) in src.shape().iter().zip(src.strides()).zip(dst.strides()) {
        if dim == 1 {
            continue;
        }
        match (shape.last_mut(), a.last_mut(), b.last_mut()) {
            (Some(d), Some(la), Some(lb)) if *la == sa * dim && *lb == sb * dim => {
                *d *= dim;
                *la = sa;
                *lb = sb;
            }
            _ => {
                shape.push(dim);
                a.push(sa);
                b.push(sb);
            }
        }
    }
    let inner_dense = a.last() == Some(&1) && b.last() == Some(&1);
    let unit = [16usize, 8, 4, 2]
        .into_iter()
        .find(|&u| {
            inner_dense
                && shape.last().is_some_and(|&d| d % u == 0)
                && src.offset().is_multiple_of(u)
                && dst.offset().is_multiple_of(u)
                && a[..a.len() - 1]
                    .iter()
                    .chain(&b[..b.len() - 1])
                    .all(|s| s % u == 0)
        })
        .unwrap_or(1);
    if unit > 1 {
        let inner = shape.len() - 1;
        shape[inner] /= unit;
        for strides in [&mut a, &mut b] {
            for s in &mut strides[..inner] {
                *s /= unit;
            }
            // The inner axis stays dense: one unit apart.
        }
    }
    let make = |strides: Vec<usize>, offset: usize| {
        Layout::from_parts(shape.clone(), strides, offset / unit).expect("one length")
    };
    (unit, make(a, src.offset()), make(b, dst.offset()))
}

/// Launches a kernel that calls `tl_wait_for_predecessor()` (kernels/common.cuh) before it
/// reads what earlier kernels wrote or writes what they read. On sm_90 and later it is
/// launched with programmatic stream serialization: it may start once every block of its
/// predecessor has called `tl_allow_successor()`, and do work that depends on nothing
/// earlier (prefetching weights) while the predecessor finishes. Inside a recorded graph
/// this becomes a programmatic edge, so a replayed decode step overlaps each kernel's start
/// with the end of the one before it.
///
/// # Safety
/// `params` point to values matching the kernel's C signature, alive until this returns.
pub(crate) unsafe fn launch_dependent(
    backend: &CudaBackend,
    function: &CudaFunction,
    config: LaunchConfig,
    params: &mut [*mut std::ffi::c_void],
) -> Result<(), TensorError> {
    let failed = |e: cudarc::driver::DriverError| TensorError::Backend {
        backend: "cuda".into(),
        detail: format!("kernel launch failed: {e}"),
    };
    backend.context.bind_to_thread().map_err(failed)?;
    let stream = backend.stream.cu_stream();
    if !backend.programmatic_launch {
        return cudarc::driver::result::launch_kernel(
            function.cu_function(),
            config.grid_dim,
            config.block_dim,
            config.shared_mem_bytes,
            stream,
            params,
        )
        .map_err(failed);
    }
    // SAFETY: a zeroed launch-attribute value is valid; one field is then set.
    let mut value: sys::CUlaunchAttributeValue = std::mem::zeroed();
    value.programmaticStreamSerializationAllowed = 1;
    let mut attribute = sys::CUlaunchAttribute {
        id: sys::CUlaunchAttributeID::CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION,
        pad: [0; 4],
        value,
    };
    let launch_config = sys::CUlaunchConfig {
        gridDimX: config.grid_dim.0,
        gridDimY: config.grid_dim.1,
        gridDimZ: config.grid_dim.2,
        blockDimX: config.block_dim.0,
        blockDimY: config.block_dim.1,
        blockDimZ: config.block_dim.2,
        sharedMemBytes: config.shared_mem_bytes,
        hStream: stream,
        attrs: &mut attribute,
        numAttrs: 1,
    };
    sys::cuLaunchKernelEx(
        &launch_config,
        function.cu_function(),
        params.as_mut_ptr(),
        std::ptr::null_mut(),
    )
    .result()
    .map_err(failed)
}
