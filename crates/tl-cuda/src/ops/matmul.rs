//! Launcher: batched GEMM through cuBLAS (few-row products go to ops/matvec.rs) (`cublasGemmStridedBatchedEx`), f32 accumulation
//! for every dtype and true f32 (not TF32) for f32 inputs.
//!
//! cuBLAS is column-major: a row-major `C[m, n] = A[m, k]·B[k, n]` is computed as the
//! column-major `Cᵀ[n, m] = Bᵀ·Aᵀ`. Each operand is used in place when one of its two
//! matrix axes has unit stride and its batch axes collapse to one stride (broadcast batch
//! axes have stride 0); otherwise it is first copied dense.

use cudarc::cublas::sys::{self as blas, cublasOperation_t};
use tl_tensor::{DType, Layout, Op, Result, Tensor, TensorError};

use crate::backend::CudaBackend;
use crate::launch::{base_address, dense_address};

/// One operand as cuBLAS sees it.
struct Operand {
    address: u64,
    transpose: bool,
    ld: i64,
    batch_stride: i64,
}

/// The strides of a batched matrix view, if cuBLAS can read it in place: `(row stride,
/// col stride, batch stride)` with the batch axes collapsed.
fn cublas_view(layout: &Layout) -> Option<(usize, usize, usize)> {
    let rank = layout.rank();
    let (shape, strides) = (layout.shape(), layout.strides());
    let batch =
        Layout::from_parts(shape[..rank - 2].to_vec(), strides[..rank - 2].to_vec(), 0).ok()?;
    let batch = if batch.numel() == 0 {
        batch
    } else {
        batch.coalesced()
    };
    let batch_stride = match batch.rank() {
        0 => 0,
        1 => batch.strides()[0],
        _ => return None,
    };
    Some((strides[rank - 2], strides[rank - 1], batch_stride))
}

/// Describes `view` (logical `[batch.., rows, cols]`) as the cuBLAS operand that yields
/// the column-major transpose `[cols, rows]`, copying it dense when needed.
fn operand(view: &Tensor, keep_alive: &mut Vec<Tensor>) -> Result<Operand> {
    let rank = view.rank();
    let (rows, cols) = (view.shape()[rank - 2], view.shape()[rank - 1]);
    let element = view.dtype().block_bytes() as u64;
    if let Some((rs, cs, bs)) = cublas_view(view.layout()) {
        let address = base_address(view)? + view.layout().offset() as u64 * element;
        // Row-major storage: the column-major reading of it is already the transpose.
        if cs == 1 || cols == 1 {
            let ld = if rows == 1 { cols.max(1) } else { rs };
            if ld >= cols.max(1) {
                return Ok(Operand {
                    address,
                    transpose: false,
                    ld: ld as i64,
                    batch_stride: bs as i64,
                });
            }
        }
        if rs == 1 || rows == 1 {
            let ld = if cols == 1 { rows.max(1) } else { cs };
            if ld >= rows.max(1) {
                return Ok(Operand {
                    address,
                    transpose: true,
                    ld: ld as i64,
                    batch_stride: bs as i64,
                });
            }
        }
    }
    let dense = view.device().run1(&Op::Contiguous, &[view])?;
    let operand = Operand {
        address: dense_address(&dense)?,
        transpose: false,
        ld: cols.max(1) as i64,
        batch_stride: (rows * cols) as i64,
    };
    keep_alive.push(dense);
    Ok(operand)
}

fn data_type(dtype: DType) -> blas::cudaDataType {
    match dtype {
        DType::F16 => blas::cudaDataType::CUDA_R_16F,
        DType::BF16 => blas::cudaDataType::CUDA_R_16BF,
        _ => blas::cudaDataType::CUDA_R_32F,
    }
}

pub(crate) fn run(
    backend: &CudaBackend,
    op: &Op,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let Op::MatMul {
        transpose_lhs,
        transpose_rhs,
    } = op
    else {
        unreachable!("matmul::run got {}", op.name());
    };
    // Decoding's few-row products are memory-bound: a streaming kernel beats cuBLAS there.
    if super::matvec::try_run(
        backend,
        inputs[0],
        inputs[1],
        *transpose_lhs,
        *transpose_rhs,
        output,
    )? {
        return Ok(());
    }
    let out_rank = output.rank();
    let (m, n) = (output.shape()[out_rank - 2], output.shape()[out_rank - 1]);
    let batch: usize = output.shape()[..out_rank - 2].iter().product();
    let logical = |t: &Tensor, transpose: bool| -> Result<Tensor> {
        let t = if transpose {
            t.transpose(-2, -1)?
        } else {
            t.clone()
        };
        let mut shape = output.shape()[..out_rank - 2].to_vec();
        shape.extend_from_slice(&t.shape()[t.rank() - 2..]);
        t.expand(&shape)
    };
    let (lhs, rhs) = (
        logical(inputs[0], *transpose_lhs)?,
        logical(inputs[1], *transpose_rhs)?,
    );
    let k = lhs.shape()[out_rank - 1];
    if m == 0 || n == 0 || batch == 0 {
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
    let mut keep_alive = Vec::new();
    // Column-major Cᵀ = Bᵀ·Aᵀ: cuBLAS's first operand is the rhs, its second the lhs.
    let first = operand(&rhs, &mut keep_alive)?;
    let second = operand(&lhs, &mut keep_alive)?;
    let op_of = |t: bool| {
        if t {
            cublasOperation_t::CUBLAS_OP_T
        } else {
            cublasOperation_t::CUBLAS_OP_N
        }
    };
    let ty = data_type(output.dtype());
    let (alpha, beta) = (1.0f32, 0.0f32);
    let c = dense_address(output)?;
    // SAFETY: addresses, leading dimensions and batch strides describe live device memory
    // covering every element cuBLAS reads or writes; the handle runs on this backend's stream.
    let status = unsafe {
        blas::cublasGemmStridedBatchedEx_64(
            *backend.blas.handle(),
            op_of(first.transpose),
            op_of(second.transpose),
            n as i64,
            m as i64,
            k as i64,
            &alpha as *const f32 as *const _,
            first.address as *const _,
            ty,
            first.ld,
            first.batch_stride,
            second.address as *const _,
            ty,
            second.ld,
            second.batch_stride,
            &beta as *const f32 as *const _,
            c as *mut _,
            ty,
            n as i64,
            (m * n) as i64,
            batch as i64,
            blas::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            blas::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
        )
    };
    status.result().map_err(|e| TensorError::Backend {
        backend: "cuda".into(),
        detail: format!("cuBLAS GEMM ({m}x{k} by {k}x{n}, batch {batch}) failed: {e:?}"),
    })?;
    drop(keep_alive);
    Ok(())
}
