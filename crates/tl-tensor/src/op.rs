//! The closed set of tensor operations every backend implements.
//!
//! Axes stored in an `Op` are already normalised (non-negative, in range); the `Tensor` API
//! accepts negative axes and normalises them. Output shapes and dtypes are derived from the
//! inputs by [`crate::signature`], which also rejects invalid combinations with typed errors,
//! so backends may assume their inputs are valid.

use crate::DType;

/// Elementwise functions of one argument. Float dtypes only, except `Neg`, `Abs`, `Square`
/// and `Relu`, which also accept `i32`/`i64` (wrapping: `abs(MIN) = MIN`). `Relu(NaN)` is
/// NaN; `Step(NaN)` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    /// `1 / sqrt(x)`.
    Rsqrt,
    /// `1 / x`.
    Recip,
    Sin,
    Cos,
    Tanh,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    Relu,
    /// `x · Φ(x)` with the exact normal CDF (erf form).
    GeluErf,
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    GeluTanh,
    /// `x · sigmoid(x)`.
    Silu,
    /// Heaviside step: 1 where `x > 0`, else 0 (the Datalog rule nonlinearity).
    Step,
    Square,
    Floor,
    Ceil,
    /// Round half to even, as numpy and PyTorch do.
    Round,
}

impl UnaryOp {
    pub const ALL: [UnaryOp; 20] = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Recip,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::GeluErf,
        UnaryOp::GeluTanh,
        UnaryOp::Silu,
        UnaryOp::Step,
        UnaryOp::Square,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Round,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Recip => "recip",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::GeluErf => "gelu_erf",
            UnaryOp::GeluTanh => "gelu_tanh",
            UnaryOp::Silu => "silu",
            UnaryOp::Step => "step",
            UnaryOp::Square => "square",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::Round => "round",
        }
    }

    /// Whether the op is defined on integer dtypes.
    pub fn accepts_integers(self) -> bool {
        matches!(
            self,
            UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Square | UnaryOp::Relu
        )
    }
}

/// Elementwise functions of two arguments, with numpy broadcasting and arbitrary strides.
/// Both operands have the same dtype (float or `i32`/`i64`; `Pow` is float only).
/// Integer arithmetic wraps; integer division truncates toward zero, `x / 0` is 0 and
/// `MIN / -1` wraps to `MIN`. `Maximum`/`Minimum` propagate NaN from either side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
}

impl BinaryOp {
    pub const ALL: [BinaryOp; 7] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
        }
    }
}

/// Elementwise comparisons; the output dtype is `Bool`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub const ALL: [CompareOp; 6] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
        }
    }
}

/// Reductions over a set of axes. `Max`/`Min` and `LogSumExp` propagate NaN; the sum of an
/// empty axis is 0, its mean NaN, its log-sum-exp −∞; log-sum-exp with a +∞ is +∞.
/// Integer sums wrap. Results do not depend on the number of threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
    Min,
    /// `log Σ exp(x)`, computed stably (shifted by the maximum).
    LogSumExp,
}

impl ReduceOp {
    pub const ALL: [ReduceOp; 5] = [
        ReduceOp::Sum,
        ReduceOp::Mean,
        ReduceOp::Max,
        ReduceOp::Min,
        ReduceOp::LogSumExp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::LogSumExp => "logsumexp",
        }
    }
}

/// Index of the first extreme; a NaN counts as more extreme than any number (as in numpy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgReduceOp {
    ArgMax,
    ArgMin,
}

/// How `EmbeddingBag` combines the rows of one bag (an empty bag gives zeros).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BagMode {
    Sum,
    Mean,
    Max,
}

/// Which pairs of a head's dimensions RoPE rotates together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RopeStyle {
    /// Pairs `(i, i + d/2)`: GPT-NeoX and Hugging Face llama checkpoints.
    HalfSplit,
    /// Pairs `(2i, 2i + 1)`: the original RoPE, and llama GGUF files.
    Interleaved,
}

/// The normalisation `Op::Linear` applies to its input first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinearNorm {
    /// The input as it is.
    None,
    /// `RmsNorm { eps }` of the input (one more input: its weight).
    Rms { eps: f64 },
    /// `AddRmsNorm { eps }` of the input and a residual (two more inputs: the residual and
    /// the norm's weight); their sum is an output too.
    AddRms { eps: f64 },
}

/// One tensor operation. The doc of each variant gives its inputs in order, its output, and
/// the dtypes it accepts.
///
/// Indices out of range (`IndexSelect`, `Gather`, `ScatterAdd`, `IndexAdd`, `EmbeddingBag`,
/// `RepetitionPenalty`) are an `IndexOutOfRange` error on the CPU. A GPU kernel cannot
/// report one without a synchronisation, so the CUDA backend defines them instead: reads of
/// a bad index give 0 and writes (or penalties) through one are skipped.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    // ---- creation (no inputs) ----
    /// Output `shape` of `dtype`, every element `value` (zeros and ones are `Full`).
    Full {
        shape: Vec<usize>,
        dtype: DType,
        value: f64,
    },
    /// Output `[len]`: `start + i·step`. Float or integer dtypes.
    Arange {
        start: f64,
        step: f64,
        len: usize,
        dtype: DType,
    },
    /// Output `shape`, uniform in `[low, high)` from the counter-based generator of
    /// [`crate::random`]: the same seed gives the same values on every backend.
    RandUniform {
        shape: Vec<usize>,
        dtype: DType,
        low: f64,
        high: f64,
        seed: u64,
    },
    /// Output `shape`, normal with `mean` and `std` (Box–Muller over [`crate::random`]).
    RandNormal {
        shape: Vec<usize>,
        dtype: DType,
        mean: f64,
        std: f64,
        seed: u64,
    },

    // ---- movement: views, never executed by a backend, only by `Layout` ----
    /// View with a new shape of the same number of elements (copies first when the input is
    /// not dense).
    Reshape {
        shape: Vec<usize>,
    },
    /// View with axes reordered: output axis `i` is input axis `dims[i]`.
    Permute {
        dims: Vec<usize>,
    },
    /// View of elements `start .. start + len` along `axis`.
    Narrow {
        axis: usize,
        start: usize,
        len: usize,
    },
    /// View broadcast to `shape` (numpy rules).
    Expand {
        shape: Vec<usize>,
    },
    /// View without the size-1 `axis`.
    Squeeze {
        axis: usize,
    },
    /// View with a new size-1 axis at `axis`.
    Unsqueeze {
        axis: usize,
    },

    // ---- movement: materialising ----
    /// Dense row-major copy of any view. Any dtype.
    Contiguous,
    /// Inputs joined along `axis`; all inputs agree on the other axes and on dtype.
    Concat {
        axis: usize,
    },
    /// Inputs `(src, indices)`, `indices` 1-D `i32`/`i64`: output is `src` with `axis`
    /// replaced by `indices.len()` (an embedding lookup is `axis = 0`). Quantized `src` is
    /// allowed when `axis` is not the last axis (whole rows of blocks are copied).
    IndexSelect {
        axis: usize,
    },
    /// Inputs `(src, index)` of equal rank, `index` integer: `out[.., i, ..] =
    /// src[.., index[.., i, ..], ..]` along `axis` (PyTorch `gather`); output has the shape of
    /// `index`.
    Gather {
        axis: usize,
    },
    /// Inputs `(dst, index, src)`, `index` and `src` of one shape: output is `dst` with
    /// `src[.., i, ..]` added at `out[.., index[.., i, ..], ..]` along `axis` (PyTorch
    /// `scatter_add`, out of place). Float dtypes.
    ScatterAdd {
        axis: usize,
    },
    /// Inputs `(dst, indices, src)`, `indices` 1-D: output is `dst` with slice `k` of `src`
    /// along `axis` added at position `indices[k]` (PyTorch `index_add`, out of place).
    IndexAdd {
        axis: usize,
    },
    /// Inputs `(dst, indices, src)`, `indices` 1-D and distinct: output is `dst` with slice
    /// `k` of `src` along `axis` written at position `indices[k]` (PyTorch `index_copy`).
    /// Any unquantized dtype. When the output is `dst` itself (`Device::run_into`), only the
    /// written slices are touched: the KV cache is written this way, with the position on
    /// the device. (With repeated indices which slice lands is unspecified.)
    IndexCopy {
        axis: usize,
    },
    /// Inputs `(table [n, d], indices [bags, k])`: output `[bags, d]`, each bag's `k` rows
    /// combined by `mode`. Float tables.
    EmbeddingBag {
        mode: BagMode,
    },

    // ---- elementwise ----
    Unary(UnaryOp),
    /// `x · scale + bias` with `scale` and `bias` rounded to f32, computed in f32. Float dtypes.
    Affine {
        scale: f64,
        bias: f64,
    },
    /// Converts between any two non-quantized dtypes (floats truncate toward zero when cast
    /// to integers; `Bool` is `x != 0`).
    Cast {
        dtype: DType,
    },
    Binary(BinaryOp),
    /// Inputs `(lhs, rhs)`, broadcast; output `Bool`.
    Compare(CompareOp),
    /// Inputs `(condition: Bool, if_true, if_false)`, all broadcast together.
    Where,

    // ---- reductions ----
    /// Reduces the listed `axes` (sorted, distinct). Output keeps size-1 axes when `keepdim`.
    /// Float dtypes; `Sum`/`Max`/`Min` also accept `i32`/`i64`.
    Reduce {
        op: ReduceOp,
        axes: Vec<usize>,
        keepdim: bool,
    },
    /// Index of the first maximum (minimum) along `axis`; output `i64`.
    ArgReduce {
        op: ArgReduceOp,
        axis: usize,
        keepdim: bool,
    },

    // ---- contraction ----
    /// Inputs `(lhs [.., m, k], rhs [.., k, n])` (or their last two axes swapped when the
    /// transpose flag is set); batch axes broadcast. Output `[.., m, n]`. Float dtypes, both
    /// the same; accumulation in f32 or wider.
    MatMul {
        transpose_lhs: bool,
        transpose_rhs: bool,
    },

    // ---- fused neural-network ops ----
    Softmax {
        axis: usize,
    },
    LogSoftmax {
        axis: usize,
    },
    /// Inputs `(x [.., d], weight [d])`: `x / sqrt(mean(x²) + eps) · weight`.
    RmsNorm {
        eps: f64,
    },
    /// Inputs `(x, residual, weight [d])`: outputs `(sum = x + residual, rms_norm(sum))`.
    AddRmsNorm {
        eps: f64,
    },
    /// Inputs `(x [.., d], weight [d], bias [d])`: `(x − mean) / sqrt(var + eps) · w + b`.
    LayerNorm {
        eps: f64,
    },
    /// Inputs `(x [.., seq, heads, head_dim], positions [seq] i32/i64)`: rotates pairs of
    /// `x` by `position · position_scale · base^(−2i/head_dim)`.
    Rope {
        style: RopeStyle,
        base: f64,
        position_scale: f64,
    },
    /// Inputs `(gate, up)` of one shape: `silu(gate) · up`.
    SwiGlu,
    /// Inputs `(q [b, hq, sq, d], k [b, hkv, skv, d], v [b, hkv, skv, dv])`, `hq` a multiple
    /// of `hkv` (grouped-query attention): `softmax(q·kᵀ·scale) · v`, output `[b, hq, sq, dv]`.
    /// When `causal`, query `i` sits at position `skv − sq + i` and sees keys up to it.
    /// A fourth input `positions [sq]` (`i32`/`i64`, causal only, each `< skv`) places query
    /// `i` at `positions[i]` instead: keys past the largest position are never read, so `k`
    /// and `v` may be a whole preallocated KV cache whose fill level lives on the device.
    Attention {
        causal: bool,
        scale: f64,
    },
    /// One attention step of a decoding model over its KV cache. Inputs `(q [n, hq, d],
    /// k [n, hkv, d], v [n, hkv, dv], k_cache [len, hkv, d], v_cache [len, hkv, dv],
    /// positions [n])`, `positions` `i32`/`i64`, distinct and `< len`. Outputs
    /// `(out [n, hq, dv], k_cache', v_cache')`: the caches with row `positions[i]` replaced
    /// by `rope(k)[i]` and `v[i]`, and the causal attention (`scale`) of `rope(q)` over them,
    /// query `i` at `positions[i]`. The same as `Rope` of q and k, two `IndexCopy` and
    /// `Attention` with positions (rotated values rounded to the dtype, as those store
    /// them). The cache outputs may be the cache inputs themselves (in place).
    RopeAttention {
        style: RopeStyle,
        base: f64,
        position_scale: f64,
        scale: f64,
    },

    // ---- quantized ----
    /// Input quantized `[.., k]`: output the same shape in float `dtype`.
    Dequantize {
        dtype: DType,
    },
    /// Input float `[.., k]`, `k` a multiple of the block size: output blocks of `dtype`
    /// (`Q8_0`, `Q4_0` or `Q4_1`), rounded as ggml's reference quantizer does.
    Quantize {
        dtype: DType,
    },
    /// Inputs `(x [.., m, k] float, w [n, k] quantized)`: output `x · wᵀ`, `[.., m, n]`, in
    /// the dtype of `x`. Reads the blocks directly; never dequantizes `w` as a whole.
    QMatMul,

    // ---- fused linear layer ----
    /// A linear layer with its input's normalisation before it and, when `gated`, the
    /// SwiGLU of two products after it: the step of a decoding model that reads a weight.
    /// Inputs `(x [.., k], residual [.., k] (AddRms only), norm_weight [k] (Rms, AddRms),
    /// w [n, k], w_up [n, k] (gated only))`, `w` and `w_up` float of x's dtype (used as
    /// `h · wᵀ`) or quantized (as `QMatMul`); `h` is the norm's output rounded to x's dtype.
    /// Outputs `(sum [.., k] (AddRms only), y [.., n])`: `y = h · wᵀ`, or
    /// `silu(h · wᵀ) · (h · w_upᵀ)` when gated, in x's dtype. The same as the ops it stands
    /// for (`RmsNorm`/`AddRmsNorm`, `MatMul`/`QMatMul`, `SwiGlu`), which is how backends
    /// without a fused kernel for a case run it.
    Linear {
        norm: LinearNorm,
        gated: bool,
    },

    // ---- sampling ----
    /// Inputs `(logits [rows, vocab] float, uniform [rows] f32 in [0, 1))`: output `[rows]`
    /// `i64` token ids. With `temperature <= 0` the first maximum (greedy; `uniform` unused).
    /// Otherwise candidates are ordered by logit (descending, ties by lower id); the first
    /// `top_k` are kept (0 keeps all); probabilities are `softmax(logit / temperature)`
    /// over those; the shortest prefix whose probability sums to at least `top_p` is kept;
    /// then those with probability at least `min_p` times the largest; the token chosen is
    /// the first whose cumulative renormalised probability exceeds `uniform` (the last kept
    /// if rounding leaves none). The same inputs give the same token on every backend.
    Sample {
        temperature: f64,
        top_k: usize,
        top_p: f64,
        min_p: f64,
    },
    /// Inputs `(logits [rows, vocab] float, tokens [rows, n] i32/i64)`: each distinct token of
    /// a row has its logit divided by `penalty` when positive, multiplied when not (the
    /// CTRL / llama.cpp repetition penalty). Output like `logits`.
    RepetitionPenalty {
        penalty: f64,
    },
}

impl Op {
    /// A short stable name for tables and errors: `unary.exp`, `matmul`, …
    pub fn name(&self) -> String {
        match self {
            Op::Full { .. } => "full".into(),
            Op::Arange { .. } => "arange".into(),
            Op::RandUniform { .. } => "rand_uniform".into(),
            Op::RandNormal { .. } => "rand_normal".into(),
            Op::Reshape { .. } => "reshape".into(),
            Op::Permute { .. } => "permute".into(),
            Op::Narrow { .. } => "narrow".into(),
            Op::Expand { .. } => "expand".into(),
            Op::Squeeze { .. } => "squeeze".into(),
            Op::Unsqueeze { .. } => "unsqueeze".into(),
            Op::Contiguous => "contiguous".into(),
            Op::Concat { .. } => "concat".into(),
            Op::IndexSelect { .. } => "index_select".into(),
            Op::Gather { .. } => "gather".into(),
            Op::ScatterAdd { .. } => "scatter_add".into(),
            Op::IndexAdd { .. } => "index_add".into(),
            Op::IndexCopy { .. } => "index_copy".into(),
            Op::EmbeddingBag { .. } => "embedding_bag".into(),
            Op::Unary(u) => format!("unary.{}", u.name()),
            Op::Affine { .. } => "affine".into(),
            Op::Cast { .. } => "cast".into(),
            Op::Binary(b) => format!("binary.{}", b.name()),
            Op::Compare(c) => format!("compare.{}", c.name()),
            Op::Where => "where".into(),
            Op::Reduce { op, .. } => format!("reduce.{}", op.name()),
            Op::ArgReduce { op, .. } => match op {
                ArgReduceOp::ArgMax => "argmax".into(),
                ArgReduceOp::ArgMin => "argmin".into(),
            },
            Op::MatMul { .. } => "matmul".into(),
            Op::Softmax { .. } => "softmax".into(),
            Op::LogSoftmax { .. } => "log_softmax".into(),
            Op::RmsNorm { .. } => "rms_norm".into(),
            Op::AddRmsNorm { .. } => "add_rms_norm".into(),
            Op::LayerNorm { .. } => "layer_norm".into(),
            Op::Rope { style, .. } => match style {
                RopeStyle::HalfSplit => "rope.half_split".into(),
                RopeStyle::Interleaved => "rope.interleaved".into(),
            },
            Op::SwiGlu => "swiglu".into(),
            Op::Attention { .. } => "attention".into(),
            Op::RopeAttention { style, .. } => match style {
                RopeStyle::HalfSplit => "rope_attention.half_split".into(),
                RopeStyle::Interleaved => "rope_attention.interleaved".into(),
            },
            Op::Dequantize { .. } => "dequantize".into(),
            Op::Quantize { .. } => "quantize".into(),
            Op::QMatMul => "qmatmul".into(),
            Op::Linear { norm, gated } => {
                let norm = match norm {
                    LinearNorm::None => "",
                    LinearNorm::Rms { .. } => ".rms_norm",
                    LinearNorm::AddRms { .. } => ".add_rms_norm",
                };
                format!("linear{norm}{}", if *gated { ".gated" } else { "" })
            }
            Op::Sample { .. } => "sample".into(),
            Op::RepetitionPenalty { .. } => "repetition_penalty".into(),
        }
    }

    /// View ops change only the layout; backends never see them.
    pub fn is_view(&self) -> bool {
        matches!(
            self,
            Op::Reshape { .. }
                | Op::Permute { .. }
                | Op::Narrow { .. }
                | Op::Expand { .. }
                | Op::Squeeze { .. }
                | Op::Unsqueeze { .. }
        )
    }

    /// Every op name, parameterised variants expanded, for the conformance suite's
    /// coverage check. Keep in step with [`Op::name`].
    pub fn all_names() -> Vec<String> {
        let mut names: Vec<String> = [
            "full",
            "arange",
            "rand_uniform",
            "rand_normal",
            "reshape",
            "permute",
            "narrow",
            "expand",
            "squeeze",
            "unsqueeze",
            "contiguous",
            "concat",
            "index_select",
            "gather",
            "scatter_add",
            "index_add",
            "index_copy",
            "embedding_bag",
            "affine",
            "cast",
            "where",
            "argmax",
            "argmin",
            "matmul",
            "softmax",
            "log_softmax",
            "rms_norm",
            "add_rms_norm",
            "layer_norm",
            "rope.half_split",
            "rope.interleaved",
            "swiglu",
            "attention",
            "rope_attention.half_split",
            "rope_attention.interleaved",
            "dequantize",
            "quantize",
            "qmatmul",
            "linear",
            "linear.gated",
            "linear.rms_norm",
            "linear.rms_norm.gated",
            "linear.add_rms_norm",
            "linear.add_rms_norm.gated",
            "sample",
            "repetition_penalty",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        names.extend(UnaryOp::ALL.iter().map(|u| format!("unary.{}", u.name())));
        names.extend(BinaryOp::ALL.iter().map(|b| format!("binary.{}", b.name())));
        names.extend(
            CompareOp::ALL
                .iter()
                .map(|c| format!("compare.{}", c.name())),
        );
        names.extend(ReduceOp::ALL.iter().map(|r| format!("reduce.{}", r.name())));
        names
    }
}
