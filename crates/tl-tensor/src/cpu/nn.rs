//! CPU kernels: the fused neural-network ops (softmax, norms, rope, swiglu, attention).
//!
//! Every kernel widens its inputs to f32 row by row, computes in f32 and rounds once when it
//! stores, so f16 and bf16 tensors get f32 accuracy up to that final rounding.

mod attention;
mod norm;
mod rope;
pub(super) mod rows;
mod softmax;
mod split_key_attention;
mod swiglu;

use crate::error::Result;
use crate::op::Op;
use crate::tensor::Tensor;
use crate::with_float_type;

pub(crate) fn run(op: &Op, inputs: &[&Tensor], outputs: &[&Tensor]) -> Result<()> {
    let output = outputs[0];
    with_float_type!(output.dtype(), T => match op {
        Op::Softmax { axis } => softmax::run::<T>(inputs[0], *axis, false, output),
        Op::LogSoftmax { axis } => softmax::run::<T>(inputs[0], *axis, true, output),
        Op::RmsNorm { eps } => norm::rms_norm::<T>(inputs[0], inputs[1], *eps, output),
        Op::AddRmsNorm { eps } => norm::add_rms_norm::<T>(inputs, *eps, outputs[0], outputs[1]),
        Op::LayerNorm { eps } => norm::layer_norm::<T>(inputs, *eps, output),
        Op::Rope {
            style,
            base,
            position_scale,
        } => rope::run::<T>(inputs[0], inputs[1], *style, *base, *position_scale, output),
        Op::SwiGlu => swiglu::run::<T>(inputs[0], inputs[1], output),
        Op::Attention { causal, scale } => {
            attention::run::<T>(inputs, *causal, *scale, output)
        }
        _ => unreachable!("nn::run got {}", op.name()),
    }, _ => unreachable!("{} of {} is rejected by the signature", op.name(), output.dtype()))
}
