//! The llama-family transformer written with `tl-tensor` ops only, so it runs on every
//! backend: embedding, per block RMSNorm → GQA attention with RoPE and a KV cache →
//! fused residual + RMSNorm → SwiGLU MLP, then the final norm and the (tied) output head.

use tl_tensor::{DType, Device, RopeStyle, Tensor};

use crate::error::{LlmError, Result};
use crate::kv_cache::KvCache;
use crate::model_config::{ModelConfig, RopeScaling};
use crate::model_source::ModelSource;
use crate::weight_name::{LayerWeight, WeightName};

/// Weights that read the same input, joined along their output rows when they share a
/// dtype, so one product (and one activation quantization) serves them all.
enum Projections {
    Joined(Tensor),
    Separate(Vec<Tensor>),
}

impl Projections {
    fn new(weights: Vec<Tensor>) -> Result<Projections> {
        let dtype = weights[0].dtype();
        if weights.iter().all(|w| w.dtype() == dtype && w.rank() == 2) {
            let refs: Vec<&Tensor> = weights.iter().collect();
            return Ok(Projections::Joined(Tensor::concat(&refs, 0)?));
        }
        Ok(Projections::Separate(weights))
    }

    /// `x · wᵀ` of each weight: views of one product when joined.
    fn apply(&self, x: &Tensor, sizes: &[usize]) -> Result<Vec<Tensor>> {
        match self {
            Projections::Joined(w) => {
                let all = linear(x, w)?;
                let mut start = 0;
                sizes
                    .iter()
                    .map(|&size| {
                        let part = all.narrow(1, start, size)?;
                        start += size;
                        Ok(part)
                    })
                    .collect()
            }
            Projections::Separate(ws) => ws.iter().map(|w| linear(x, w)).collect(),
        }
    }
}

struct Block {
    attn_norm: Tensor,
    /// q, k and v.
    qkv: Projections,
    attn_output: Tensor,
    ffn_norm: Tensor,
    /// gate and up.
    gate_up: Projections,
    down: Tensor,
}

pub struct LlamaModel {
    config: ModelConfig,
    device: Device,
    /// Dtype of activations and of the KV cache: f32 unless the weights are f16/bf16.
    activation_dtype: DType,
    token_embedding: Tensor,
    output_norm: Tensor,
    output: Tensor,
    blocks: Vec<Block>,
    position_scale: f64,
}

/// `x · wᵀ` for a weight `[out, in]` stored quantized or as floats.
fn linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    Ok(if w.dtype().is_quantized() {
        x.qmatmul(w)?
    } else {
        x.matmul_t(&w.cast(x.dtype())?, false, true)?
    })
}

impl LlamaModel {
    /// Loads the weights of `source` onto `device` (quantized weights stay quantized; on the
    /// CPU they stay in the mapped file).
    pub fn load(source: &ModelSource, device: &Device) -> Result<LlamaModel> {
        Self::load_quantized(source, device, None)
    }

    /// Like [`LlamaModel::load`], with the float weights of every linear layer (and of the
    /// output head) quantized to `quantize` (`Q8_0`, `Q4_0` or `Q4_1`) on the device as they
    /// load; weights already quantized, norms and the embedding table stay as they are.
    pub fn load_quantized(
        source: &ModelSource,
        device: &Device,
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
                let w = |weight| quantized(load(WeightName::layer(i, weight))?);
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
        let output = quantized(if config.tied_embeddings {
            token_embedding.clone()
        } else {
            load(WeightName::Output)?
        })?;
        Ok(LlamaModel {
            output_norm: norm(WeightName::OutputNorm)?,
            config,
            device: device.clone(),
            activation_dtype,
            token_embedding,
            output,
            blocks,
            position_scale,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// A KV cache for up to `capacity` tokens (at most the model's context length).
    pub fn new_cache(&self, capacity: usize) -> Result<KvCache> {
        let capacity = capacity.min(self.config.context_length).max(1);
        KvCache::new(&self.config, &self.device, self.activation_dtype, capacity)
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
    /// and values into the cache but leaves its length to the caller. Everything it does
    /// depends on device memory only, so a decode step can be recorded once and replayed.
    pub fn forward_at(
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
        for (layer, block) in self.blocks.iter().enumerate() {
            let h = x.rms_norm(&block.attn_norm, eps)?;
            let (q_size, kv_size) = (c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim);
            let heads = |t: &Tensor, count: usize| t.reshape(&[n, count, c.head_dim]);
            let rope = |t: &Tensor| t.rope(positions, style, base, self.position_scale);
            let (q, k, v) = match &block.qkv {
                Projections::Joined(w) => {
                    // q and k sit side by side in the joined product: one rotation for both.
                    let all = linear(&h, w)?;
                    let both = all.narrow(1, 0, q_size + kv_size)?;
                    let rotated = rope(&heads(&both, c.n_heads + c.n_kv_heads)?)?;
                    (
                        rotated.narrow(1, 0, c.n_heads)?,
                        rotated.narrow(1, c.n_heads, c.n_kv_heads)?,
                        heads(&all.narrow(1, q_size + kv_size, kv_size)?, c.n_kv_heads)?,
                    )
                }
                Projections::Separate(ws) => (
                    rope(&heads(&linear(&h, &ws[0])?, c.n_heads)?)?,
                    rope(&heads(&linear(&h, &ws[1])?, c.n_kv_heads)?)?,
                    heads(&linear(&h, &ws[2])?, c.n_kv_heads)?,
                ),
            };
            let (keys, values) = cache.write(layer, positions, &k, &v)?;
            // [len, heads, dim] → [1, heads, len, dim] as views.
            let as_heads =
                |t: &Tensor| -> Result<Tensor> { Ok(t.permute(&[1, 0, 2])?.unsqueeze(0)?) };
            let attended = as_heads(&q)?.attention_at(
                &as_heads(&keys)?,
                &as_heads(&values)?,
                positions,
                scale,
            )?;
            let attended = attended
                .squeeze(0)?
                .permute(&[1, 0, 2])?
                .reshape(&[n, c.n_heads * c.head_dim])?;
            let projected = linear(&attended, &block.attn_output)?;
            let (residual, h) = projected.add_rms_norm(&x, &block.ffn_norm, eps)?;
            let ffn = c.ffn;
            let gate_up = block.gate_up.apply(&h, &[ffn, ffn])?;
            let down = linear(&gate_up[0].swiglu(&gate_up[1])?, &block.down)?;
            x = residual.add(&down)?;
        }
        let last = if all_logits {
            x
        } else {
            x.narrow(0, n - 1, 1)?
        };
        let normed = last.rms_norm(&self.output_norm, eps)?;
        Ok(linear(&normed, &self.output)?.cast(DType::F32)?)
    }
}
