//! NVRTC compilation of the kernel files, cached on disk by source hash, architecture and
//! NVRTC version, so a kernel is compiled once per machine.

use std::path::PathBuf;

use cudarc::nvrtc::{CompileError, CompileOptions, Ptx};

use crate::availability::nvrtc_version;
use crate::error::{CudaError, Result};
use crate::kernel_sources::full_source;

/// FNV-1a: a stable 64-bit hash for cache keys (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The kernel cache folder: `$TL_HOME/kernels` or `~/.cache/tensorlogic/kernels`.
pub fn cache_dir() -> Option<PathBuf> {
    let home = std::env::var_os("TL_HOME").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tensorlogic"))
    })?;
    Some(home.join("kernels"))
}

/// NVRTC wants the architecture as a `&'static str`; the set of architectures is tiny.
fn static_arch(arch: &str) -> &'static str {
    match arch {
        "sm_80" => "sm_80",
        "sm_86" => "sm_86",
        "sm_89" => "sm_89",
        "sm_90" => "sm_90",
        "sm_100" => "sm_100",
        "sm_120" => "sm_120",
        other => Box::leak(other.to_string().into_boxed_str()),
    }
}

/// Compiles kernel file `file` to PTX for `arch` (e.g. `sm_90`), without any cache; with
/// `timelines`, the variant that records kernel timelines.
pub fn compile_uncached(file: &str, arch: &str, timelines: bool) -> Result<String> {
    let source = full_source(file, timelines).ok_or_else(|| CudaError::Compile {
        file: file.into(),
        arch: arch.into(),
        log: "no such kernel file".into(),
    })?;
    let options = CompileOptions {
        arch: Some(static_arch(arch)),
        options: vec!["--std=c++17".into()],
        name: Some(file.to_string()),
        ..Default::default()
    };
    let ptx =
        cudarc::nvrtc::compile_ptx_with_opts(source, options).map_err(|e| CudaError::Compile {
            file: file.into(),
            arch: arch.into(),
            log: match e {
                CompileError::CompileError { log, .. } => log.to_string_lossy().into_owned(),
                other => format!("{other:?}"),
            },
        })?;
    Ok(ptx.to_src())
}

/// Compiles (or loads from the disk cache) kernel file `file` for `arch`.
pub fn compile(file: &str, arch: &str, timelines: bool) -> Result<Ptx> {
    let source = full_source(file, timelines).unwrap_or_default();
    let (major, minor) = nvrtc_version().unwrap_or((0, 0));
    let key = format!(
        "{:016x}-{arch}-nvrtc{major}.{minor}.ptx",
        fnv1a(source.as_bytes())
    );
    let cached = cache_dir().map(|d| d.join(&key));
    if let Some(text) = cached
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
    {
        return Ok(Ptx::from_src(text));
    }
    let ptx = compile_uncached(file, arch, timelines)?;
    if let Some(path) = cached {
        // The cache is an optimisation: failing to write it is not an error. Write to a
        // temporary name and rename so a concurrent reader never sees half a file.
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
            let temp = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&temp, &ptx).is_ok() {
                let _ = std::fs::rename(&temp, &path);
            }
        }
    }
    Ok(Ptx::from_src(ptx))
}
