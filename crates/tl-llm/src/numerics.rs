//! `Numerics`: how the llama forward pass rounds its intermediate values — our own way, or
//! the way llama.cpp's CPU backend does, so that the two can be compared at near-ties.

/// How the forward pass rounds intermediate values.
///
/// Both modes compute the same function; they differ only in where values are rounded, which
/// moves logits by a few hundredths and can flip the top token where two candidates are
/// nearly tied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Numerics {
    /// Our own arithmetic: activations in f32 (or the weights' f16/bf16), quantized inside
    /// each quantized mat-vec with f32 block scales, the offset of Q4_1-style weights
    /// meeting the exact activation sum; the KV cache in the activation dtype; attention in
    /// one fused op.
    #[default]
    Native,
    /// llama.cpp's CPU arithmetic (ggml-cpu, flash attention off as llama-cpp-python
    /// defaults to, KV cache in f16):
    /// - before a mat-vec with Q4_0/Q4_1/Q8_0 weights the activations are rounded to Q8
    ///   blocks of 32 with an f16 scale `amax / 127` (`quantize_row_q8_0`/`q8_1`), so the
    ///   weights meet `d₁₆ · q` instead of the activations themselves; before one with f16
    ///   weights they are rounded to f16;
    /// - keys and values are stored in f16, queries are rounded to f16 for `q · kᵀ`
    ///   (ggml converts the right operand of an f16 mat-mul to f16), and the softmax
    ///   probabilities are rounded to f16 before they weight the values.
    ///
    /// The Q4_1 offsets meet ggml's `s = f16(d · Σq)` (a correction added after our
    /// mat-vec). Not emulated: the Q8_K activation blocks of K-quant weights, bf16 weights,
    /// and the order of ggml's f32 sums, which is why logits still differ by a few tenths on
    /// quantized models (see tests/llama_forward.rs).
    LlamaCpp,
}
