//! Canonical names of llama-family weights and their spellings in GGUF and Hugging Face files.

use std::fmt;

/// A weight of one transformer block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LayerWeight {
    AttnNorm,
    AttnQ,
    AttnK,
    AttnV,
    AttnOutput,
    FfnNorm,
    FfnGate,
    FfnUp,
    FfnDown,
}

impl LayerWeight {
    pub const ALL: [LayerWeight; 9] = [
        LayerWeight::AttnNorm,
        LayerWeight::AttnQ,
        LayerWeight::AttnK,
        LayerWeight::AttnV,
        LayerWeight::AttnOutput,
        LayerWeight::FfnNorm,
        LayerWeight::FfnGate,
        LayerWeight::FfnUp,
        LayerWeight::FfnDown,
    ];

    /// The GGUF suffix, which is also our canonical one.
    fn gguf(self) -> &'static str {
        match self {
            LayerWeight::AttnNorm => "attn_norm",
            LayerWeight::AttnQ => "attn_q",
            LayerWeight::AttnK => "attn_k",
            LayerWeight::AttnV => "attn_v",
            LayerWeight::AttnOutput => "attn_output",
            LayerWeight::FfnNorm => "ffn_norm",
            LayerWeight::FfnGate => "ffn_gate",
            LayerWeight::FfnUp => "ffn_up",
            LayerWeight::FfnDown => "ffn_down",
        }
    }

    fn hf(self) -> &'static str {
        match self {
            LayerWeight::AttnNorm => "input_layernorm",
            LayerWeight::AttnQ => "self_attn.q_proj",
            LayerWeight::AttnK => "self_attn.k_proj",
            LayerWeight::AttnV => "self_attn.v_proj",
            LayerWeight::AttnOutput => "self_attn.o_proj",
            LayerWeight::FfnNorm => "post_attention_layernorm",
            LayerWeight::FfnGate => "mlp.gate_proj",
            LayerWeight::FfnUp => "mlp.up_proj",
            LayerWeight::FfnDown => "mlp.down_proj",
        }
    }
}

/// A weight of a llama-family model. Matrices are `[out_features, in_features]` row-major
/// in both formats; the embedding is `[vocab, hidden]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WeightName {
    TokenEmbedding,
    OutputNorm,
    /// The output projection; absent when embeddings are tied.
    Output,
    /// Per-dimension RoPE frequency divisors (GGUF files of Llama 3.1-style models).
    RopeFrequencies,
    Layer {
        index: usize,
        weight: LayerWeight,
    },
}

impl WeightName {
    pub fn layer(index: usize, weight: LayerWeight) -> WeightName {
        WeightName::Layer { index, weight }
    }

    /// The canonical name (GGUF's spelling without the `.weight` suffix), e.g. `blk.3.attn_q`.
    pub fn canonical(&self) -> String {
        match self {
            WeightName::TokenEmbedding => "token_embd".into(),
            WeightName::OutputNorm => "output_norm".into(),
            WeightName::Output => "output".into(),
            WeightName::RopeFrequencies => "rope_freqs".into(),
            WeightName::Layer { index, weight } => format!("blk.{index}.{}", weight.gguf()),
        }
    }

    pub fn gguf_name(&self) -> String {
        format!("{}.weight", self.canonical())
    }

    /// The Hugging Face name, or `None` for weights Hugging Face does not store.
    pub fn hf_name(&self) -> Option<String> {
        Some(match self {
            WeightName::TokenEmbedding => "model.embed_tokens.weight".into(),
            WeightName::OutputNorm => "model.norm.weight".into(),
            WeightName::Output => "lm_head.weight".into(),
            WeightName::RopeFrequencies => return None,
            WeightName::Layer { index, weight } => {
                format!("model.layers.{index}.{}.weight", weight.hf())
            }
        })
    }

    /// Recognises a GGUF or Hugging Face tensor name (or a canonical one).
    pub fn parse(name: &str) -> Option<WeightName> {
        let base = name.strip_suffix(".weight").unwrap_or(name);
        match base {
            "token_embd" | "model.embed_tokens" => return Some(WeightName::TokenEmbedding),
            "output_norm" | "model.norm" => return Some(WeightName::OutputNorm),
            "output" | "lm_head" => return Some(WeightName::Output),
            "rope_freqs" => return Some(WeightName::RopeFrequencies),
            _ => {}
        }
        let (rest, spelling): (&str, fn(LayerWeight) -> &'static str) =
            if let Some(rest) = base.strip_prefix("blk.") {
                (rest, LayerWeight::gguf)
            } else if let Some(rest) = base.strip_prefix("model.layers.") {
                (rest, LayerWeight::hf)
            } else {
                return None;
            };
        let (index, suffix) = rest.split_once('.')?;
        let index: usize = index.parse().ok()?;
        let weight = LayerWeight::ALL
            .into_iter()
            .find(|w| spelling(*w) == suffix)?;
        Some(WeightName::Layer { index, weight })
    }
}

impl fmt::Display for WeightName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}
