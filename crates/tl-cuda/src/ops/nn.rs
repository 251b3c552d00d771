//! Launchers: softmax / log_softmax (any axis), rms_norm, add_rms_norm, layer_norm, rope,
//! swiglu and attention: flash attention on the tensor cores for many f16/bf16 rows
//! (prefill), on CUDA cores otherwise (split over the keys when there are few query tiles),
//! and a one-block-per-query kernel for decoding.

use cudarc::driver::{DeviceRepr, LaunchConfig};
use tl_tensor::{DType, Layout, Op, Result, RopeStyle, Tensor, TensorError};

use crate::backend::CudaBackend;
use crate::buffer::CudaBuffer;
use crate::launch::{base_address, dense_address, dtype_code, grid, StridedArg};

const FILE: &str = "nn.cu";

/// Threads of a row-op block (`ROW_THREADS` in kernels/nn.cu).
const ROW_THREADS: u32 = 256;

/// Threads of a row-op block for a few long rows (group reductions handle up to 32 warps).
const LONG_ROW_THREADS: u32 = 1024;

/// Rows up to this long are handled by one warp; longer rows by a whole block.
const MAX_WARP_ROW: usize = 1024;

/// Query rows and keys of an attention tile, and its threads (kernels/nn.cu `ATT_*`).
const ATTENTION_ROWS: usize = 32;

/// Rows (query head, query) of a block of the narrow kernel (`4 · ATT_NARROW_ROWS`).
const ATTENTION_NARROW_ROWS: usize = 8;
const ATTENTION_KEYS: usize = 32;
const ATTENTION_THREADS: u32 = 128;

/// Largest head_dim and value_dim the attention kernel takes (32 value columns a lane).
const MAX_HEAD_DIM: usize = 256;

/// A split of the keys covers at least this many, so partials stay few.
const MIN_KEYS_PER_SPLIT: usize = 128;

/// Threads of the vector norm kernels and the vectors each keeps (`NORM_VEC_*`).
const NORM_VEC_THREADS: usize = 256;
const NORM_VEC_KEPT: usize = 4;

/// Queries per head up to which the decoding kernel (one block per query) runs, and its
/// threads (`DEC_WARPS` warps).
const MAX_DECODE_QUERIES: usize = 4;
const DECODE_THREADS: u32 = 256;

/// Rows (query head, query) of a tensor-core attention block (`MMA_BR`), its threads, and
/// the fewest rows a (batch, kv head) needs for it to run instead of the CUDA-core kernels.
const MMA_ROWS: usize = 64;
const MMA_THREADS: u32 = 128;
const MMA_MIN_ROWS: usize = 64;

pub(crate) fn run(
    backend: &CudaBackend,
    op: &Op,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
) -> Result<()> {
    if let Op::RopeAttention {
        style,
        base,
        position_scale,
        scale,
    } = op
    {
        return rope_attention(
            backend,
            (*style, *base, *position_scale, *scale),
            inputs,
            outputs,
        );
    }
    let output = outputs[0];
    if output.numel() == 0 {
        return Ok(());
    }
    match op {
        Op::Softmax { axis } => softmax(backend, false, *axis, inputs[0], output),
        Op::LogSoftmax { axis } => softmax(backend, true, *axis, inputs[0], output),
        Op::RmsNorm { eps } => rms_norm(backend, *eps, inputs, output),
        Op::AddRmsNorm { eps } => add_rms_norm(backend, *eps, inputs, outputs[0], outputs[1]),
        Op::LayerNorm { eps } => layer_norm(backend, *eps, inputs, output),
        Op::Rope {
            style,
            base,
            position_scale,
        } => rope(backend, *style, *base, *position_scale, inputs, output),
        Op::SwiGlu => swiglu(backend, inputs, output),
        Op::Attention { causal, scale } => attention(backend, *causal, *scale, inputs, output),
        _ => unreachable!("nn::run got {}", op.name()),
    }
}

/// A view split into the start of each row (every axis but the last, with the view's offset)
/// and the element stride along the last axis.
fn row_view(op: &str, layout: &Layout) -> Result<(StridedArg, i64)> {
    let rank = layout.rank();
    let rows = Layout::from_parts(
        layout.shape()[..rank - 1].to_vec(),
        layout.strides()[..rank - 1].to_vec(),
        layout.offset(),
    )?;
    Ok((
        StridedArg::new(op, &rows)?,
        layout.strides()[rank - 1] as i64,
    ))
}

/// `(offset, stride)` of a 1-D parameter view.
fn vector_view(layout: &Layout) -> (i64, i64) {
    (layout.offset() as i64, layout.strides()[0] as i64)
}

/// Launch shape of a row op: threads per row (a warp or the block) and blocks. Long rows
/// that are too few to fill the GPU (decoding's single token) get 1024-thread blocks, so
/// each thread loads a couple of elements instead of a serial run of them.
fn row_launch(backend: &CudaBackend, rows: usize, len: usize) -> (i32, LaunchConfig) {
    let threads = if len > MAX_WARP_ROW && rows < backend.sm_count as usize {
        LONG_ROW_THREADS
    } else {
        ROW_THREADS
    };
    let group = if len <= MAX_WARP_ROW { 32 } else { threads };
    let rows_per_block = (threads / group) as usize;
    let blocks = rows
        .div_ceil(rows_per_block)
        .clamp(1, backend.max_blocks() as usize * 4);
    let config = LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    };
    (group as i32, config)
}

fn softmax(
    backend: &CudaBackend,
    log: bool,
    axis: usize,
    input: &Tensor,
    output: &Tensor,
) -> Result<()> {
    let rank = input.rank();
    // The softmax axis last, for the input and for the dense output alike.
    let dims: Vec<usize> = (0..rank)
        .filter(|&a| a != axis)
        .chain(std::iter::once(axis))
        .collect();
    let (x_rows, x_step) = row_view("softmax", &input.layout().permute(&dims)?)?;
    let (y_rows, y_step) = row_view(
        "softmax",
        &Layout::contiguous(output.shape()).permute(&dims)?,
    )?;
    let d = input.shape()[axis];
    let rows = input.numel() / d;
    let (group, config) = row_launch(backend, rows, d);
    let (x, y, dt) = (
        base_address(input)?,
        dense_address(output)?,
        dtype_code(input.dtype()),
    );
    let (log_mode, rows, d) = (i32::from(log), rows as i64, d as i64);
    let f = backend.function(FILE, "tl_softmax")?;
    launch!(
        backend, f, config, &log_mode, &x_rows, &x_step, &x, &y_rows, &y_step, &y, &dt, &rows, &d,
        &group
    )
}

/// Addresses of the first element of each tensor when all are dense and 16-byte aligned with
/// rows of `d` elements that the vector kernels (`tl_*rms_norm_vec`) take, else `None`.
fn vector_rows_of(tensors: &[&Tensor], d: usize) -> Result<Option<Vec<u64>>> {
    let dtype = tensors[0].dtype();
    let per_vector = 16 / dtype.block_bytes();
    if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16)
        || d == 0
        || !d.is_multiple_of(per_vector)
        || d / per_vector > NORM_VEC_THREADS * NORM_VEC_KEPT
    {
        return Ok(None);
    }
    let mut addresses = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        let address =
            base_address(tensor)? + (tensor.layout().offset() * dtype.block_bytes()) as u64;
        if !tensor.is_contiguous() || !address.is_multiple_of(16) {
            return Ok(None);
        }
        addresses.push(address);
    }
    Ok(Some(addresses))
}

/// Runs `tl_rms_norm_vec_*` (`add` false: `residual` and `sum` unused, passed as 0) or
/// `tl_add_rms_norm_vec_*` on the addresses `[x, residual, w, sum, y]`: a block a row,
/// grid-stride beyond.
fn vector_norm(
    backend: &CudaBackend,
    dtype: DType,
    add: bool,
    [x, residual, w, sum, y]: [u64; 5],
    rows: usize,
    d: usize,
    eps: f64,
) -> Result<()> {
    let name = match (dtype, add) {
        (DType::F32, false) => "tl_rms_norm_vec_f32",
        (DType::F16, false) => "tl_rms_norm_vec_f16",
        (_, false) => "tl_rms_norm_vec_bf16",
        (DType::F32, true) => "tl_add_rms_norm_vec_f32",
        (DType::F16, true) => "tl_add_rms_norm_vec_f16",
        (_, true) => "tl_add_rms_norm_vec_bf16",
    };
    let f = backend.function(FILE, name)?;
    let config = LaunchConfig {
        grid_dim: (
            rows.clamp(1, backend.max_blocks() as usize * 4) as u32,
            1,
            1,
        ),
        block_dim: (NORM_VEC_THREADS as u32, 1, 1),
        shared_mem_bytes: 0,
    };
    let (rows, vecs, d) = (
        rows as i64,
        (d / (16 / dtype.block_bytes())) as i64,
        d as i64,
    );
    backend.note_early_successor();
    launch!(backend, f, config, &x, &residual, &w, &sum, &y, &rows, &vecs, &d, &eps)
}

fn rms_norm(backend: &CudaBackend, eps: f64, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    let (x, weight) = (inputs[0], inputs[1]);
    let d = x.shape()[x.rank() - 1];
    let rows = x.numel() / d.max(1);
    if let Some(a) = vector_rows_of(&[x, weight, output], d)? {
        return vector_norm(
            backend,
            x.dtype(),
            false,
            [a[0], 0, a[1], 0, a[2]],
            rows,
            d,
            eps,
        );
    }
    let (x_rows, x_step) = row_view("rms_norm", x.layout())?;
    let (w_offset, w_step) = vector_view(weight.layout());
    let (group, config) = row_launch(backend, rows, d);
    let (xp, wp, y, dt) = (
        base_address(x)?,
        base_address(weight)?,
        dense_address(output)?,
        dtype_code(x.dtype()),
    );
    let (rows, d) = (rows as i64, d as i64);
    let f = backend.function(FILE, "tl_rms_norm")?;
    launch!(
        backend, f, config, &x_rows, &x_step, &xp, &wp, &w_offset, &w_step, &y, &dt, &rows, &d,
        &eps, &group
    )
}

fn add_rms_norm(
    backend: &CudaBackend,
    eps: f64,
    inputs: &[&Tensor],
    sum: &Tensor,
    normed: &Tensor,
) -> Result<()> {
    let (x, residual, weight) = (inputs[0], inputs[1], inputs[2]);
    let d = x.shape()[x.rank() - 1];
    let rows = x.numel() / d.max(1);
    if let Some(a) = vector_rows_of(&[x, residual, weight, sum, normed], d)? {
        return vector_norm(
            backend,
            x.dtype(),
            true,
            [a[0], a[1], a[2], a[3], a[4]],
            rows,
            d,
            eps,
        );
    }
    let (x_rows, x_step) = row_view("add_rms_norm", x.layout())?;
    let (r_rows, r_step) = row_view("add_rms_norm", residual.layout())?;
    let (w_offset, w_step) = vector_view(weight.layout());
    let (group, config) = row_launch(backend, rows, d);
    let (xp, rp, wp) = (
        base_address(x)?,
        base_address(residual)?,
        base_address(weight)?,
    );
    let (sp, y, dt) = (
        dense_address(sum)?,
        dense_address(normed)?,
        dtype_code(x.dtype()),
    );
    let (rows, d) = (rows as i64, d as i64);
    let f = backend.function(FILE, "tl_add_rms_norm")?;
    launch!(
        backend, f, config, &x_rows, &x_step, &xp, &r_rows, &r_step, &rp, &wp, &w_offset, &w_step,
        &sp, &y, &dt, &rows, &d, &eps, &group
    )
}

fn layer_norm(backend: &CudaBackend, eps: f64, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    let (x, weight, bias) = (inputs[0], inputs[1], inputs[2]);
    let (x_rows, x_step) = row_view("layer_norm", x.layout())?;
    let (w_offset, w_step) = vector_view(weight.layout());
    let (b_offset, b_step) = vector_view(bias.layout());
    let d = x.shape()[x.rank() - 1];
    let rows = x.numel() / d;
    let (group, config) = row_launch(backend, rows, d);
    let (xp, wp, bp) = (base_address(x)?, base_address(weight)?, base_address(bias)?);
    let (y, dt) = (dense_address(output)?, dtype_code(x.dtype()));
    let (rows, d) = (rows as i64, d as i64);
    let f = backend.function(FILE, "tl_layer_norm")?;
    launch!(
        backend, f, config, &x_rows, &x_step, &xp, &wp, &w_offset, &w_step, &bp, &b_offset,
        &b_step, &y, &dt, &rows, &d, &eps, &group
    )
}

fn rope(
    backend: &CudaBackend,
    style: RopeStyle,
    base: f64,
    position_scale: f64,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let (x, positions) = (inputs[0], inputs[1]);
    let layout = x.layout();
    let rank = layout.rank();
    let (seq, heads, head_dim) = (
        layout.shape()[rank - 3],
        layout.shape()[rank - 2],
        layout.shape()[rank - 1],
    );
    // One block per row of the leading axes and seq; heads and head_dim are walked inside.
    let x_rows = StridedArg::new(
        "rope",
        &Layout::from_parts(
            layout.shape()[..rank - 2].to_vec(),
            layout.strides()[..rank - 2].to_vec(),
            layout.offset(),
        )?,
    )?;
    let (head_step, dim_step) = (
        layout.strides()[rank - 2] as i64,
        layout.strides()[rank - 1] as i64,
    );
    let (pos_offset, pos_step) = vector_view(positions.layout());
    let rows = x.numel() / (heads * head_dim).max(1);
    // Few rows (decoding): the heads are split over blocks, about a pair per thread.
    let heads_per_block = if rows < backend.sm_count as usize {
        (ROW_THREADS as usize / (head_dim / 2).max(1)).clamp(1, heads.max(1))
    } else {
        heads.max(1)
    };
    let config = LaunchConfig {
        grid_dim: (
            rows.min(backend.max_blocks() as usize * 4) as u32,
            heads.div_ceil(heads_per_block).clamp(1, 65_535) as u32,
            1,
        ),
        block_dim: (ROW_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    let heads_per_block = heads.div_ceil(heads.div_ceil(heads_per_block).clamp(1, 65_535)) as i64;
    let interleaved = i32::from(style == RopeStyle::Interleaved);
    let (xp, pp, pdt) = (
        base_address(x)?,
        base_address(positions)?,
        dtype_code(positions.dtype()),
    );
    let (y, dt) = (dense_address(output)?, dtype_code(x.dtype()));
    let (rows, seq, heads, head_dim) = (rows as i64, seq as i64, heads as i64, head_dim as i64);
    let f = backend.function(FILE, "tl_rope")?;
    launch!(
        backend,
        f,
        config,
        &interleaved,
        &x_rows,
        &head_step,
        &dim_step,
        &xp,
        &pp,
        &pdt,
        &pos_offset,
        &pos_step,
        &y,
        &dt,
        &rows,
        &seq,
        &heads,
        &head_dim,
        &base,
        &position_scale,
        &heads_per_block
    )
}

fn swiglu(backend: &CudaBackend, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    let (gate, up) = (inputs[0], inputs[1]);
    let gate_view = StridedArg::new("swiglu", gate.layout())?;
    let up_view = StridedArg::new("swiglu", up.layout())?;
    let (gp, up_p, y) = (
        base_address(gate)?,
        base_address(up)?,
        dense_address(output)?,
    );
    let (dt, n) = (dtype_code(output.dtype()), output.numel() as i64);
    let f = backend.function(FILE, "tl_swiglu")?;
    backend.note_early_successor();
    launch!(
        backend,
        f,
        grid(output.numel(), backend.max_blocks()),
        &gate_view,
        &up_view,
        &gp,
        &up_p,
        &y,
        &dt,
        &n
    )
}

/// Mirrors `RopeStep` in kernels/nn.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct RopeStep {
    k_new: u64,
    v_new: u64,
    interleaved: i32,
    /// 1 when no kernel that may still run writes the positions or the caches: the kernel
    /// reads them before it waits.
    early: i32,
    base: f64,
    position_scale: f64,
}

// SAFETY: a plain #[repr(C)] struct of integers and floats, laid out as the C struct it
// mirrors.
unsafe impl DeviceRepr for RopeStep {}

/// `RopeAttention`: one query (a decode step) whose head dims the decoding kernel takes runs
/// as one fused kernel on the caches in place (copied into the outputs first when those are
/// other tensors); anything else runs composed of `Rope`, `IndexCopy` and `Attention`.
fn rope_attention(
    backend: &CudaBackend,
    (style, base, position_scale, scale): (RopeStyle, f64, f64, f64),
    inputs: &[&Tensor],
    outputs: &[&Tensor],
) -> Result<()> {
    let (q, k, v, k_cache, v_cache, positions) = (
        inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5],
    );
    let device = q.device();
    // [a, heads, dim] → [1, heads, a, dim] as views.
    let as_heads = |t: &Tensor| -> Result<Tensor> { t.permute(&[1, 0, 2])?.unsqueeze(0) };
    let (q4, k4, v4) = (as_heads(q)?, as_heads(outputs[1])?, as_heads(outputs[2])?);
    let len = k_cache.shape()[0];
    let kernel = decode_kernel(&q4, &k4, &v4, 1, len);
    let fused = q.shape()[0] == 1 && k.is_contiguous() && v.is_contiguous() && kernel.is_some();
    if !fused {
        let params = (style, base, position_scale, scale);
        return tl_tensor::rope_attention_composed(device, params, inputs, outputs);
    }
    for (cache, out) in [(k_cache, outputs[1]), (v_cache, outputs[2])] {
        if !cache.buffer().same_memory(out.buffer()) || cache.layout() != out.layout() {
            device.run_into(&Op::Contiguous, &[cache], &[out])?;
        }
    }
    // The fused variant of the decoding kernel `decode_kernel` picked.
    let name = match kernel.unwrap_or_default() {
        "tl_attention_decode_f32_4" => "tl_rope_attention_decode_f32_4",
        "tl_attention_decode_f32_8" => "tl_rope_attention_decode_f32_8",
        "tl_attention_decode_f32_16" => "tl_rope_attention_decode_f32_16",
        "tl_attention_decode_f32_32" => "tl_rope_attention_decode_f32_32",
        "tl_attention_decode_f16_4" => "tl_rope_attention_decode_f16_4",
        "tl_attention_decode_f16_8" => "tl_rope_attention_decode_f16_8",
        "tl_attention_decode_f16_16" => "tl_rope_attention_decode_f16_16",
        "tl_attention_decode_f16_32" => "tl_rope_attention_decode_f16_32",
        "tl_attention_decode_bf16_4" => "tl_rope_attention_decode_bf16_4",
        "tl_attention_decode_bf16_8" => "tl_rope_attention_decode_bf16_8",
        "tl_attention_decode_bf16_16" => "tl_rope_attention_decode_bf16_16",
        _ => "tl_rope_attention_decode_bf16_32",
    };
    let geometry = AttentionGeometry {
        split_len: len as i64,
        ..attention_geometry(&q4, &k4, &v4, Some(positions), true, scale)?
    };
    let element = q.dtype().block_bytes() as u64;
    let step = RopeStep {
        k_new: base_address(k)? + k.layout().offset() as u64 * element,
        v_new: base_address(v)? + v.layout().offset() as u64 * element,
        interleaved: i32::from(style == RopeStyle::Interleaved),
        early: i32::from(backend.readable_before_wait([positions, outputs[1], outputs[2]])),
        base,
        position_scale,
    };
    let f = backend.function(FILE, name)?;
    let config = LaunchConfig {
        grid_dim: (q.shape()[1] as u32, 1, 1),
        block_dim: (DECODE_THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    let (qp, kp, vp, y) = (
        base_address(q)?,
        base_address(outputs[1])?,
        base_address(outputs[2])?,
        dense_address(outputs[0])?,
    );
    launch!(backend, f, config, &geometry, &qp, &kp, &vp, &y, &step)
}

/// Mirrors `struct AttentionGeometry` in kernels/nn.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct AttentionGeometry {
    q_offset: i64,
    k_offset: i64,
    v_offset: i64,
    q_strides: [i64; 4],
    k_strides: [i64; 4],
    v_strides: [i64; 4],
    q_heads: i64,
    kv_heads: i64,
    q_len: i64,
    kv_len: i64,
    head_dim: i64,
    value_dim: i64,
    group: i64,
    rows: i64,
    row_tiles: i64,
    split_len: i64,
    out_rows: i64,
    causal: i32,
    dt: i32,
    scale: f32,
    ldq: i32,
    ldk: i32,
    ldv: i32,
    q_vec: i32,
    k_vec: i32,
    v_vec: i32,
    /// Dtype code of the query positions, or -1 without them.
    pos_dt: i32,
    pos_address: u64,
    pos_offset: i64,
    pos_stride: i64,
}

// SAFETY: a plain #[repr(C)] struct of integers and floats, laid out as the C struct it
// mirrors.
unsafe impl DeviceRepr for AttentionGeometry {}

fn strides4(layout: &Layout) -> [i64; 4] {
    let s = layout.strides();
    [s[0] as i64, s[1] as i64, s[2] as i64, s[3] as i64]
}

/// 1 when every row `[.., .., .., dim]` of `tensor` is a dense run of whole 16-byte vectors
/// (buffer bases are at least 256-byte aligned, so element offsets decide).
fn vector_rows(tensor: &Tensor) -> i32 {
    let per_vector = 16 / tensor.dtype().block_bytes();
    let layout = tensor.layout();
    let strides = layout.strides();
    i32::from(
        strides[3] == 1
            && layout.shape()[3].is_multiple_of(per_vector)
            && layout.offset().is_multiple_of(per_vector)
            && strides[..3].iter().all(|s| s.is_multiple_of(per_vector)),
    )
}

/// The geometry of an attention launch; the tiling fields (`row_tiles`, `split_len`, `ld*`)
/// are left for the caller.
fn attention_geometry(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    positions: Option<&Tensor>,
    causal: bool,
    scale: f64,
) -> Result<AttentionGeometry> {
    let (batch, q_heads, q_len, head_dim) =
        (q.shape()[0], q.shape()[1], q.shape()[2], q.shape()[3]);
    let (kv_heads, kv_len, value_dim) = (k.shape()[1], k.shape()[2], v.shape()[3]);
    Ok(AttentionGeometry {
        q_offset: q.layout().offset() as i64,
        k_offset: k.layout().offset() as i64,
        v_offset: v.layout().offset() as i64,
        q_strides: strides4(q.layout()),
        k_strides: strides4(k.layout()),
        v_strides: strides4(v.layout()),
        q_heads: q_heads as i64,
        kv_heads: kv_heads as i64,
        q_len: q_len as i64,
        kv_len: kv_len as i64,
        head_dim: head_dim as i64,
        value_dim: value_dim as i64,
        group: (q_heads / kv_heads) as i64,
        rows: (q_heads / kv_heads * q_len) as i64,
        row_tiles: 0,
        split_len: 0,
        out_rows: (batch * q_heads * q_len) as i64,
        causal: i32::from(causal),
        dt: dtype_code(q.dtype()),
        scale: scale as f32,
        ldq: 0,
        ldk: 0,
        ldv: 0,
        q_vec: vector_rows(q),
        k_vec: vector_rows(k),
        v_vec: vector_rows(v),
        pos_dt: positions.map_or(-1, |p| dtype_code(p.dtype())),
        pos_address: positions.map_or(Ok(0), base_address)?,
        pos_offset: positions.map_or(0, |p| p.layout().offset() as i64),
        pos_stride: positions.map_or(0, |p| p.layout().strides()[0] as i64),
    })
}

/// The decoding kernel for a few queries over keys and values whose rows are dense 16-byte
/// vectors, with `head_dim == value_dim` a whole number of vectors that divides a warp;
/// `None` where the flash kernels must run.
fn decode_kernel(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    q_len: usize,
    kv_len: usize,
) -> Option<&'static str> {
    let (head_dim, value_dim) = (q.shape()[3], v.shape()[3]);
    let per_vector = 16 / q.dtype().block_bytes();
    if q_len > MAX_DECODE_QUERIES
        || kv_len == 0
        || head_dim != value_dim
        || !head_dim.is_multiple_of(per_vector)
        || vector_rows(k) == 0
        || vector_rows(v) == 0
    {
        return None;
    }
    Some(match (q.dtype(), head_dim / per_vector) {
        (DType::F32, 4) => "tl_attention_decode_f32_4",
        (DType::F32, 8) => "tl_attention_decode_f32_8",
        (DType::F32, 16) => "tl_attention_decode_f32_16",
        (DType::F32, 32) => "tl_attention_decode_f32_32",
        (DType::F16, 4) => "tl_attention_decode_f16_4",
        (DType::F16, 8) => "tl_attention_decode_f16_8",
        (DType::F16, 16) => "tl_attention_decode_f16_16",
        (DType::F16, 32) => "tl_attention_decode_f16_32",
        (DType::BF16, 4) => "tl_attention_decode_bf16_4",
        (DType::BF16, 8) => "tl_attention_decode_bf16_8",
        (DType::BF16, 16) => "tl_attention_decode_bf16_16",
        (DType::BF16, 32) => "tl_attention_decode_bf16_32",
        _ => return None,
    })
}

fn attention(
    backend: &CudaBackend,
    causal: bool,
    scale: f64,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let (q, k, v) = (inputs[0], inputs[1], inputs[2]);
    let positions = inputs.get(3).copied();
    let (batch, q_heads, q_len, head_dim) =
        (q.shape()[0], q.shape()[1], q.shape()[2], q.shape()[3]);
    let (kv_heads, kv_len, value_dim) = (k.shape()[1], k.shape()[2], v.shape()[3]);
    if head_dim > MAX_HEAD_DIM || value_dim > MAX_HEAD_DIM {
        return Err(TensorError::bad_shape(
            "attention",
            &[batch, q_heads, q_len, head_dim.max(value_dim)],
            format!("the CUDA backend supports head_dim and value_dim up to {MAX_HEAD_DIM}"),
        ));
    }
    let group = q_heads / kv_heads;
    let rows = group * q_len;
    if let Some(name) = decode_kernel(q, k, v, q_len, kv_len) {
        let geometry = AttentionGeometry {
            split_len: kv_len as i64,
            ..attention_geometry(q, k, v, positions, causal, scale)?
        };
        let f = backend.function(FILE, name)?;
        let config = LaunchConfig {
            grid_dim: ((batch * q_heads * q_len) as u32, 1, 1),
            block_dim: (DECODE_THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        let (qp, kp, vp, y) = (
            base_address(q)?,
            base_address(k)?,
            base_address(v)?,
            dense_address(output)?,
        );
        return launch!(backend, f, config, &geometry, &qp, &kp, &vp, &y);
    }
    let (qp, kp, vp, y) = (
        base_address(q)?,
        base_address(k)?,
        base_address(v)?,
        dense_address(output)?,
    );
    if let Some(name) = mma_kernel(q, k, v, rows) {
        let row_tiles = rows.div_ceil(MMA_ROWS);
        let geometry = AttentionGeometry {
            row_tiles: row_tiles as i64,
            split_len: kv_len as i64,
            ..attention_geometry(q, k, v, positions, causal, scale)?
        };
        // q's tile and two buffers each of K and V (`attention_mma` in kernels/nn.cu).
        let shared_bytes = 5 * MMA_ROWS * (head_dim + 8) * 2;
        let f = backend.function_with_shared(FILE, name, shared_bytes)?;
        let config = LaunchConfig {
            grid_dim: ((batch * kv_heads * row_tiles) as u32, 1, 1),
            block_dim: (MMA_THREADS, 1, 1),
            shared_mem_bytes: shared_bytes as u32,
        };
        return launch!(backend, f, config, &geometry, &qp, &kp, &vp, &y);
    }
    // Few rows (decoding): the narrow kernel spreads them over all four warps.
    let narrow = rows <= ATTENTION_NARROW_ROWS;
    let block_rows = if narrow {
        ATTENTION_NARROW_ROWS
    } else {
        ATTENTION_ROWS
    };
    let row_tiles = rows.div_ceil(block_rows);
    let blocks = batch * kv_heads * row_tiles;
    // Too few query tiles to fill the GPU (decoding): split the keys across blocks too.
    let wanted = backend.sm_count as usize * 2;
    let splits = if blocks >= wanted {
        1
    } else {
        wanted
            .div_ceil(blocks)
            // With query positions most of a whole-cache k is never read, and a split
            // past the last position costs nearly nothing: split finely.
            .min(
                kv_len
                    / if positions.is_some() {
                        ATTENTION_KEYS
                    } else {
                        MIN_KEYS_PER_SPLIT
                    },
            )
            .clamp(1, 65_535)
    };
    let split_len = kv_len
        .div_ceil(splits)
        .next_multiple_of(ATTENTION_KEYS)
        .max(ATTENTION_KEYS);
    let splits = kv_len.div_ceil(split_len).max(1);
    let dpad = head_dim.next_multiple_of(4);
    // An odd number of float4s per K row keeps a warp's float4 loads free of bank conflicts.
    let ldk = if (dpad / 4) % 2 == 0 { dpad + 4 } else { dpad };
    let ldv = value_dim.next_multiple_of(4);
    let shared_bytes =
        4 * (block_rows * dpad + ATTENTION_KEYS * (ldk + ldv) + block_rows * ATTENTION_KEYS);
    let out_rows = batch * q_heads * q_len;
    let geometry = AttentionGeometry {
        row_tiles: row_tiles as i64,
        split_len: split_len as i64,
        ldq: dpad as i32,
        ldk: ldk as i32,
        ldv: ldv as i32,
        ..attention_geometry(q, k, v, positions, causal, scale)?
    };
    let name = match (narrow, value_dim) {
        (false, 0..=32) => "tl_attention_1",
        (false, 33..=64) => "tl_attention_2",
        (false, 65..=128) => "tl_attention_4",
        (false, _) => "tl_attention_8",
        (true, 0..=32) => "tl_attention_narrow_1",
        (true, 33..=64) => "tl_attention_narrow_2",
        (true, 65..=128) => "tl_attention_narrow_4",
        (true, _) => "tl_attention_narrow_8",
    };
    let f = backend.function_with_shared(FILE, name, shared_bytes)?;
    let config = LaunchConfig {
        grid_dim: (blocks as u32, splits as u32, 1),
        block_dim: (ATTENTION_THREADS, 1, 1),
        shared_mem_bytes: shared_bytes as u32,
    };
    if splits == 1 {
        // The partial buffers are never touched with one split.
        let none = 0u64;
        return launch!(backend, f, config, &geometry, &qp, &kp, &vp, &y, &none, &none);
    }
    let part_o = scratch(backend, splits * out_rows * value_dim * 4)?;
    let part_ml = scratch(backend, splits * out_rows * 2 * 4)?;
    let (po, pml) = (part_o.device_address(), part_ml.device_address());
    launch!(backend, f, config, &geometry, &qp, &kp, &vp, &y, &po, &pml)?;
    let (dt, out_rows, value_dim, splits) = (
        dtype_code(q.dtype()),
        out_rows as i64,
        value_dim as i64,
        splits as i64,
    );
    let combine = backend.function(FILE, "tl_attention_combine")?;
    launch!(
        backend,
        combine,
        grid(output.numel(), backend.max_blocks()),
        &po,
        &pml,
        &y,
        &dt,
        &out_rows,
        &value_dim,
        &splits
    )
}

/// The tensor-core attention kernel for f16/bf16 with `head_dim == value_dim` of 64 or 128,
/// rows of q, k and v that are dense 16-byte vectors and enough rows a (batch, kv head) to
/// fill its tiles; `None` where the CUDA-core kernels must run.
fn mma_kernel(q: &Tensor, k: &Tensor, v: &Tensor, rows: usize) -> Option<&'static str> {
    let (head_dim, value_dim) = (q.shape()[3], v.shape()[3]);
    if rows < MMA_MIN_ROWS
        || head_dim != value_dim
        || vector_rows(q) == 0
        || vector_rows(k) == 0
        || vector_rows(v) == 0
    {
        return None;
    }
    Some(match (q.dtype(), head_dim) {
        (DType::F16, 64) => "tl_attention_mma_f16_64",
        (DType::F16, 128) => "tl_attention_mma_f16_128",
        (DType::BF16, 64) => "tl_attention_mma_bf16_64",
        (DType::BF16, 128) => "tl_attention_mma_bf16_128",
        _ => return None,
    })
}

/// Stream-ordered scratch of `bytes` bytes, freed in stream order when dropped (after the
/// kernels that use it are enqueued).
fn scratch(backend: &CudaBackend, bytes: usize) -> Result<CudaBuffer> {
    // The attention kernel writes every partial slot before the combine kernel reads.
    backend.scratch(bytes.max(4))
}
