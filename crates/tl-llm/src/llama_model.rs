//! The llama-family transformer written with `tl-tensor` ops only, so it runs on every
//! backend: embedding, per block RMSNorm → GQA attention with RoPE and a KV cache →
//! fused residual + RMSNorm → SwiGLU MLP, then the final norm and the (tied) output head.

use tl_tensor::{DType, Device, RopeStyle, Tensor};

use crate::error::{LlmError, Result};
use crate::kv_cache::KvCache;
use crate::model_config::{ModelConfig, RopeScaling};
use crate::model_source::ModelSource;
use crate::weight_name::{LayerWeight, WeightName};

struct Block {
    attn_norm: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_output: Tensor,
    ffn_norm: Tensor,
    gate: Tensor,
    up: Tensor,
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
                let w = |weight| load(WeightName::layer(i, weight));
                Ok(Block {
                    attn_norm: norm(WeightName::layer(i, LayerWeight::AttnNorm))?,
                    q: w(LayerWeight::AttnQ)?,
                    k: w(LayerWeight::AttnK)?,
                    v: w(LayerWeight::AttnV)?,
                    attn_output: w(LayerWeight::AttnOutput)?,
                    ffn_norm: norm(WeightName::layer(i, LayerWeight::FfnNorm))?,
                    gate: w(LayerWeight::FfnGate)?,
                    up: w(LayerWeight::FfnUp)?,
                    down: w(LayerWeight::FfnDown)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let output = if config.tied_embeddings {
            token_embedding.clone()
        } else {
            load(WeightName::Output)?
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
        let c = &self.config;
        let start = cache.len();
        let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
        let ids = self.device.from_slice(&ids, &[n])?;
        let positions: Vec<i32> = (start..start + n).map(|p| p as i32).collect();
        let positions = self.device.from_slice(&positions, &[n])?;
        let embedded = self.token_embedding.index_select(0, &ids)?;
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
            let q = linear(&h, &block.q)?.reshape(&[n, c.n_heads, c.head_dim])?;
            let k = linear(&h, &block.k)?.reshape(&[n, c.n_kv_heads, c.head_dim])?;
            let v = linear(&h, &block.v)?.reshape(&[n, c.n_kv_heads, c.head_dim])?;
            let q = q.rope(&positions, style, base, self.position_scale)?;
            let k = k.rope(&positions, style, base, self.position_scale)?;
            let (keys, values) = cache.append(layer, &k, &v)?;
            // [len, heads, dim] → [1, heads, len, dim] as views.
            let as_heads =
                |t: &Tensor| -> Result<Tensor> { Ok(t.permute(&[1, 0, 2])?.unsqueeze(0)?) };
            let attended =
                as_heads(&q)?.attention(&as_heads(&keys)?, &as_heads(&values)?, true, scale)?;
            let attended = attended
                .squeeze(0)?
                .permute(&[1, 0, 2])?
                .reshape(&[n, c.n_heads * c.head_dim])?;
            let projected = linear(&attended, &block.attn_output)?;
            let (residual, h) = projected.add_rms_norm(&x, &block.ffn_norm, eps)?;
            let gate = linear(&h, &block.gate)?;
            let up = linear(&h, &block.up)?;
            let down = linear(&gate.swiglu(&up)?, &block.down)?;
            x = residual.add(&down)?;
        }
        cache.advance(n);
        let last = if all_logits {
            x
        } else {
            x.narrow(0, n - 1, 1)?
        };
        let normed = last.rms_norm(&self.output_norm, eps)?;
        Ok(linear(&normed, &self.output)?.cast(DType::F32)?)
    }
}
