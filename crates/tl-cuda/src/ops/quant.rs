//! Launchers: dequantize, quantize and the quantized matrix product (kernels/quant.cu).
//!
//! `QMatMul` quantizes the activation rows once into scratch (int8 quants plus a float4 of
//! scale, quant sum and exact sum per 32 values), then one kernel streams the weight blocks
//! and combines them with those rows by `__dp4a` integer dot products: a mat-vec kernel for
//! a few rows (the decode step), each pass over the weights serving a tile of up to 8 rows,
//! and a kernel of 64 × 64 output tiles from shared memory for more (prefill). `Linear`'s
//! quantized decode step (`linear_matvec`) quantizes its normalised input in one block
//! instead, and its gated form streams the gate and up rows together.

use cudarc::driver::LaunchConfig;
use tl_tensor::{DType, Layout, Op, Result, Tensor, TensorError};

use crate::backend::CudaBackend;
use crate::buffer::CudaBuffer;
use crate::launch::{base_address, cuda_buffer, dense_address, dtype_code, grid, StridedArg};
use crate::ops::linear::{vector_address, LinearInputArg, LINEAR_INPUT_CHUNK};

/// Threads of a `tl_qmv_*` block (4 warps), as `QMV_THREADS` in kernels/quant.cu.
const QMV_THREADS: u32 = 128;
const QMV_WARPS: usize = 4;
/// Threads of the one block of `tl_linear_input_quantize`.
const LINEAR_INPUT_THREADS: u32 = 256;
/// Activation rows up to which `QMatMul` runs the mat-vec kernels (tiles of up to 8 rows,
/// each a pass over the weights), and up to which it still does so when the tiled kernel
/// would have fewer blocks than the GPU has multiprocessors (measured on an H200: 4096 ×
/// 4096 with 9 rows took 39 µs as two mat-vec tiles against 86 µs tiled; with 32000 or
/// 49152 weight rows the tiled kernel wins).
const MATVEC_ROWS: usize = 8;
const MATVEC_ROWS_SMALL_N: usize = 16;
/// Threads and output tile side of a `tl_qmm_*` block, as in kernels/quant.cu.
const QMM_THREADS: u32 = 256;
const QMM_TILE: usize = 64;
/// Most blocks along a grid's y axis.
const MAX_GRID_Y: usize = 65_535;

/// The format code of kernels/quant.cu (`QF_Q4_0` …).
fn format_code(op: &Op, dtype: DType) -> Result<i32> {
    match dtype {
        DType::Q4_0 => Ok(0),
        DType::Q4_1 => Ok(1),
        DType::Q8_0 => Ok(2),
        DType::Q4_K => Ok(3),
        DType::Q6_K => Ok(4),
        other => Err(TensorError::unsupported_dtype(op.name(), other)),
    }
}

fn require_float(op: &Op, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        Err(TensorError::unsupported_dtype(op.name(), dtype))
    }
}

/// Blocks a mat-vec warp stages in shared memory at a time (`CHUNK` in kernels/quant.cu).
fn chunk_blocks(dtype: DType) -> usize {
    match dtype {
        DType::Q4_0 | DType::Q4_1 => 64,
        DType::Q8_0 => 32,
        _ => 8,
    }
}

/// `tl_qmv_<format>_r<rows>` for 1, 2, 4 and 8 activation rows a tile.
fn qmv_kernel(dtype: DType, tile_rows: usize) -> &'static str {
    const NAMES: [[&str; 4]; 5] = [
        [
            "tl_qmv_q4_0_r1",
            "tl_qmv_q4_0_r2",
            "tl_qmv_q4_0_r4",
            "tl_qmv_q4_0_r8",
        ],
        [
            "tl_qmv_q4_1_r1",
            "tl_qmv_q4_1_r2",
            "tl_qmv_q4_1_r4",
            "tl_qmv_q4_1_r8",
        ],
        [
            "tl_qmv_q8_0_r1",
            "tl_qmv_q8_0_r2",
            "tl_qmv_q8_0_r4",
            "tl_qmv_q8_0_r8",
        ],
        [
            "tl_qmv_q4_k_r1",
            "tl_qmv_q4_k_r2",
            "tl_qmv_q4_k_r4",
            "tl_qmv_q4_k_r8",
        ],
        [
            "tl_qmv_q6_k_r1",
            "tl_qmv_q6_k_r2",
            "tl_qmv_q6_k_r4",
            "tl_qmv_q6_k_r8",
        ],
    ];
    let format = match dtype {
        DType::Q4_0 => 0,
        DType::Q4_1 => 1,
        DType::Q8_0 => 2,
        DType::Q4_K => 3,
        _ => 4,
    };
    NAMES[format][tile_rows.trailing_zeros() as usize]
}

/// `tl_qmv_<format>_r1_gated`.
fn gated_kernel(dtype: DType) -> &'static str {
    match dtype {
        DType::Q4_0 => "tl_qmv_q4_0_r1_gated",
        DType::Q4_1 => "tl_qmv_q4_1_r1_gated",
        DType::Q8_0 => "tl_qmv_q8_0_r1_gated",
        DType::Q4_K => "tl_qmv_q4_k_r1_gated",
        _ => "tl_qmv_q6_k_r1_gated",
    }
}

/// `tl_qmm_<format>`: the tiled kernel for many activation rows.
fn qmm_kernel(dtype: DType) -> &'static str {
    match dtype {
        DType::Q4_0 => "tl_qmm_q4_0",
        DType::Q4_1 => "tl_qmm_q4_1",
        DType::Q8_0 => "tl_qmm_q8_0",
        DType::Q4_K => "tl_qmm_q4_k",
        _ => "tl_qmm_q6_k",
    }
}

/// Checks that a view stays inside its buffer (the kernels index without bounds checks).
fn check_inside(op: &Op, tensor: &Tensor) -> Result<()> {
    if tensor.numel() == 0 {
        return Ok(());
    }
    let dtype = tensor.dtype();
    let needed = tensor.layout().span_end().div_ceil(dtype.block_size()) * dtype.block_bytes();
    let have = cuda_buffer(tensor)?.len();
    if needed > have {
        return Err(TensorError::bad_shape(
            op.name(),
            tensor.shape(),
            format!("the {dtype} view needs {needed} bytes but its buffer has {have}"),
        ));
    }
    Ok(())
}

/// The rows of a quantized tensor (all axes but the last) as a view counted in blocks, and
/// `(rows, blocks per row)`. Each row's blocks must be dense and start on a block, and the
/// buffer must be 16-byte aligned (as every allocation of this backend is), which the
/// kernels' wide loads of block fields rely on.
fn block_rows(op: &Op, tensor: &Tensor) -> Result<(Layout, usize, usize)> {
    let (dtype, layout) = (tensor.dtype(), tensor.layout());
    let block = dtype.block_size();
    let bad = |detail: String| Err(TensorError::bad_shape(op.name(), layout.shape(), detail));
    let Some((&k, outer)) = layout.shape().split_last() else {
        return bad(format!("a {dtype} tensor needs at least one axis"));
    };
    let inner_stride = layout.strides()[outer.len()];
    let outer_strides = &layout.strides()[..outer.len()];
    let whole_blocks = layout.offset().is_multiple_of(block)
        && k.is_multiple_of(block)
        && (k <= 1 || inner_stride == 1)
        && outer
            .iter()
            .zip(outer_strides)
            .all(|(&d, &s)| d <= 1 || s.is_multiple_of(block));
    if !whole_blocks {
        return bad(format!(
            "a {dtype} view must address whole blocks of {block} along a dense last axis (strides {:?}, offset {})",
            layout.strides(),
            layout.offset()
        ));
    }
    check_inside(op, tensor)?;
    let address = base_address(tensor)?;
    if !address.is_multiple_of(16) {
        return Err(TensorError::Backend {
            backend: "cuda".into(),
            detail: format!(
                "{}: the {dtype} buffer at {address:#x} is not 16-byte aligned",
                op.name()
            ),
        });
    }
    let strides = outer_strides.iter().map(|&s| s / block).collect();
    let rows = Layout::from_parts(outer.to_vec(), strides, layout.offset() / block)?;
    Ok((rows, outer.iter().product(), k / block))
}

/// Stream-ordered scratch of `bytes` bytes, freed in stream order on drop.
fn scratch(backend: &CudaBackend, bytes: usize) -> Result<CudaBuffer> {
    // The activation quantizer writes every byte the matrix product reads.
    backend.scratch(bytes.max(16))
}

pub(crate) fn run(
    backend: &CudaBackend,
    op: &Op,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    match op {
        Op::Dequantize { .. } => dequantize(backend, op, inputs[0], output),
        Op::Quantize { dtype } => quantize(backend, op, inputs[0], *dtype, output),
        Op::QMatMul => qmatmul(backend, op, inputs[0], inputs[1], output),
        _ => unreachable!("quant::run got {}", op.name()),
    }
}

fn dequantize(backend: &CudaBackend, op: &Op, input: &Tensor, output: &Tensor) -> Result<()> {
    let format = format_code(op, input.dtype())?;
    require_float(op, output.dtype())?;
    if output.numel() == 0 {
        return Ok(());
    }
    let (rows_layout, rows, per_row) = block_rows(op, input)?;
    let k = per_row * input.dtype().block_size();
    let rows_view = StridedArg::new(&op.name(), &rows_layout)?;
    let (w, y, dt) = (
        base_address(input)?,
        dense_address(output)?,
        dtype_code(output.dtype()),
    );
    let (rows_i, k_i) = (rows as i64, k as i64);
    let config = LaunchConfig {
        grid_dim: (
            k.div_ceil(256).clamp(1, 1024) as u32,
            rows.clamp(1, MAX_GRID_Y) as u32,
            1,
        ),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    let f = backend.function("quant.cu", "tl_dequantize")?;
    launch!(backend, f, config, &format, &rows_view, &w, &rows_i, &k_i, &y, &dt)
}

fn quantize(
    backend: &CudaBackend,
    op: &Op,
    input: &Tensor,
    dtype: DType,
    output: &Tensor,
) -> Result<()> {
    let format = format_code(op, dtype)?;
    require_float(op, input.dtype())?;
    if !matches!(dtype, DType::Q8_0 | DType::Q4_0 | DType::Q4_1) {
        return Err(TensorError::unsupported_dtype(op.name(), dtype));
    }
    let n = input.numel();
    if n == 0 {
        return Ok(());
    }
    if !input.shape().last().is_some_and(|k| k.is_multiple_of(32)) {
        return Err(TensorError::bad_shape(
            op.name(),
            input.shape(),
            "the last axis must hold whole blocks of 32",
        ));
    }
    check_inside(op, input)?;
    let src = StridedArg::new(&op.name(), input.layout())?;
    let (x, dt, y) = (
        base_address(input)?,
        dtype_code(input.dtype()),
        dense_address(output)?,
    );
    let n_blocks = (n / 32) as i64;
    let f = backend.function("quant.cu", "tl_quantize_blocks")?;
    // One warp per block.
    let config = grid(n, backend.max_blocks());
    launch!(backend, f, config, &format, &src, &x, &dt, &y, &n_blocks)
}

fn qmatmul(backend: &CudaBackend, op: &Op, x: &Tensor, w: &Tensor, output: &Tensor) -> Result<()> {
    format_code(op, w.dtype())?;
    require_float(op, x.dtype())?;
    if w.rank() != 2 || x.rank() == 0 || x.shape()[x.rank() - 1] != w.shape()[1] {
        return Err(TensorError::ShapeMismatch {
            op: op.name(),
            lhs: x.shape().to_vec(),
            rhs: w.shape().to_vec(),
            detail: "expects x [.., k] and w [n, k]".into(),
        });
    }
    let (n, k) = (w.shape()[0], w.shape()[1]);
    let m = x.numel().checked_div(k).unwrap_or(0);
    if output.numel() == 0 {
        return Ok(());
    }
    if k == 0 {
        return crate::ops::execute(
            backend,
            &Op::Full {
                shape: output.shape().to_vec(),
                dtype: output.dtype(),
                value: 0.0,
            },
            &[],
            &[output],
        );
    }
    let weights = QmvWeightsArg::new(op, w, None)?;
    check_inside(op, x)?;
    let prefetch = !backend.may_be_written_in_flight(w);
    if m == 1 && k.is_multiple_of(LINEAR_INPUT_CHUNK) {
        if let Some(x_address) = vector_address(x)? {
            let input = LinearInputArg::plain(x_address, k, x.dtype());
            let y = (dense_address(output)?, output.dtype());
            if pairs_matvec(backend, w.dtype(), &weights, &input, y, (false, prefetch))? {
                return Ok(());
            }
        }
    }

    // 1. Activations: k int8 quants a row, then one float4 per 32 of them.
    let quant_bytes = m * k;
    let act_blocks = m * k / 32;
    let act = scratch(backend, quant_bytes + 16 * act_blocks)?;
    let (qs, ds) = (
        act.device_address(),
        act.device_address() + quant_bytes as u64,
    );
    let src = StridedArg::new(&op.name(), x.layout())?;
    let (x_address, dt) = (base_address(x)?, dtype_code(x.dtype()));
    let act_blocks_i = act_blocks as i64;
    let f = backend.function("quant.cu", "tl_quantize_activation")?;
    // Its early start is not noted as such: before waiting, the mat-vec after it reads only
    // weights, and only when no kernel that may still run writes them (`prefetch`); whatever
    // runs after that mat-vec finds only the mat-vec still running.
    launch!(
        backend,
        f,
        grid(act_blocks * 32, backend.max_blocks()),
        &src,
        &x_address,
        &dt,
        &qs,
        &ds,
        &act_blocks_i
    )?;

    // 2. The product.
    let product = Product {
        weights,
        prefetch,
        qs,
        ds,
        m,
        k,
        y: dense_address(output)?,
        dt: dtype_code(output.dtype()),
    };
    let few_tiles = n.div_ceil(QMM_TILE) < backend.sm_count as usize;
    if m <= MATVEC_ROWS || (m <= MATVEC_ROWS_SMALL_N && few_tiles) {
        matvec(backend, w.dtype(), &product, false)?;
    } else {
        tiled(backend, w.dtype(), &product)?;
    }
    // The scratch is freed in stream order, after the kernel that reads it.
    drop(act);
    Ok(())
}

/// Mirrors `struct QmvWeights` in kernels/quant.cu: weight rows `w_offset + j·w_stride` (in
/// blocks) of `blocks_per_row` blocks, and for a gated `Linear` the up rows `up_delta` bytes
/// after them.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct QmvWeightsArg {
    w: u64,
    /// One past the last byte of the weight's buffer.
    w_limit: u64,
    w_offset: i64,
    w_stride: i64,
    n: i64,
    blocks_per_row: i64,
    up_delta: i64,
    up_limit: u64,
}

impl QmvWeightsArg {
    /// The rows of the quantized `w [n, k]`, and of `up` (the same shape and strides) when
    /// given.
    pub(crate) fn new(op: &Op, w: &Tensor, up: Option<&Tensor>) -> Result<QmvWeightsArg> {
        let (rows, n, blocks_per_row) = block_rows(op, w)?;
        let start = |t: &Tensor, rows: &Layout| -> Result<(u64, u64)> {
            let base = base_address(t)?;
            let first = base + (rows.offset() * t.dtype().block_bytes()) as u64;
            Ok((first, base + cuda_buffer(t)?.len() as u64))
        };
        let (w_first, w_limit) = start(w, &rows)?;
        let w_stride = rows.strides().first().copied().unwrap_or(0) as i64;
        let (up_delta, up_limit) = match up {
            Some(up) => {
                let (up_rows, _, _) = block_rows(op, up)?;
                if up_rows.strides() != rows.strides() {
                    return Err(TensorError::bad_shape(
                        op.name(),
                        up.shape(),
                        "w_up's rows must have w's strides",
                    ));
                }
                let (up_first, up_limit) = start(up, &up_rows)?;
                (up_first.wrapping_sub(w_first) as i64, up_limit)
            }
            None => (0, w_limit),
        };
        Ok(QmvWeightsArg {
            w: base_address(w)?,
            w_limit,
            w_offset: rows.offset() as i64,
            w_stride,
            n: n as i64,
            blocks_per_row: blocks_per_row as i64,
            up_delta,
            up_limit,
        })
    }
}

/// The arguments of one quantized product: the weight rows, activation quants `qs` and
/// their float4s `ds`, output `y`.
struct Product {
    weights: QmvWeightsArg,
    /// No kernel that may still run writes the weights: the mat-vec may read them before it
    /// waits for the activations.
    prefetch: bool,
    qs: u64,
    ds: u64,
    m: usize,
    k: usize,
    y: u64,
    dt: i32,
}

/// Blocks and `split` of a mat-vec launch of `f` over `n` rows of `blocks_per_row` blocks:
/// few weight rows are shared by up to 4 warps, so that small matrices still spread over
/// the GPU; many run a persistent grid (a warp takes every G-th row) of as many blocks as
/// the GPU holds at once, or fewer when there are fewer rows.
fn matvec_grid(
    backend: &CudaBackend,
    f: &cudarc::driver::CudaFunction,
    dtype: DType,
    (n, blocks_per_row): (usize, usize),
    shared_bytes: usize,
) -> Result<(usize, usize)> {
    let chunks = blocks_per_row.div_ceil(chunk_blocks(dtype));
    let split: usize = if n >= 16 * backend.sm_count as usize {
        1
    } else {
        [4, 2, 1].into_iter().find(|&s| s <= chunks).unwrap_or(1)
    };
    if split > 1 {
        return Ok((n.div_ceil(QMV_WARPS / split), split));
    }
    let resident = backend.resident_blocks(f, QMV_THREADS, shared_bytes)?;
    Ok((n.div_ceil(QMV_WARPS).min(resident), 1))
}

/// A few activation rows: one pass over the weights serves a tile of up to 8 of them (one
/// row when `gated`).
fn matvec(backend: &CudaBackend, dtype: DType, p: &Product, gated: bool) -> Result<()> {
    let tile_rows = match p.m {
        1 => 1,
        2 => 2,
        3 | 4 => 4,
        _ => 8,
    };
    let name = if gated {
        gated_kernel(dtype)
    } else {
        qmv_kernel(dtype, tile_rows)
    };
    let f = backend.function("quant.cu", name)?;
    let w = &p.weights;
    let (blocks, split) = matvec_grid(
        backend,
        &f,
        dtype,
        (w.n as usize, w.blocks_per_row as usize),
        0,
    )?;
    let config = LaunchConfig {
        grid_dim: (
            blocks as u32,
            p.m.div_ceil(tile_rows).min(MAX_GRID_Y) as u32,
            1,
        ),
        block_dim: (QMV_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    let (m, k, split, prefetch) = (p.m as i64, p.k as i64, split as i32, i32::from(p.prefetch));
    launch!(backend, f, config, w, &p.qs, &p.ds, &m, &k, &p.y, &p.dt, &split, &prefetch)
}

/// `Linear` of one activation row with quantized weights: one block computes the input and
/// quantizes it (`tl_linear_input_quantize`, in place of a norm kernel and the activations'
/// quantization), then the mat-vec (gated: over w and w_up together) reads it.
pub(crate) fn linear_matvec(
    backend: &CudaBackend,
    dtype: DType,
    weights: QmvWeightsArg,
    input: &LinearInputArg,
    y: (u64, DType),
    (gated, prefetch): (bool, bool),
) -> Result<()> {
    if pairs_matvec(backend, dtype, &weights, input, y, (gated, prefetch))? {
        return Ok(());
    }
    let k = input.k as usize;
    let act = scratch(backend, k + 16 * (k / 32))?;
    let (qs, ds) = (act.device_address(), act.device_address() + k as u64);
    let f = backend.function("quant.cu", "tl_linear_input_quantize")?;
    let config = LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (LINEAR_INPUT_THREADS, 1, 1),
        shared_mem_bytes: input.scratch_bytes() as u32,
    };
    // The mat-vec after it reads the weights early only when no earlier kernel still writes
    // them, which `prefetch` was decided on; what it reads after waiting is this kernel's.
    backend.note_early_successor();
    launch!(backend, f, config, input, &qs, &ds)?;
    let product = Product {
        weights,
        prefetch,
        qs,
        ds,
        m: 1,
        k,
        y: y.0,
        dt: dtype_code(y.1),
    };
    matvec(backend, dtype, &product, gated)?;
    drop(act);
    Ok(())
}

/// Warps of a `tl_qmv_pairs_*` block (`QP_WARPS`), the block pairs of a staged chunk
/// (`QP_CHUNK`) and the bytes of an activation pair's record (`QP_RECORD`) in kernels/quant.cu.
const PAIR_WARPS: usize = 16;
const PAIR_CHUNK: usize = 32;
const PAIR_RECORD_BYTES: usize = 80;

/// Stages of a `tl_qmv_pairs_*` warp's pipeline (`QP_STAGES`).
const PAIR_STAGES: usize = 2;

/// `tl_qmv_pairs_*` for `dtype`, or None for the formats it does not take.
fn pairs_kernel(dtype: DType, gated: bool) -> Option<&'static str> {
    match (dtype, gated) {
        (DType::Q8_0, false) => Some("tl_qmv_pairs_q8_0"),
        (DType::Q8_0, true) => Some("tl_qmv_pairs_q8_0_gated"),
        (DType::Q4_0, false) => Some("tl_qmv_pairs_q4_0"),
        (DType::Q4_0, true) => Some("tl_qmv_pairs_q4_0_gated"),
        (DType::Q4_1, false) => Some("tl_qmv_pairs_q4_1"),
        (DType::Q4_1, true) => Some("tl_qmv_pairs_q4_1_gated"),
        (DType::Q4_K, false) => Some("tl_qmv_pairs_q4_k"),
        (DType::Q4_K, true) => Some("tl_qmv_pairs_q4_k_gated"),
        (DType::Q6_K, false) => Some("tl_qmv_pairs_q6_k"),
        (DType::Q6_K, true) => Some("tl_qmv_pairs_q6_k_gated"),
        _ => None,
    }
}

/// The product of one activation row, its input computed and quantized by every block
/// itself, in one `tl_qmv_pairs_*` launch; false, having done nothing, when that kernel does
/// not take the format, the row length or the weights' alignment.
fn pairs_matvec(
    backend: &CudaBackend,
    dtype: DType,
    weights: &QmvWeightsArg,
    input: &LinearInputArg,
    y: (u64, DType),
    (gated, prefetch): (bool, bool),
) -> Result<bool> {
    let Some(name) = pairs_kernel(dtype, gated) else {
        return Ok(false);
    };
    let block_bytes = dtype.block_bytes();
    let k = input.k as usize;
    // Lanes read a staged chunk from its first byte as words (Q4_K: as 16-byte vectors):
    // every row must start on one.
    let alignment = if dtype == DType::Q4_K { 16 } else { 4 };
    let aligned = |bytes: i64| bytes % alignment == 0;
    let first_row = weights.w as i64 + weights.w_offset * block_bytes as i64;
    if !k.is_multiple_of(64)
        || !aligned(first_row)
        || !aligned(weights.w_stride * block_bytes as i64)
        || (gated && !aligned(weights.up_delta))
    {
        return Ok(false);
    }
    // A chunk of pairs (64 weights each) and its alignment slack, for w and (gated) for w_up.
    let chunk_bytes = PAIR_CHUNK * 64 / dtype.block_size() * block_bytes;
    let stage_bytes = (chunk_bytes + 32) * if gated { 2 } else { 1 };
    // Formats with block minimums also keep each pair's two exact sums (8 bytes), in an
    // array rounded up to 16 bytes.
    let sums_bytes = if matches!(dtype, DType::Q4_1 | DType::Q4_K) {
        (k / 64 * 8).next_multiple_of(16)
    } else {
        0
    };
    let shared_bytes = PAIR_WARPS * PAIR_STAGES * stage_bytes
        + k / 64 * PAIR_RECORD_BYTES
        + sums_bytes
        + input.scratch_bytes();
    if shared_bytes > backend.max_shared_bytes {
        return Ok(false);
    }
    let f = backend.function_with_shared("quant.cu", name, shared_bytes)?;
    // At most one block a multiprocessor, and only as many as keep the rows of the busiest
    // warp: each block computes the input, and the multiprocessors left free take the next
    // kernel's blocks early, which request their weights while this one runs (TinyLlama's
    // 2560 qkv rows: 80 blocks of two rows a warp instead of 132 with one or two; H200
    // decode +3.8% Q4_0, +3.7% Q8_0).
    let n = weights.n as usize;
    let rows_per_warp = n.div_ceil(backend.sm_count as usize * PAIR_WARPS).max(1);
    let blocks = n.div_ceil(PAIR_WARPS * rows_per_warp);
    let config = LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: ((PAIR_WARPS * 32) as u32, 1, 1),
        shared_mem_bytes: shared_bytes as u32,
    };
    let (dt, prefetch) = (dtype_code(y.1), i32::from(prefetch));
    launch!(backend, f, config, weights, input, &y.0, &dt, &prefetch)?;
    Ok(true)
}

/// More activation rows: 64 × 64 output tiles, each weight group decoded once per tile.
fn tiled(backend: &CudaBackend, dtype: DType, p: &Product) -> Result<()> {
    let config = LaunchConfig {
        grid_dim: (
            (p.weights.n as usize).div_ceil(QMM_TILE) as u32,
            p.m.div_ceil(QMM_TILE).min(MAX_GRID_Y) as u32,
            1,
        ),
        block_dim: (QMM_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    let (n, m, k) = (p.weights.n, p.m as i64, p.k as i64);
    let f = backend.function("quant.cu", qmm_kernel(dtype))?;
    launch!(
        backend,
        f,
        config,
        &p.weights.w,
        &p.weights.w_offset,
        &p.weights.w_stride,
        &n,
        &p.qs,
        &p.ds,
        &m,
        &k,
        &p.y,
        &p.dt
    )
}
