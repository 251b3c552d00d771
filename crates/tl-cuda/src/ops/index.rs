//! Launchers: index_select (byte rows, quantized too), gather, scatter_add and index_add
//! (one deterministic kernel), embedding_bag. Out-of-range indices are not errors here; see
//! the header of kernels/index.cu for what they do.

use cudarc::driver::{DeviceRepr, LaunchConfig};
use tl_tensor::{BagMode, Layout, Op, Result, Tensor, TensorError};

use crate::backend::CudaBackend;
use crate::launch::{base_address, byte_layout, dense_address, dtype_code, grid, StridedArg};

const FILE: &str = "index.cu";

/// Rank limit of `AddGeometry` (`INDEX_MAX_RANK` in kernels/index.cu).
const ADD_MAX_RANK: usize = 8;

/// Rows of at least this many units are copied one block per row.
const MIN_UNITS_PER_BLOCK_ROW: usize = 32;

pub(crate) fn run(
    backend: &CudaBackend,
    op: &Op,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    if output.numel() == 0 {
        return Ok(());
    }
    match op {
        Op::IndexSelect { axis } => index_select(backend, *axis, inputs[0], inputs[1], output),
        Op::Gather { axis } => gather(backend, *axis, inputs[0], inputs[1], output),
        Op::ScatterAdd { axis } | Op::IndexAdd { axis } => {
            add_at(backend, op, *axis, inputs, output)
        }
        Op::IndexCopy { axis } => index_copy(backend, *axis, inputs, output),
        Op::EmbeddingBag { mode } => embedding_bag(backend, *mode, inputs[0], inputs[1], output),
        _ => unreachable!("index::run got {}", op.name()),
    }
}

/// Copies whole slices along `axis` as bytes, in the widest unit that divides every byte
/// stride, offset and run (and both base addresses).
fn index_select(
    backend: &CudaBackend,
    axis: usize,
    src: &Tensor,
    indices: &Tensor,
    output: &Tensor,
) -> Result<()> {
    let bytes = byte_layout(src.dtype(), src.layout());
    let (shape, strides) = (bytes.shape(), bytes.strides());
    let outer = Layout::from_parts(
        shape[..axis].to_vec(),
        strides[..axis].to_vec(),
        bytes.offset(),
    )?;
    let inner = Layout::from_parts(shape[axis + 1..].to_vec(), strides[axis + 1..].to_vec(), 0)?
        .coalesced();
    let (axis_stride, size) = (strides[axis], shape[axis]);
    let (x, y) = (base_address(src)?, dense_address(output)?);
    let inner_dense = inner.strides().last() == Some(&1);
    let unit = [16usize, 8, 4, 2]
        .into_iter()
        .find(|&u| {
            let rank = inner.rank();
            inner_dense
                && inner.shape()[rank - 1].is_multiple_of(u)
                && inner.strides()[..rank - 1]
                    .iter()
                    .chain(outer.strides())
                    .all(|s| s.is_multiple_of(u))
                && axis_stride.is_multiple_of(u)
                && bytes.offset().is_multiple_of(u)
                && x.is_multiple_of(u as u64)
                && y.is_multiple_of(u as u64)
        })
        .unwrap_or(1);
    // The views in units: strides and offsets divide; the dense last inner axis shortens.
    let outer_units = Layout::from_parts(
        outer.shape().to_vec(),
        outer.strides().iter().map(|s| s / unit).collect(),
        outer.offset() / unit,
    )?;
    let mut inner_shape = inner.shape().to_vec();
    let mut inner_strides: Vec<usize> = inner.strides().iter().map(|s| s / unit).collect();
    if let (true, Some(last), Some(step)) =
        (unit > 1, inner_shape.last_mut(), inner_strides.last_mut())
    {
        *last /= unit;
        *step = 1;
    }
    let inner_units = Layout::from_parts(inner_shape, inner_strides, 0)?;
    let inner_len = inner_units.numel();
    let n = indices.shape()[0];
    let rows = outer.numel() * n;
    if rows == 0 || inner_len == 0 {
        return Ok(());
    }
    let outer_arg = StridedArg::new("index_select", &outer_units)?;
    let inner_arg = StridedArg::new("index_select", &inner_units)?;
    let idx_arg = StridedArg::new("index_select", indices.layout())?;
    let (ip, idt) = (base_address(indices)?, dtype_code(indices.dtype()));
    let (axis_stride, size) = ((axis_stride / unit) as i64, size as i64);
    let (n, rows_i, inner_len_i) = (n as i64, rows as i64, inner_len as i64);
    let by_rows = inner_len >= MIN_UNITS_PER_BLOCK_ROW;
    let name = match (by_rows, unit) {
        (true, 16) => "tl_index_select_rows_u128",
        (true, 8) => "tl_index_select_rows_u64",
        (true, 4) => "tl_index_select_rows_u32",
        (true, 2) => "tl_index_select_rows_u16",
        (true, _) => "tl_index_select_rows_u8",
        (false, 16) => "tl_index_select_flat_u128",
        (false, 8) => "tl_index_select_flat_u64",
        (false, 4) => "tl_index_select_flat_u32",
        (false, 2) => "tl_index_select_flat_u16",
        (false, _) => "tl_index_select_flat_u8",
    };
    let config = if by_rows {
        LaunchConfig {
            grid_dim: (rows.min(backend.max_blocks() as usize * 4) as u32, 1, 1),
            block_dim: (inner_len.next_multiple_of(32).min(256) as u32, 1, 1),
            shared_mem_bytes: 0,
        }
    } else {
        grid(rows * inner_len, backend.max_blocks())
    };
    let f = backend.function(FILE, name)?;
    launch!(
        backend,
        f,
        config,
        &outer_arg,
        &inner_arg,
        &axis_stride,
        &size,
        &idx_arg,
        &ip,
        &idt,
        &x,
        &y,
        &n,
        &rows_i,
        &inner_len_i
    )
}

fn gather(
    backend: &CudaBackend,
    axis: usize,
    src: &Tensor,
    index: &Tensor,
    output: &Tensor,
) -> Result<()> {
    let layout = src.layout();
    let mut strides = layout.strides().to_vec();
    let axis_stride = strides[axis] as i64;
    strides[axis] = 0;
    // The source seen with the index's shape; the index moves each element along the axis.
    let moved = Layout::from_parts(index.shape().to_vec(), strides, layout.offset())?;
    let src_arg = StridedArg::new("gather", &moved)?;
    let idx_arg = StridedArg::new("gather", index.layout())?;
    let size = layout.shape()[axis] as i64;
    let (x, y) = (base_address(src)?, dense_address(output)?);
    let (ip, idt) = (base_address(index)?, dtype_code(index.dtype()));
    let count = output.numel() as i64;
    let name = by_element_size(
        src.dtype(),
        [
            "tl_gather_u8",
            "tl_gather_u16",
            "tl_gather_u32",
            "tl_gather_u64",
        ],
    );
    let f = backend.function(FILE, name)?;
    launch!(
        backend,
        f,
        grid(output.numel(), backend.max_blocks()),
        &src_arg,
        &axis_stride,
        &size,
        &idx_arg,
        &ip,
        &idt,
        &x,
        &y,
        &count
    )
}

/// The kernel of `names` (for 1-, 2-, 4- and 8-byte elements) that moves `dtype`'s elements.
fn by_element_size(dtype: tl_tensor::DType, names: [&'static str; 4]) -> &'static str {
    match dtype.block_bytes() {
        1 => names[0],
        2 => names[1],
        4 => names[2],
        _ => names[3],
    }
}

/// Copies the destination unless the output is the destination itself, then writes the
/// source slices at their targets.
fn index_copy(
    backend: &CudaBackend,
    axis: usize,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let (dst, indices, src) = (inputs[0], inputs[1], inputs[2]);
    let in_place = dst.buffer().same_memory(output.buffer()) && dst.layout() == output.layout();
    if !in_place {
        super::copy::run(backend, &Op::Contiguous, &[dst], output)?;
    }
    if src.numel() == 0 {
        return Ok(());
    }
    let shape = output.shape();
    let inner: usize = shape[axis + 1..].iter().product();
    let src_arg = StridedArg::new("index_copy", src.layout())?;
    let idx_arg = StridedArg::new("index_copy", indices.layout())?;
    let (x, y) = (base_address(src)?, dense_address(output)?);
    let (ip, idt) = (base_address(indices)?, dtype_code(indices.dtype()));
    let (count, inner, size, total) = (
        indices.numel() as i64,
        inner as i64,
        shape[axis] as i64,
        src.numel() as i64,
    );
    let name = by_element_size(
        src.dtype(),
        [
            "tl_index_copy_u8",
            "tl_index_copy_u16",
            "tl_index_copy_u32",
            "tl_index_copy_u64",
        ],
    );
    let f = backend.function(FILE, name)?;
    launch!(
        backend,
        f,
        grid(src.numel(), backend.max_blocks()),
        &src_arg,
        &idx_arg,
        &ip,
        &idt,
        &x,
        &y,
        &count,
        &inner,
        &size,
        &total
    )
}

/// Mirrors `struct AddGeometry` in kernels/index.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct AddGeometry {
    rank: i32,
    axis: i32,
    len: i64,
    dst_offset: i64,
    idx_offset: i64,
    src_offset: i64,
    shape: [i64; ADD_MAX_RANK],
    limit: [i64; ADD_MAX_RANK],
    dst_strides: [i64; ADD_MAX_RANK],
    idx_strides: [i64; ADD_MAX_RANK],
    src_strides: [i64; ADD_MAX_RANK],
}

// SAFETY: a plain #[repr(C)] struct of integers, laid out as the C struct it mirrors.
unsafe impl DeviceRepr for AddGeometry {}

fn filled(values: impl IntoIterator<Item = usize>, fill: i64) -> [i64; ADD_MAX_RANK] {
    let mut out = [fill; ADD_MAX_RANK];
    for (slot, v) in out.iter_mut().zip(values) {
        *slot = v as i64;
    }
    out
}

/// ScatterAdd and IndexAdd: each output element sums its contributions in index order.
fn add_at(
    backend: &CudaBackend,
    op: &Op,
    axis: usize,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let (dst, index, src) = (inputs[0], inputs[1], inputs[2]);
    let shape = output.shape();
    let rank = shape.len();
    if rank > ADD_MAX_RANK {
        return Err(TensorError::bad_shape(
            op.name(),
            shape,
            format!("the CUDA backend supports at most {ADD_MAX_RANK} axes here"),
        ));
    }
    let (len, limit, idx_strides) = match op {
        Op::ScatterAdd { .. } => (
            index.shape()[axis],
            filled(index.shape().iter().copied(), 1),
            filled(index.layout().strides().iter().copied(), 0),
        ),
        _ => {
            let mut strides = [0; ADD_MAX_RANK];
            strides[axis] = index.layout().strides()[0] as i64;
            (index.shape()[0], filled(shape.iter().copied(), 1), strides)
        }
    };
    let geometry = AddGeometry {
        rank: rank as i32,
        axis: axis as i32,
        len: len as i64,
        dst_offset: dst.layout().offset() as i64,
        idx_offset: index.layout().offset() as i64,
        src_offset: src.layout().offset() as i64,
        shape: filled(shape.iter().copied(), 1),
        limit,
        dst_strides: filled(dst.layout().strides().iter().copied(), 0),
        idx_strides,
        src_strides: filled(src.layout().strides().iter().copied(), 0),
    };
    let (d, ip, s, y) = (
        base_address(dst)?,
        base_address(index)?,
        base_address(src)?,
        dense_address(output)?,
    );
    let (idt, dt, count) = (
        dtype_code(index.dtype()),
        dtype_code(output.dtype()),
        output.numel() as i64,
    );
    let f = backend.function(FILE, "tl_add_at")?;
    launch!(
        backend,
        f,
        grid(output.numel(), backend.max_blocks()),
        &geometry,
        &d,
        &ip,
        &idt,
        &s,
        &dt,
        &y,
        &count
    )
}

fn embedding_bag(
    backend: &CudaBackend,
    mode: BagMode,
    table: &Tensor,
    indices: &Tensor,
    output: &Tensor,
) -> Result<()> {
    let mode_code: i32 = match mode {
        BagMode::Sum => 0,
        BagMode::Mean => 1,
        BagMode::Max => 2,
    };
    let (t, tl) = (table.layout(), indices.layout());
    let (table_offset, row_stride, col_stride, rows) = (
        t.offset() as i64,
        t.strides()[0] as i64,
        t.strides()[1] as i64,
        t.shape()[0] as i64,
    );
    let (idx_offset, bag_stride, item_stride, per_bag) = (
        tl.offset() as i64,
        tl.strides()[0] as i64,
        tl.strides()[1] as i64,
        tl.shape()[1] as i64,
    );
    let (x, dt) = (base_address(table)?, dtype_code(table.dtype()));
    let (ip, idt) = (base_address(indices)?, dtype_code(indices.dtype()));
    let (y, dim, count) = (
        dense_address(output)?,
        output.shape()[1] as i64,
        output.numel() as i64,
    );
    let f = backend.function(FILE, "tl_embedding_bag")?;
    launch!(
        backend,
        f,
        grid(output.numel(), backend.max_blocks()),
        &mode_code,
        &x,
        &dt,
        &table_offset,
        &row_stride,
        &col_stride,
        &rows,
        &ip,
        &idt,
        &idx_offset,
        &bag_stride,
        &item_stride,
        &per_bag,
        &y,
        &dim,
        &count
    )
}
