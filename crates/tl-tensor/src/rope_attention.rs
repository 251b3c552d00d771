//! `RopeAttention` composed of the ops it stands for (`Rope`, `IndexCopy`, `Attention`): the
//! CPU backend's implementation, and the CUDA backend's where its fused kernel does not apply.

use crate::device::Device;
use crate::error::Result;
use crate::op::{Op, RopeStyle};
use crate::tensor::Tensor;

/// Runs `RopeAttention { style, base, position_scale, scale }` on `inputs` (see [`Op`]) into
/// `outputs`, which may be the cache inputs themselves.
pub fn rope_attention_composed(
    device: &Device,
    (style, base, position_scale, scale): (RopeStyle, f64, f64, f64),
    inputs: &[&Tensor],
    outputs: &[&Tensor],
) -> Result<()> {
    let (q, k, v) = (inputs[0], inputs[1], inputs[2]);
    let (k_cache, v_cache, positions) = (inputs[3], inputs[4], inputs[5]);
    let rope = |t: &Tensor| t.rope(positions, style, base, position_scale);
    for ((cache, new), out) in [(k_cache, rope(k)?), (v_cache, v.clone())]
        .into_iter()
        .zip(&outputs[1..])
    {
        if !cache.buffer().same_memory(out.buffer()) || cache.layout() != out.layout() {
            device.run_into(&Op::Contiguous, &[cache], &[out])?;
        }
        device.run_into(&Op::IndexCopy { axis: 0 }, &[out, positions, &new], &[out])?;
    }
    // [n, heads, dim] → [1, heads, n, dim] as views.
    let as_heads = |t: &Tensor| -> Result<Tensor> { t.permute(&[1, 0, 2])?.unsqueeze(0) };
    let attention = Op::Attention {
        causal: true,
        scale,
    };
    let inputs = [
        &as_heads(&rope(q)?)?,
        &as_heads(outputs[1])?,
        &as_heads(outputs[2])?,
        positions,
    ];
    let n = q.shape()[0];
    if n == 1 {
        // One query: the output [1, heads, dim] is already the attention's [1, heads, 1, dim].
        let (heads, value_dim) = (outputs[0].shape()[1], outputs[0].shape()[2]);
        return device.run_into(
            &attention,
            &inputs,
            &[&outputs[0].reshape(&[1, heads, 1, value_dim])?],
        );
    }
    let attended = device.run1(&attention, &inputs)?;
    device.run_into(
        &Op::Contiguous,
        &[&attended.squeeze(0)?.permute(&[1, 0, 2])?],
        &[outputs[0]],
    )
}
