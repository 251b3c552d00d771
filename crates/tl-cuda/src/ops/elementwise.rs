//! Launchers: unary, affine, binary, compare, where (op codes match kernels/elementwise.cu).

use tl_tensor::{BinaryOp, CompareOp, Op, Result, Tensor, UnaryOp};

use crate::backend::CudaBackend;
use crate::launch::{base_address, dense_address, dtype_code, grid, StridedArg};

fn unary_code(op: UnaryOp) -> i32 {
    // The position in `UnaryOp::ALL` is the kernel's op code.
    UnaryOp::ALL.iter().position(|&u| u == op).expect("listed") as i32
}

fn binary_code(op: BinaryOp) -> i32 {
    BinaryOp::ALL.iter().position(|&b| b == op).expect("listed") as i32
}

fn compare_code(op: CompareOp) -> i32 {
    CompareOp::ALL
        .iter()
        .position(|&c| c == op)
        .expect("listed") as i32
}

/// The kernel view of `input` broadcast to the output's shape.
fn broadcast_view(input: &Tensor, output: &Tensor) -> Result<StridedArg> {
    StridedArg::new("elementwise", &input.layout().expand(output.shape())?)
}

pub(crate) fn run(
    backend: &CudaBackend,
    op: &Op,
    inputs: &[&Tensor],
    output: &Tensor,
) -> Result<()> {
    let n = output.numel();
    if n == 0 {
        return Ok(());
    }
    let config = grid(n, backend.max_blocks());
    let count = n as i64;
    let y = dense_address(output)?;
    match op {
        Op::Unary(u) => {
            let (code, a) = (unary_code(*u), broadcast_view(inputs[0], output)?);
            let (x, dt) = (base_address(inputs[0])?, dtype_code(inputs[0].dtype()));
            let f = backend.function("elementwise.cu", "tl_unary")?;
            launch!(backend, f, config, &code, &a, &x, &dt, &y, &count)
        }
        Op::Affine { scale, bias } => {
            let a = broadcast_view(inputs[0], output)?;
            let (x, dt) = (base_address(inputs[0])?, dtype_code(inputs[0].dtype()));
            let (scale, bias) = (*scale as f32, *bias as f32);
            let f = backend.function("elementwise.cu", "tl_affine")?;
            launch!(backend, f, config, &a, &x, &dt, &y, &scale, &bias, &count)
        }
        Op::Binary(_) | Op::Compare(_) => {
            let (name, code) = match op {
                Op::Binary(b) => ("tl_binary", binary_code(*b)),
                Op::Compare(c) => ("tl_compare", compare_code(*c)),
                _ => unreachable!(),
            };
            let (a, b) = (
                broadcast_view(inputs[0], output)?,
                broadcast_view(inputs[1], output)?,
            );
            let (x, z) = (base_address(inputs[0])?, base_address(inputs[1])?);
            let dt = dtype_code(inputs[0].dtype());
            let f = backend.function("elementwise.cu", name)?;
            launch!(backend, f, config, &code, &a, &b, &x, &z, &dt, &y, &count)
        }
        Op::Where => {
            let c = broadcast_view(inputs[0], output)?;
            let (a, b) = (
                broadcast_view(inputs[1], output)?,
                broadcast_view(inputs[2], output)?,
            );
            let (cond, x, z) = (
                base_address(inputs[0])?,
                base_address(inputs[1])?,
                base_address(inputs[2])?,
            );
            let name = match output.dtype().block_bytes() {
                1 => "tl_where_u8",
                2 => "tl_where_u16",
                4 => "tl_where_u32",
                _ => "tl_where_u64",
            };
            let f = backend.function("elementwise.cu", name)?;
            launch!(backend, f, config, &c, &a, &b, &cond, &x, &z, &y, &count)
        }
        _ => unreachable!("elementwise::run got {}", op.name()),
    }
}
