//! The llama-family transformer written with `tl-tensor` ops only, so it runs on every
//! backend: embedding, per block RMSNorm → GQA attention with RoPE and a KV cache →
//! fused residual + RMSNorm → SwiGLU MLP, then the final norm and the (tied) output head.

use tl_tensor::{DType, Device, LinearNorm, RopeStyle, Tensor};

use crate::error::{LlmError, Result};
use crate::ggml_rounding::{q4_1_block_offsets, q8_1_activations, round_to_f16};
use crate::kv_cache::KvCache;
use crate::model_config::{ModelConfig, RopeScaling};
use crate::model_source::ModelSource;
use crate::numerics::Numerics;
use crate::weight_name::{LayerWeight, WeightName};

/// A weight `[out, in]` used as `x · wᵀ`.
struct Linear {
    weight: Tensor,
    /// For [`Numerics::LlamaCpp`] with Q4_1 weights: the blocks' offsets `m`, `[out, in / 32]`.
    ggml_block_offsets: Option<Tensor>,
}

impl Linear {
    fn apply(&self, x: &Tensor, numerics: Numerics) -> Result<Tensor> {
        let w = &self.weight;
        if numerics == Numerics::LlamaCpp && x.dtype() == DType::F32 {
            match w.dtype() {
                DType::Q4_0 | DType::Q4_1 | DType::Q8_0 => {
                    // Our mat-vec re-quantizes the rounded values without loss (their block
                    // maximum is exactly 127 · f16(d)), so it computes ggml's integer dot
                    // products; only the Q4_1 offsets meet a different activation sum.
                    let (values, offset_error) = q8_1_activations(x)?;
                    let y = values.qmatmul(w)?;
                    return Ok(match &self.ggml_block_offsets {
                        Some(offsets) => y.add(&offset_error.matmul_t(offsets, false, true)?)?,
                        None => y,
                    });
                }
                // ggml converts the activations of an f16 mat-mul to f16.
                DType::F16 => {
                    return Ok(round_to_f16(x)?.matmul_t(&w.cast(DType::F32)?, false, true)?)
                }
                _ => {}
            }
        }
        Ok(if w.dtype().is_quantized() {
            x.qmatmul(w)?
        } else {
            x.matmul_t(&w.cast(x.dtype())?, false, true)?
        })
    }
}

/// Consecutive views of `t` along `axis`, `sizes` long.
fn split(t: &Tensor, axis: isize, sizes: &[usize]) -> Result<Vec<Tensor>> {
    let mut start = 0;
    sizes
        .iter()
        .map(|&size| {
            let part = t.narrow(axis, start, size)?;
            start += size;
            Ok(part)
        })
        .collect()
}

/// Linear layers that read the same input, joined along their output rows when their
/// weights (and offsets) agree in kind, so one product — and on the CPU one quantization
/// of the activations — serves them all.
enum Projections {
    Joined(Linear),
    Separate(Vec<Linear>),
}

impl Projections {
    fn new(parts: Vec<Linear>) -> Result<Projections> {
        let dtype = parts[0].weight.dtype();
        let offsets = parts[0].ggml_block_offsets.is_some();
        if !parts.iter().all(|p| {
            p.weight.dtype() == dtype
                && p.weight.rank() == 2
                && p.ggml_block_offsets.is_some() == offsets
        }) {
            return Ok(Projections::Separate(parts));
        }
        let weights: Vec<&Tensor> = parts.iter().map(|p| &p.weight).collect();
        let ggml_block_offsets = if offsets {
            let all: Vec<&Tensor> = parts
                .iter()
                .filter_map(|p| p.ggml_block_offsets.as_ref())
                .collect();
            Some(Tensor::concat(&all, 0)?)
        } else {
            None
        };
        Ok(Projections::Joined(Linear {
            weight: Tensor::concat(&weights, 0)?,
            ggml_block_offsets,
        }))
    }

    /// The weights one `Linear` op reads for these projections, when `usable` holds for
    /// them: the joined weight (`joined` true), or each part's (views of the joined one).
    fn fused_weights(
        &self,
        sizes: &[usize],
        joined: bool,
        usable: impl Fn(&Linear) -> bool,
    ) -> Result<Option<Vec<Tensor>>> {
        Ok(match self {
            Projections::Joined(linear) if usable(linear) => Some(if joined {
                vec![linear.weight.clone()]
            } else {
                split(&linear.weight, 0, sizes)?
            }),
            Projections::Separate(parts) if parts.iter().all(&usable) => {
                Some(parts.iter().map(|p| p.weight.clone()).collect())
            }
            _ => None,
        })
    }

    /// `x · wᵀ` of each part, `sizes` their output widths: views of one product when joined.
    fn apply(&self, x: &Tensor, sizes: &[usize], numerics: Numerics) -> Result<Vec<Tensor>> {
        match self {
            Projections::Joined(linear) => split(&linear.apply(x, numerics)?, 1, sizes),
            Projections::Separate(parts) => parts.iter().map(|p| p.apply(x, numerics)).collect(),
        }
    }
}

struct Block {
    attn_norm: Tensor,
    /// q, k and v.
    qkv: Projections,
    attn_output: Linear,
    ffn_norm: Tensor,
    /// gate and up.
    gate_up: Projections,
    down: Linear,
}

pub struct LlamaModel {
    config: ModelConfig,
    device: Device,
    /// Dtype of activations and of the KV cache: f32 unless the weights are f16/bf16.
    activation_dtype: DType,
    token_embedding: Tensor,
    output_norm: Tensor,
    output: Linear,
    blocks: Vec<Block>,
    position_scale: f64,
    numerics: Numerics,
}

impl LlamaModel {
    /// Loads the weights of `source` onto `device` (quantized weights stay quantized; on the
    /// CPU they stay in the mapped file).
    pub fn load(source: &ModelSource, device: &Device) -> Result<LlamaModel> {
        LlamaModel::load_with(source, device, Numerics::Native, None)
    }

    /// [`LlamaModel::load`] with a choice of rounding (see [`Numerics`]).
    pub fn load_with_numerics(
        source: &ModelSource,
        device: &Device,
        numerics: Numerics,
    ) -> Result<LlamaModel> {
        LlamaModel::load_with(source, device, numerics, None)
    }

    /// Like [`LlamaModel::load`], with the float weights of every linear layer (and of the
    /// output head) quantized to `quantize` (`Q8_0`, `Q4_0` or `Q4_1`) on the device as they
    /// load; weights already quantized, norms and the embedding table stay as they are.
    pub fn load_quantized(
        source: &ModelSource,
        device: &Device,
        quantize: Option<DType>,
    ) -> Result<LlamaModel> {
        LlamaModel::load_with(source, device, Numerics::Native, quantize)
    }

    fn load_with(
        source: &ModelSource,
        device: &Device,
        numerics: Numerics,
        quantize: Option<DType>,
    ) -> Result<LlamaModel> {
        let config = source.config().clone();
        let label = source.path().display().to_string();
        let unsupported = |feature: &str| LlmError::Unsupported {
            source_name: label.clone(),
            feature: feature.into(),
        };
        let position_scale = match config.rope_scaling {
            RopeScaling::None => 1.0,
            RopeScaling::Linear { factor } => 1.0 / factor as f64,
            _ => return Err(unsupported("RoPE scaling other than linear")),
        };
        if config.rope_dim != config.head_dim {
            return Err(unsupported("RoPE over part of a head"));
        }
        let weights = source.weights();
        let load = |name: WeightName| weights.tensor(&name, device);
        let quantized = |tensor: Tensor| -> Result<Tensor> {
            match quantize {
                Some(dtype) if !tensor.dtype().is_quantized() => {
                    Ok(device.run1(&tl_tensor::Op::Quantize { dtype }, &[&tensor])?)
                }
                _ => Ok(tensor),
            }
        };
        let offsets = |name: &WeightName| -> Result<Option<Tensor>> {
            match numerics {
                Numerics::Native => Ok(None),
                Numerics::LlamaCpp => q4_1_block_offsets(weights, name, device),
            }
        };
        let linear = |name: WeightName| -> Result<Linear> {
            Ok(Linear {
                ggml_block_offsets: offsets(&name)?,
                weight: quantized(load(name)?)?,
            })
        };
        let token_embedding = load(WeightName::TokenEmbedding)?;
        let activation_dtype = match token_embedding.dtype() {
            DType::F16 => DType::F16,
            DType::BF16 => DType::BF16,
            _ => DType::F32,
        };
        // Norm weights are small; keep them in the activation dtype.
        let norm = |name: WeightName| -> Result<Tensor> { Ok(load(name)?.cast(activation_dtype)?) };
        let blocks = (0..config.n_layers)
            .map(|i| {
                let w = |weight| linear(WeightName::layer(i, weight));
                Ok(Block {
                    attn_norm: norm(WeightName::layer(i, LayerWeight::AttnNorm))?,
                    qkv: Projections::new(vec![
                        w(LayerWeight::AttnQ)?,
                        w(LayerWeight::AttnK)?,
                        w(LayerWeight::AttnV)?,
                    ])?,
                    attn_output: w(LayerWeight::AttnOutput)?,
                    ffn_norm: norm(WeightName::layer(i, LayerWeight::FfnNorm))?,
                    gate_up: Projections::new(vec![
                        w(LayerWeight::FfnGate)?,
                        w(LayerWeight::FfnUp)?,
                    ])?,
                    down: w(LayerWeight::FfnDown)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let output = if config.tied_embeddings {
            // The same tensor, not a second load (which would upload it twice off the CPU).
            Linear {
                weight: quantized(token_embedding.clone())?,
                ggml_block_offsets: offsets(&WeightName::TokenEmbedding)?,
            }
        } else {
            linear(WeightName::Output)?
        };
        Ok(LlamaModel {
            output_norm: norm(WeightName::OutputNorm)?,
            config,
            device: device.clone(),
            activation_dtype,
            token_embedding,
            output,
            blocks,
            position_scale,
            numerics,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn numerics(&self) -> Numerics {
        self.numerics
    }

    /// A KV cache for up to `capacity` tokens (at most the model's context length).
    pub fn new_cache(&self, capacity: usize) -> Result<KvCache> {
        let capacity = capacity.min(self.config.context_length).max(1);
        let dtype = match self.numerics {
            Numerics::Native => self.activation_dtype,
            Numerics::LlamaCpp => DType::F16,
        };
        KvCache::new(&self.config, &self.device, dtype, capacity)
    }

    /// Runs `tokens` at the cache's current position, appends them to the cache, and returns
    /// the logits `[tokens.len(), vocab]` (f32) of every position when `all_logits`, else of
    /// the last one only (`[1, vocab]`).
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache, all_logits: bool) -> Result<Tensor> {
        let n = tokens.len();
        if n == 0 {
            return Err(tl_tensor::TensorError::bad_argument("forward", "no tokens to run").into());
        }
        cache.ensure_room(n)?;
        let start = cache.len();
        let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
        let ids = self.device.from_slice(&ids, &[n])?;
        let positions: Vec<i32> = (start..start + n).map(|p| p as i32).collect();
        let positions = self.device.from_slice(&positions, &[n])?;
        let logits = self.forward_at(&ids, &positions, cache, all_logits)?;
        cache.advance(n);
        Ok(logits)
    }

    /// The forward pass of tokens `ids [n]` (`i32`, on the device) at cache rows
    /// `positions [n]` (`i32`, on the device, below the cache's capacity): writes their keys
    /// and values into the cache but leaves its length to the caller. With native numerics
    /// everything it does depends on device memory only, so a decode step can be recorded
    /// once and replayed; [`Numerics::LlamaCpp`] reads the cache's length on the host as the
    /// first position. The logits are f32, as [`LlamaModel::forward`]'s.
    pub fn forward_at(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        cache: &KvCache,
        all_logits: bool,
    ) -> Result<Tensor> {
        Ok(self
            .head_logits_at(ids, positions, cache, all_logits)?
            .cast(DType::F32)?)
    }

    /// [`LlamaModel::forward_at`] with the logits in the dtype the output head gives them
    /// (the activations': f16 or bf16 for a model whose embedding is stored so, else f32):
    /// what `Op::Sample` reads without a cast's kernel before it, as every float dtype
    /// widens to f32 exactly.
    pub fn head_logits_at(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        cache: &KvCache,
        all_logits: bool,
    ) -> Result<Tensor> {
        let n = ids.numel();
        let c = &self.config;
        let embedded = self.token_embedding.index_select(0, ids)?;
        let mut x = if embedded.dtype().is_quantized() {
            embedded.dequantize(self.activation_dtype)?
        } else {
            embedded.cast(self.activation_dtype)?
        };
        let eps = c.rms_eps as f64;
        let scale = 1.0 / (c.head_dim as f64).sqrt();
        let style: RopeStyle = c.rope_style;
        let base = c.rope_base as f64;
        let numerics = self.numerics;
        let (q_size, kv_size) = (c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim);
        let heads = |t: &Tensor, count: usize| t.reshape(&[n, count, c.head_dim]);
        let rope = |t: &Tensor| t.rope(positions, style, base, self.position_scale);
        // The residual stream is `x + pending` (the last block's MLP output, not yet added):
        // the add is fused into the next norm, one kernel instead of two.
        let mut pending: Option<Tensor> = None;
        let norm_of_stream = |x: &mut Tensor, pending: &mut Option<Tensor>, weight: &Tensor| {
            Ok::<_, LlmError>(match pending.take() {
                Some(mlp) => {
                    let (sum, normed) = mlp.add_rms_norm(x, weight, eps)?;
                    *x = sum;
                    normed
                }
                None => x.rms_norm(weight, eps)?,
            })
        };
        // With native numerics a weight's product takes the norm before it (and the pending
        // add) into one `Linear` op: one kernel when decoding on the GPU.
        let usable = |linear: &Linear| {
            numerics == Numerics::Native
                && linear.ggml_block_offsets.is_none()
                && (linear.weight.dtype().is_quantized()
                    || linear.weight.dtype() == self.activation_dtype)
        };
        let normed_linear = |x: &mut Tensor,
                             pending: &mut Option<Tensor>,
                             norm_weight: &Tensor,
                             weights: &[&Tensor]|
         -> Result<Tensor> {
            let (sum, y) = match pending.take() {
                Some(mlp) => mlp.linear(LinearNorm::AddRms { eps }, &[x, norm_weight], weights)?,
                None => x.linear(LinearNorm::Rms { eps }, &[norm_weight], weights)?,
            };
            if let Some(sum) = sum {
                *x = sum;
            }
            Ok(y)
        };
        let qkv_sizes = [q_size, kv_size, kv_size];
        for (layer, block) in self.blocks.iter().enumerate() {
            let parts = match block.qkv.fused_weights(&qkv_sizes, true, usable)? {
                Some(weights) => {
                    let first =
                        normed_linear(&mut x, &mut pending, &block.attn_norm, &[&weights[0]])?;
                    if weights.len() == 1 {
                        split(&first, 1, &qkv_sizes)?
                    } else {
                        // The stream is already summed: the other parts only normalise it.
                        let norm = LinearNorm::Rms { eps };
                        let mut parts = vec![first];
                        for w in &weights[1..] {
                            parts.push(x.linear(norm, &[&block.attn_norm], &[w])?.1);
                        }
                        parts
                    }
                }
                None => {
                    let h = norm_of_stream(&mut x, &mut pending, &block.attn_norm)?;
                    block.qkv.apply(&h, &qkv_sizes, numerics)?
                }
            };
            let (q, k, v) = (
                heads(&parts[0], c.n_heads)?,
                heads(&parts[1], c.n_kv_heads)?,
                heads(&parts[2], c.n_kv_heads)?,
            );
            let attended = match numerics {
                // Rotation, the cache write and attention in one op (one kernel when decoding
                // on the GPU).
                Numerics::Native => cache
                    .attend(
                        layer,
                        &q,
                        &k,
                        &v,
                        positions,
                        (style, base, self.position_scale),
                        scale,
                    )?
                    .reshape(&[n, c.n_heads * c.head_dim])?,
                Numerics::LlamaCpp => {
                    let (keys, values) = cache.write(layer, positions, &rope(&k)?, &v)?;
                    let start = cache.len();
                    let seen = |t: &Tensor| t.narrow(0, 0, start + n);
                    self.attention_like_ggml(&rope(&q)?, &seen(&keys)?, &seen(&values)?, start)?
                }
            };
            pending = Some(block.attn_output.apply(&attended, numerics)?);
            let activation = match block
                .gate_up
                .fused_weights(&[c.ffn, c.ffn], false, usable)?
            {
                Some(weights) => normed_linear(
                    &mut x,
                    &mut pending,
                    &block.ffn_norm,
                    &[&weights[0], &weights[1]],
                )?,
                None => {
                    let h = norm_of_stream(&mut x, &mut pending, &block.ffn_norm)?;
                    let gate_up = block.gate_up.apply(&h, &[c.ffn, c.ffn], numerics)?;
                    gate_up[0].swiglu(&gate_up[1])?
                }
            };
            pending = Some(block.down.apply(&activation, numerics)?);
        }
        let last_rows = |t: Tensor| -> Result<Tensor> {
            Ok(if all_logits {
                t
            } else {
                t.narrow(0, n - 1, 1)?
            })
        };
        let mut last = last_rows(x)?;
        let mut pending = pending.map(last_rows).transpose()?;
        let logits = if usable(&self.output) {
            normed_linear(
                &mut last,
                &mut pending,
                &self.output_norm,
                &[&self.output.weight],
            )?
        } else {
            let normed = norm_of_stream(&mut last, &mut pending, &self.output_norm)?;
            self.output.apply(&normed, self.numerics)?
        };
        Ok(logits)
    }

    /// Causal attention of `q [n, heads, dim]` (positions `start..start + n`) over the cached
    /// `keys`/`values [len, kv_heads, dim]`, rounded as ggml's attention without flash
    /// attention rounds it: `q` to f16 for `q · kᵀ`, the f32 softmax of the scaled, masked
    /// scores to f16 before they weight the values. Returns `[n, heads · dim]`.
    fn attention_like_ggml(
        &self,
        q: &Tensor,
        keys: &Tensor,
        values: &Tensor,
        start: usize,
    ) -> Result<Tensor> {
        let c = &self.config;
        let (n, len) = (q.shape()[0], keys.shape()[0]);
        let group = c.n_heads / c.n_kv_heads;
        // Query head h reads key head h / group: stack each group's queries as rows.
        let q = round_to_f16(q)?.permute(&[1, 0, 2])?.reshape(&[
            c.n_kv_heads,
            group * n,
            c.head_dim,
        ])?;
        let as_kv_heads =
            |t: &Tensor| -> Result<Tensor> { Ok(t.permute(&[1, 0, 2])?.cast(DType::F32)?) };
        let scores = q.matmul_t(&as_kv_heads(keys)?, false, true)?;
        // Row r is query r % n at position start + r % n; it sees keys up to there.
        let mask: Vec<f32> = (0..group * n)
            .flat_map(|r| {
                (0..len).map(move |j| {
                    if j <= start + r % n {
                        0.0
                    } else {
                        f32::NEG_INFINITY
                    }
                })
            })
            .collect();
        let mask = self.device.from_slice(&mask, &[group * n, len])?;
        let scale = 1.0 / (c.head_dim as f32).sqrt();
        let probabilities = scores.affine(scale as f64, 0.0)?.add(&mask)?.softmax(-1)?;
        Ok(round_to_f16(&probabilities)?
            .matmul(&as_kv_heads(values)?)?
            .reshape(&[c.n_heads, n, c.head_dim])?
            .permute(&[1, 0, 2])?
            .reshape(&[n, c.n_heads * c.head_dim])?)
    }
}
