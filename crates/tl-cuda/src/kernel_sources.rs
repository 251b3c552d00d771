//! The CUDA C sources of every kernel, embedded in the binary.

/// Prepended to every kernel file.
pub const COMMON: &str = include_str!("../kernels/common.cuh");

/// `(file name, source)` of every kernel file.
pub const FILES: &[(&str, &str)] = &[
    ("creation.cu", include_str!("../kernels/creation.cu")),
    ("copy.cu", include_str!("../kernels/copy.cu")),
    ("elementwise.cu", include_str!("../kernels/elementwise.cu")),
    ("reduce.cu", include_str!("../kernels/reduce.cu")),
    ("index.cu", include_str!("../kernels/index.cu")),
    ("nn.cu", include_str!("../kernels/nn.cu")),
    (
        "quant.cu",
        concat!(
            include_str!("../kernels/linear_input.cuh"),
            include_str!("../kernels/quant.cu")
        ),
    ),
    ("sample.cu", include_str!("../kernels/sample.cu")),
    (
        "matvec.cu",
        concat!(
            include_str!("../kernels/linear_input.cuh"),
            include_str!("../kernels/matvec.cu")
        ),
    ),
];

/// The full source NVRTC compiles for `file`; with `timelines`, the instrumented kernels
/// record when their blocks reach each stage (see `kernel_timeline.rs`).
pub fn full_source(file: &str, timelines: bool) -> Option<String> {
    let define = if timelines {
        "#define TL_TRACE 1\n"
    } else {
        ""
    };
    FILES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, source)| format!("{define}{COMMON}\n{source}"))
}
