//! Launchers: contiguous, concat (strided copies in the widest unit) and cast.

use tl_tensor::{Layout, Op, Result, Tensor};

use crate::backend::CudaBackend;
use crate::launch::{
    base_address, byte_layout, dense_address, dtype_code, grid, unit_views, StridedArg,
};

pub(crate) fn run(
    backend: &CudaBackend,
    op: &Op,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    match op {
        Op::Contiguous => {
            let dense = Layout::contiguous(output.shape());
            copy_view(backend, inputs[0], &dense, dense_address(output)?)
        }
        Op::Concat { axis } => {
            let mut start = 0;
            let dense = Layout::contiguous(output.shape());
            for input in inputs {
                let len = input.shape()[*axis];
                let region = dense.narrow(*axis as isize, start, len)?;
                copy_view(backend, input, &region, dense_address(output)?)?;
                start += len;
            }
            Ok(())
        }
        Op::Cast { dtype } => {
            let n = output.numel();
            if n == 0 {
                return Ok(());
            }
            let src = StridedArg::new("cast", inputs[0].layout())?;
            let (x, y) = (base_address(inputs[0])?, dense_address(output)?);
            let (dt_in, dt_out, count) =
                (dtype_code(inputs[0].dtype()), dtype_code(*dtype), n as i64);
            let f = backend.function("copy.cu", "tl_cast")?;
            launch!(
                backend,
                f,
                grid(n, backend.max_blocks()),
                &src,
                &x,
                &dt_in,
                &y,
                &dt_out,
                &count
            )
        }
        _ => unreachable!("copy::run got {}", op.name()),
    }
}

/// Copies the elements of `input` into the view `dst` (elements, relative to `dst_base`).
fn copy_view(backend: &CudaBackend, input: &Tensor, dst: &Layout, dst_base: u64) -> Result<()> {
    let dtype = input.dtype();
    if input.numel() == 0 {
        return Ok(());
    }
    let (unit, src_units, dst_units) = unit_views(
        &byte_layout(dtype, input.layout()),
        &byte_layout(dtype, dst),
    );
    let n: usize = src_units.shape().iter().product();
    let src = StridedArg::new("contiguous", &src_units)?;
    let dst = StridedArg::new("contiguous", &dst_units)?;
    let (x, count) = (base_address(input)?, n as i64);
    let name = match unit {
        16 => "tl_copy_u128",
        8 => "tl_copy_u64",
        4 => "tl_copy_u32",
        2 => "tl_copy_u16",
        _ => "tl_copy_u8",
    };
    let f = backend.function("copy.cu", name)?;
    launch!(
        backend,
        f,
        grid(n, backend.max_blocks()),
        &src,
        &dst,
        &x,
        &dst_base,
        &count
    )
}
