//! `ModelSource`: opens a model from a `.gguf` file or a Hugging Face folder and gives its
//! configuration, weights, tokenizer and chat template in one shape.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::chat_template::ChatTemplate;
use crate::error::{LlmError, Result};
use crate::gguf_file::GgufFile;
use crate::gguf_tokenizer::tokenizer_from_gguf;
use crate::hf_tokenizer::{tokenizer_from_hf, HfTokenizerConfig};
use crate::model_config::{HfSpecialIds, ModelConfig};
use crate::model_info::ModelInfo;
use crate::safetensors_file::SafetensorsSet;
use crate::tokenizer::Tokenizer;
use crate::weight_source::WeightSource;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    Gguf { version: u32 },
    HuggingFace { safetensors_files: usize },
}

/// A model's files, parsed and validated; weights stay memory-mapped.
#[derive(Debug)]
pub struct ModelSource {
    path: PathBuf,
    format: ModelFormat,
    name: Option<String>,
    config: ModelConfig,
    weights: WeightSource,
    tokenizer: Tokenizer,
    chat_template: Option<String>,
}

impl ModelSource {
    /// Opens a `.gguf` file, or a folder holding `config.json`, `*.safetensors` and `tokenizer.json`.
    pub fn open(path: impl AsRef<Path>) -> Result<ModelSource> {
        let path = path.as_ref();
        if path.is_dir() {
            if path.join("config.json").is_file() {
                return ModelSource::open_hf_folder(path);
            }
            return Err(LlmError::UnknownModelFormat {
                path: path.display().to_string(),
            });
        }
        let mut magic = [0u8; 4];
        let is_gguf = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
            .map(|_| &magic == b"GGUF")
            .unwrap_or(false);
        if is_gguf || path.extension().is_some_and(|e| e == "gguf") {
            return ModelSource::open_gguf(path);
        }
        if !path.exists() {
            return Err(LlmError::Io {
                path: path.display().to_string(),
                detail: "no such file or folder".into(),
            });
        }
        Err(LlmError::UnknownModelFormat {
            path: path.display().to_string(),
        })
    }

    pub fn open_gguf(path: &Path) -> Result<ModelSource> {
        ModelSource::from_gguf_file(Arc::new(GgufFile::open(path)?))
    }

    /// A model from an already parsed GGUF file (one read from memory, for instance).
    pub fn from_gguf_file(file: Arc<GgufFile>) -> Result<ModelSource> {
        let path = file.path().to_path_buf();
        let config = ModelConfig::from_gguf(&file)?;
        let tokenizer = tokenizer_from_gguf(&file)?;
        let chat_template = file.opt_str("tokenizer.chat_template")?.map(str::to_string);
        let name = file.opt_str("general.name")?.map(str::to_string);
        Ok(ModelSource {
            path,
            format: ModelFormat::Gguf {
                version: file.version(),
            },
            name,
            config,
            weights: WeightSource::Gguf(file),
            tokenizer,
            chat_template,
        })
    }

    pub fn open_hf_folder(dir: &Path) -> Result<ModelSource> {
        let config_path = dir.join("config.json");
        let label = config_path.display().to_string();
        let text =
            std::fs::read_to_string(&config_path).map_err(|e| LlmError::io(&config_path, &e))?;
        let mut config = ModelConfig::from_hf_config(&label, &text)?;
        let ids = HfSpecialIds::from_config(&label, &text)?;
        let tokenizer_config = HfTokenizerConfig::read(dir)?;
        let tokenizer = tokenizer_from_hf(dir, &tokenizer_config, &ids)?;
        let set = Arc::new(SafetensorsSet::open_folder(dir)?);
        let weights = WeightSource::Safetensors {
            label: dir.display().to_string(),
            set,
        };
        // A checkpoint without lm_head reuses the embedding whatever config.json says.
        if !weights.contains(&crate::weight_name::WeightName::Output) {
            config.tied_embeddings = true;
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        let safetensors_files = match &weights {
            WeightSource::Safetensors { set, .. } => set.files().len(),
            WeightSource::Gguf(_) => 0,
        };
        Ok(ModelSource {
            path: dir.to_path_buf(),
            format: ModelFormat::HuggingFace { safetensors_files },
            name,
            config,
            weights,
            tokenizer,
            chat_template: tokenizer_config.chat_template,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> &ModelFormat {
        &self.format
    }

    /// The model's own name (GGUF `general.name`, or the folder's name).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn weights(&self) -> &WeightSource {
        &self.weights
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The template text the model ships, if any.
    pub fn chat_template_source(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// The chat template to use: `override_template` (name, text) when given, else the model's
    /// own; an error when there is neither.
    pub fn chat_template(&self, override_template: Option<(&str, &str)>) -> Result<ChatTemplate> {
        match (override_template, &self.chat_template) {
            (Some((name, text)), _) => ChatTemplate::new(name, text),
            (None, Some(text)) => ChatTemplate::new(self.path.display().to_string(), text.as_str()),
            (None, None) => Err(LlmError::NoChatTemplate {
                source_name: self.path.display().to_string(),
            }),
        }
    }

    /// A summary for `tl info`.
    pub fn info(&self) -> ModelInfo {
        ModelInfo::describe(self)
    }
}
