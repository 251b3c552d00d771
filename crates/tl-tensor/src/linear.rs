//! `Linear` composed of the ops it stands for (`RmsNorm`/`AddRmsNorm`, `MatMul`/`QMatMul`,
//! `SwiGlu`): the CPU backend's implementation, and the CUDA backend's where its fused
//! kernels do not apply.

use crate::device::Device;
use crate::error::Result;
use crate::layout::Layout;
use crate::op::{LinearNorm, Op};
use crate::tensor::Tensor;

/// Runs `Linear { norm, gated }` on `inputs` (see [`Op`]) into `outputs`.
pub fn linear_composed(
    device: &Device,
    (norm, gated): (LinearNorm, bool),
    inputs: &[&Tensor],
    outputs: &[&Tensor],
) -> Result<()> {
    let x = inputs[0];
    let h = match norm {
        LinearNorm::None => x.clone(),
        LinearNorm::Rms { eps } => device.run1(&Op::RmsNorm { eps }, &[x, inputs[1]])?,
        LinearNorm::AddRms { eps } => {
            let normed = device.empty(x.shape(), x.dtype())?;
            device.run_into(
                &Op::AddRmsNorm { eps },
                &[x, inputs[1], inputs[2]],
                &[outputs[0], &normed],
            )?;
            normed
        }
    };
    let y = outputs[outputs.len() - 1];
    let n = y.shape()[y.rank() - 1];
    if !gated {
        return product(device, &h, inputs[inputs.len() - 1], y);
    }
    let (w, w_up) = (inputs[inputs.len() - 2], inputs[inputs.len() - 1]);
    // Gate and up rows that lie one after the other in memory (a joined weight split in
    // two) are one product, so the activations are read (and on the CPU quantized) once.
    let (gate, up) = match adjacent_rows(w, w_up)? {
        Some(joined) => {
            let mut shape = y.shape().to_vec();
            *shape.last_mut().expect("y has an axis") = 2 * n;
            let both = device.empty(&shape, y.dtype())?;
            product(device, &h, &joined, &both)?;
            let last = both.rank() as isize - 1;
            (both.narrow(last, 0, n)?, both.narrow(last, n, n)?)
        }
        None => {
            let gate = device.empty(y.shape(), y.dtype())?;
            let up = device.empty(y.shape(), y.dtype())?;
            product(device, &h, w, &gate)?;
            product(device, &h, w_up, &up)?;
            (gate, up)
        }
    };
    device.run_into(&Op::SwiGlu, &[&gate, &up], &[y])
}

/// `y = h · wᵀ`, `h [.., k]`, `w [n, k]` float or quantized, `y` dense.
fn product(device: &Device, h: &Tensor, w: &Tensor, y: &Tensor) -> Result<()> {
    if w.dtype().is_quantized() {
        return device.run_into(&Op::QMatMul, &[h, w], &[y]);
    }
    let k = w.shape()[1];
    let rows = h.numel().checked_div(k).unwrap_or(0);
    let h = if h.is_contiguous() {
        h.clone()
    } else {
        h.contiguous()?
    };
    device.run_into(
        &Op::MatMul {
            transpose_lhs: false,
            transpose_rhs: true,
        },
        &[&h.reshape(&[rows, k])?, w],
        &[&y.reshape(&[rows, w.shape()[0]])?],
    )
}

/// `[a; b]` as one view when `b`'s rows follow `a`'s in the same buffer with the same strides.
fn adjacent_rows(a: &Tensor, b: &Tensor) -> Result<Option<Tensor>> {
    let (la, lb) = (a.layout(), b.layout());
    let rows = a.shape()[0];
    let follows = a.buffer().same_memory(b.buffer())
        && la.strides() == lb.strides()
        && lb.offset() == la.offset() + rows * la.strides()[0];
    if !follows {
        return Ok(None);
    }
    let layout = Layout::from_parts(
        vec![2 * rows, a.shape()[1]],
        la.strides().to_vec(),
        la.offset(),
    )?;
    Ok(Some(Tensor::try_from_parts(
        a.buffer().clone(),
        layout,
        a.dtype(),
        a.device().clone(),
    )?))
}
