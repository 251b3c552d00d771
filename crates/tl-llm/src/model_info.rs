//! `ModelInfo`: a summary of a model (architecture, sizes, dtype mix, tokenizer, template)
//! that the CLI prints as `tl info`.

use std::collections::BTreeMap;
use std::fmt;

use tl_tensor::DType;

use crate::model_config::{ModelConfig, RopeScaling};
use crate::model_source::{ModelFormat, ModelSource};
use crate::weight_source::WeightSource;

/// How many tensors, weights and bytes one dtype accounts for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DTypeShare {
    pub tensors: usize,
    pub elements: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    pub path: String,
    pub format: ModelFormat,
    pub name: Option<String>,
    pub config: ModelConfig,
    /// Weights stored in the files (the tied output projection is not counted twice).
    pub parameters: u64,
    pub tensor_bytes: u64,
    pub dtypes: BTreeMap<DType, DTypeShare>,
    pub tokenizer: String,
    pub vocab_size: usize,
    pub bos: Option<String>,
    pub eos: Option<String>,
    pub add_bos: bool,
    pub has_chat_template: bool,
}

impl ModelInfo {
    pub fn describe(source: &ModelSource) -> ModelInfo {
        let mut dtypes: BTreeMap<DType, DTypeShare> = BTreeMap::new();
        let mut add = |dtype: DType, elements: u64, bytes: u64| {
            let share = dtypes.entry(dtype).or_default();
            share.tensors += 1;
            share.elements += elements;
            share.bytes += bytes;
        };
        match source.weights() {
            WeightSource::Gguf(file) => {
                for t in file.tensors() {
                    add(t.dtype, t.numel() as u64, t.byte_len as u64);
                }
            }
            WeightSource::Safetensors { set, .. } => {
                for t in set.tensors() {
                    add(
                        t.dtype,
                        t.shape.iter().product::<usize>() as u64,
                        t.byte_len as u64,
                    );
                }
            }
        }
        let parameters = dtypes.values().map(|s| s.elements).sum();
        let tensor_bytes = dtypes.values().map(|s| s.bytes).sum();
        let tokenizer = source.tokenizer();
        let text = |id: Option<u32>| id.and_then(|id| tokenizer.token_text(id));
        ModelInfo {
            path: source.path().display().to_string(),
            format: source.format().clone(),
            name: source.name().map(str::to_string),
            config: source.config().clone(),
            parameters,
            tensor_bytes,
            dtypes,
            tokenizer: tokenizer.kind().to_string(),
            vocab_size: tokenizer.vocab_size(),
            bos: text(tokenizer.bos()),
            eos: text(tokenizer.eos()),
            add_bos: tokenizer.add_bos(),
            has_chat_template: source.chat_template_source().is_some(),
        }
    }
}

fn human_count(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2}B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1}K", n as f64 / 1e3),
        n => n.to_string(),
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

impl fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "model        {}",
            self.name.as_deref().unwrap_or("(unnamed)")
        )?;
        writeln!(f, "path         {}", self.path)?;
        match &self.format {
            ModelFormat::Gguf { version } => writeln!(f, "format       GGUF v{version}")?,
            ModelFormat::HuggingFace { safetensors_files } => writeln!(
                f,
                "format       Hugging Face folder, {safetensors_files} safetensors file(s)"
            )?,
        }
        writeln!(f, "architecture {}", c.architecture)?;
        writeln!(
            f,
            "parameters   {} ({} of tensor data)",
            human_count(self.parameters),
            human_bytes(self.tensor_bytes)
        )?;
        writeln!(
            f,
            "layers       {}   hidden {}   ffn {}   vocab {}",
            c.n_layers, c.hidden, c.ffn, c.vocab
        )?;
        writeln!(
            f,
            "attention    {} heads, {} kv heads, head_dim {}",
            c.n_heads, c.n_kv_heads, c.head_dim
        )?;
        let scaling = match &c.rope_scaling {
            RopeScaling::None => String::new(),
            other => format!(", scaling {other:?}"),
        };
        writeln!(
            f,
            "rope         base {}, {:?} pairs{scaling}",
            c.rope_base, c.rope_style
        )?;
        writeln!(f, "context      {} tokens", c.context_length)?;
        writeln!(f, "rms eps      {:e}", c.rms_eps)?;
        writeln!(
            f,
            "embeddings   {}",
            if c.tied_embeddings {
                "tied (output reuses token embedding)"
            } else {
                "separate output"
            }
        )?;
        let mix: Vec<String> = self
            .dtypes
            .iter()
            .map(|(dtype, share)| {
                format!("{} × {dtype} ({})", share.tensors, human_bytes(share.bytes))
            })
            .collect();
        writeln!(f, "tensors      {}", mix.join(", "))?;
        writeln!(
            f,
            "tokenizer    {}, {} tokens, bos {}, eos {}, add_bos {}",
            self.tokenizer,
            self.vocab_size,
            self.bos.as_deref().unwrap_or("none"),
            self.eos.as_deref().unwrap_or("none"),
            self.add_bos
        )?;
        write!(
            f,
            "chat         {}",
            if self.has_chat_template {
                "template included"
            } else {
                "no template (chat needs one given explicitly)"
            }
        )
    }
}
