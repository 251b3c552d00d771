//! Checks that the CUDA driver, NVRTC and cuBLAS can be loaded before anything calls them:
//! cudarc panics on a missing library, and a machine without a GPU must fall back cleanly.

use crate::error::{CudaError, Result};

/// Whether the NVRTC library can be loaded (enough to compile kernels without a GPU).
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen the library by its candidate names.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// The NVRTC version as `(major, minor)`, if NVRTC can be loaded.
pub fn nvrtc_version() -> Option<(i32, i32)> {
    if !nvrtc_present() {
        return None;
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: NVRTC is present; the call writes two ints.
    let status = unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
    (status == cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS).then_some((major, minor))
}

/// Ok when the driver, NVRTC and cuBLAS libraries load and at least one device exists;
/// otherwise an error saying which piece is missing.
pub fn check() -> Result<usize> {
    // SAFETY: each call only tries to dlopen a library.
    let (driver, nvrtc, cublas) = unsafe {
        (
            cudarc::driver::sys::is_culib_present(),
            cudarc::nvrtc::sys::is_culib_present(),
            cudarc::cublas::sys::is_culib_present(),
        )
    };
    let missing = |what: &str, hint: &str| CudaError::Unavailable {
        what: what.into(),
        hint: hint.into(),
    };
    if !driver {
        return Err(missing(
            "the CUDA driver library (libcuda) was not found",
            "install an NVIDIA driver",
        ));
    }
    if !nvrtc {
        return Err(missing(
            "the NVRTC library was not found",
            "install the CUDA toolkit or `pip install nvidia-cuda-nvrtc` and add its lib folder to LD_LIBRARY_PATH",
        ));
    }
    if !cublas {
        return Err(missing(
            "the cuBLAS library was not found",
            "install the CUDA toolkit or `pip install nvidia-cublas` and add its lib folder to LD_LIBRARY_PATH",
        ));
    }
    let count =
        cudarc::driver::CudaContext::device_count().map_err(|e| CudaError::Unavailable {
            what: format!("the driver reports no usable device ({e})"),
            hint: "check `nvidia-smi`".into(),
        })?;
    if count <= 0 {
        return Err(missing("no CUDA device is present", "check `nvidia-smi`"));
    }
    Ok(count as usize)
}
