//! `ModelConfig`: the llama-family hyper-parameters, read from GGUF metadata or a Hugging Face
//! `config.json`, validated once so the model code can trust them.

use serde::Deserialize;
use tl_tensor::RopeStyle;

use crate::error::{LlmError, Result};
use crate::gguf_file::GgufFile;

/// How RoPE frequencies are stretched for long contexts.
#[derive(Clone, Debug, PartialEq)]
pub enum RopeScaling {
    None,
    /// Positions divided by `factor`.
    Linear {
        factor: f32,
    },
    /// Llama 3.1's wavelength-dependent scaling.
    Llama3 {
        factor: f32,
        low_freq_factor: f32,
        high_freq_factor: f32,
        original_context_length: usize,
    },
    /// YaRN (NTK-by-parts with attention temperature).
    Yarn {
        factor: f32,
        original_context_length: usize,
    },
    /// Per-dimension frequency divisors stored as the tensor `rope_freqs.weight` (how llama.cpp
    /// converts Llama 3.1 scaling into GGUF).
    FrequencyFactors,
}

/// Architecture hyper-parameters of a llama-family model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub architecture: String,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub hidden: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub rope_base: f32,
    /// Dimensions of each head that RoPE rotates (all of them for llama).
    pub rope_dim: usize,
    pub rope_scaling: RopeScaling,
    /// GGUF llama files store Q/K with rows permuted for interleaved pairs; Hugging Face
    /// checkpoints rotate the two halves of each head.
    pub rope_style: RopeStyle,
    pub rms_eps: f32,
    pub context_length: usize,
    pub tied_embeddings: bool,
}

impl ModelConfig {
    /// Reads `{arch}.*` keys; `tied_embeddings` is whether the file lacks `output.weight`.
    pub fn from_gguf(file: &GgufFile) -> Result<ModelConfig> {
        let architecture = file.get_str("general.architecture")?.to_string();
        if architecture != "llama" {
            return Err(LlmError::Config {
                source_name: file.label(),
                field: "general.architecture".into(),
                detail: format!("`{architecture}` is not supported (only llama-family models)"),
            });
        }
        let key = |name: &str| format!("{architecture}.{name}");
        let usize_key = |name: &str| -> Result<usize> { Ok(file.get_u32(&key(name))? as usize) };
        let n_heads = usize_key("attention.head_count")?;
        let hidden = usize_key("embedding_length")?;
        let n_kv_heads = match file.opt_u32(&key("attention.head_count_kv"))? {
            Some(n) => n as usize,
            None => n_heads,
        };
        let head_dim = match file.opt_u32(&key("attention.key_length"))? {
            Some(n) => n as usize,
            None => hidden.checked_div(n_heads).unwrap_or(0),
        };
        let vocab = match file.opt_u32(&key("vocab_size"))? {
            Some(n) => n as usize,
            None => match file.get("tokenizer.ggml.tokens") {
                Some(_) => file.get_array("tokenizer.ggml.tokens")?.values.len(),
                None => file
                    .tensor_info("token_embd.weight")
                    .map(|t| t.shape[0])
                    .ok_or_else(|| LlmError::MissingKey {
                        path: file.label(),
                        key: key("vocab_size"),
                    })?,
            },
        };
        let rope_scaling = gguf_rope_scaling(file, &architecture)?;
        let config = ModelConfig {
            n_layers: usize_key("block_count")?,
            n_heads,
            n_kv_heads,
            head_dim,
            hidden,
            ffn: usize_key("feed_forward_length")?,
            vocab,
            rope_base: file.opt_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0),
            rope_dim: match file.opt_u32(&key("rope.dimension_count"))? {
                Some(n) => n as usize,
                None => head_dim,
            },
            rope_scaling,
            rope_style: RopeStyle::Interleaved,
            rms_eps: file.get_f32(&key("attention.layer_norm_rms_epsilon"))?,
            context_length: usize_key("context_length")?,
            tied_embeddings: file.tensor_info("output.weight").is_none(),
            architecture,
        };
        config.validate(&file.label())?;
        Ok(config)
    }

    /// Reads a Hugging Face `config.json` (llama or mistral `model_type`).
    pub fn from_hf_config(path: &str, json: &str) -> Result<ModelConfig> {
        let raw: HfConfig = serde_json::from_str(json).map_err(|e| LlmError::Json {
            path: path.to_string(),
            field: "config".into(),
            detail: e.to_string(),
        })?;
        let architecture = raw.model_type.clone().unwrap_or_else(|| "llama".into());
        if architecture != "llama" && architecture != "mistral" {
            return Err(LlmError::Config {
                source_name: path.to_string(),
                field: "model_type".into(),
                detail: format!("`{architecture}` is not supported (only llama and mistral)"),
            });
        }
        let missing = |field: &str| LlmError::Json {
            path: path.to_string(),
            field: field.to_string(),
            detail: "the field is missing".into(),
        };
        let hidden = raw.hidden_size.ok_or_else(|| missing("hidden_size"))?;
        let n_heads = raw
            .num_attention_heads
            .ok_or_else(|| missing("num_attention_heads"))?;
        let head_dim = raw
            .head_dim
            .unwrap_or(hidden.checked_div(n_heads).unwrap_or(0));
        let context_length = raw.max_position_embeddings.unwrap_or(2048);
        let config = ModelConfig {
            architecture,
            n_layers: raw
                .num_hidden_layers
                .ok_or_else(|| missing("num_hidden_layers"))?,
            n_heads,
            n_kv_heads: raw.num_key_value_heads.unwrap_or(n_heads),
            head_dim,
            hidden,
            ffn: raw
                .intermediate_size
                .ok_or_else(|| missing("intermediate_size"))?,
            vocab: raw.vocab_size.ok_or_else(|| missing("vocab_size"))?,
            // Hugging Face's LlamaConfig defaults.
            rope_base: raw.rope_theta.unwrap_or(10_000.0),
            rope_dim: head_dim,
            rope_scaling: hf_rope_scaling(path, raw.rope_scaling.as_ref(), context_length)?,
            rope_style: RopeStyle::HalfSplit,
            rms_eps: raw.rms_norm_eps.unwrap_or(1e-6),
            context_length,
            tied_embeddings: raw.tie_word_embeddings.unwrap_or(false),
        };
        config.validate(path)?;
        Ok(config)
    }

    /// Checks the relations the model code relies on.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        let fail = |field: &str, detail: String| {
            Err(LlmError::Config {
                source_name: source_name.to_string(),
                field: field.to_string(),
                detail,
            })
        };
        for (field, value) in [
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("n_kv_heads", self.n_kv_heads),
            ("head_dim", self.head_dim),
            ("hidden", self.hidden),
            ("ffn", self.ffn),
            ("vocab", self.vocab),
            ("context_length", self.context_length),
        ] {
            if value == 0 {
                return fail(field, "must be positive, found 0".into());
            }
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return fail(
                "n_kv_heads",
                format!(
                    "{} query heads are not a multiple of {} key/value heads",
                    self.n_heads, self.n_kv_heads
                ),
            );
        }
        if self.rope_dim > self.head_dim || !self.rope_dim.is_multiple_of(2) {
            return fail(
                "rope_dim",
                format!(
                    "{} must be even and at most head_dim {}",
                    self.rope_dim, self.head_dim
                ),
            );
        }
        if !(self.rms_eps.is_finite() && self.rms_eps > 0.0) {
            return fail(
                "rms_eps",
                format!("{} must be a positive number", self.rms_eps),
            );
        }
        if !(self.rope_base.is_finite() && self.rope_base > 0.0) {
            return fail(
                "rope_base",
                format!("{} must be a positive number", self.rope_base),
            );
        }
        Ok(())
    }

    /// Number of weights the architecture implies (embeddings counted once when tied).
    pub fn parameter_count(&self) -> u64 {
        let hidden = self.hidden as u64;
        let q = hidden * (self.n_heads * self.head_dim) as u64;
        let kv = 2 * hidden * (self.n_kv_heads * self.head_dim) as u64;
        let o = (self.n_heads * self.head_dim) as u64 * hidden;
        let ffn = 3 * hidden * self.ffn as u64;
        let norms = 2 * hidden;
        let per_layer = q + kv + o + ffn + norms;
        let embeddings = self.vocab as u64 * hidden;
        let output = if self.tied_embeddings { 0 } else { embeddings };
        per_layer * self.n_layers as u64 + embeddings + output + hidden
    }
}

fn gguf_rope_scaling(file: &GgufFile, architecture: &str) -> Result<RopeScaling> {
    let key = |name: &str| format!("{architecture}.{name}");
    let factor = match file.opt_f32(&key("rope.scaling.factor"))? {
        Some(f) => Some(f),
        None => file.opt_f32(&key("rope.scale_linear"))?,
    };
    let kind = file.opt_str(&key("rope.scaling.type"))?;
    let original = file
        .opt_u32(&key("rope.scaling.original_context_length"))?
        .map(|n| n as usize);
    let scaling = match (kind, factor) {
        (Some("none"), _) | (None, None) => RopeScaling::None,
        (Some("linear"), Some(factor)) | (None, Some(factor)) => {
            if factor == 1.0 || factor == 0.0 {
                RopeScaling::None
            } else {
                RopeScaling::Linear { factor }
            }
        }
        (Some("yarn"), Some(factor)) => RopeScaling::Yarn {
            factor,
            original_context_length: original.ok_or_else(|| LlmError::MissingKey {
                path: file.label(),
                key: key("rope.scaling.original_context_length"),
            })?,
        },
        (Some(other), _) => {
            return Err(LlmError::Config {
                source_name: file.label(),
                field: key("rope.scaling.type"),
                detail: format!(
                    "`{other}` is not supported (none, linear, yarn), or its factor is missing"
                ),
            })
        }
    };
    if scaling == RopeScaling::None && file.tensor_info("rope_freqs.weight").is_some() {
        return Ok(RopeScaling::FrequencyFactors);
    }
    Ok(scaling)
}

fn hf_rope_scaling(
    path: &str,
    value: Option<&serde_json::Value>,
    context_length: usize,
) -> Result<RopeScaling> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(RopeScaling::None);
    };
    let fail = |field: &str, detail: &str| LlmError::Json {
        path: path.to_string(),
        field: format!("rope_scaling.{field}"),
        detail: detail.to_string(),
    };
    let kind = value
        .get("rope_type")
        .or_else(|| value.get("type"))
        .and_then(|v| v.as_str())
        .ok_or_else(|| fail("rope_type", "missing or not a string"))?;
    let number = |field: &str| -> Result<f32> {
        value
            .get(field)
            .and_then(|v| v.as_f64())
            .map(|v| v as f32)
            .ok_or_else(|| fail(field, "missing or not a number"))
    };
    let original = || -> Result<usize> {
        match value.get("original_max_position_embeddings") {
            None => Ok(context_length),
            Some(v) => v
                .as_u64()
                .map(|v| v as usize)
                .ok_or_else(|| fail("original_max_position_embeddings", "not an integer")),
        }
    };
    Ok(match kind {
        "default" => RopeScaling::None,
        "linear" => RopeScaling::Linear {
            factor: number("factor")?,
        },
        "llama3" => RopeScaling::Llama3 {
            factor: number("factor")?,
            low_freq_factor: number("low_freq_factor")?,
            high_freq_factor: number("high_freq_factor")?,
            original_context_length: original()?,
        },
        "yarn" => RopeScaling::Yarn {
            factor: number("factor")?,
            original_context_length: original()?,
        },
        other => {
            return Err(fail(
                "rope_type",
                &format!("`{other}` is not supported (default, linear, llama3, yarn)"),
            ))
        }
    })
}

/// The llama fields of a Hugging Face `config.json`; absent fields take LlamaConfig's defaults.
#[derive(Deserialize)]
struct HfConfig {
    model_type: Option<String>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    rms_norm_eps: Option<f32>,
    rope_theta: Option<f32>,
    rope_scaling: Option<serde_json::Value>,
    vocab_size: Option<usize>,
    tie_word_embeddings: Option<bool>,
    max_position_embeddings: Option<usize>,
}

/// Token ids that a Hugging Face `config.json` names (`eos_token_id` may be a list).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HfSpecialIds {
    pub bos: Option<u32>,
    pub eos: Vec<u32>,
}

impl HfSpecialIds {
    pub fn from_config(path: &str, json: &str) -> Result<HfSpecialIds> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| LlmError::Json {
            path: path.to_string(),
            field: "config".into(),
            detail: e.to_string(),
        })?;
        let id = |v: &serde_json::Value, field: &str| -> Result<u32> {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| LlmError::Json {
                    path: path.to_string(),
                    field: field.to_string(),
                    detail: format!("{v} is not a token id"),
                })
        };
        let bos = match value.get("bos_token_id") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(id(v, "bos_token_id")?),
        };
        let eos = match value.get("eos_token_id") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| id(v, "eos_token_id"))
                .collect::<Result<_>>()?,
            Some(v) => vec![id(v, "eos_token_id")?],
        };
        Ok(HfSpecialIds { bos, eos })
    }
}
