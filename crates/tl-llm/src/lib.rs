//! TensorLogic's LLM engine: GGUF and safetensors readers, model configuration, weights by
//! canonical name, tokenizers, chat templates and model summaries for llama-family models.

mod byte_cursor;
pub mod byte_level;
pub mod chat_template;
pub mod error;
#[doc(hidden)]
pub mod fuzz_harness;
pub mod generation;
mod ggml_rounding;
pub mod ggml_type;
pub mod gguf_file;
pub mod gguf_tokenizer;
pub mod gguf_value;
pub mod hf_tokenizer;
pub mod kv_cache;
pub mod llama_model;
mod mapped_bytes;
pub mod model_config;
pub mod model_info;
pub mod model_source;
pub mod numerics;
pub mod pretokenizer_regex;
pub mod prompt_fit;
pub mod safetensors_file;
pub mod stream_decoder;
pub mod tokenizer;
pub mod weight_name;
pub mod weight_source;

pub use chat_template::{ChatMessage, ChatTemplate};
pub use error::{LlmError, Result};
pub use generation::{GenerationStats, SamplingParams, Session, StopReason};
pub use gguf_file::{GgufFile, GgufTensorInfo};
pub use gguf_tokenizer::tokenizer_from_gguf;
pub use gguf_value::{GgufValueType, MetadataArray, MetadataValue};
pub use hf_tokenizer::{tokenizer_from_hf, HfTokenizerConfig};
pub use kv_cache::KvCache;
pub use llama_model::LlamaModel;
pub use model_config::{HfSpecialIds, ModelConfig, RopeScaling};
pub use model_info::{DTypeShare, ModelInfo};
pub use model_source::{ModelFormat, ModelSource};
pub use numerics::Numerics;
pub use prompt_fit::{fit_prompt, PromptOverflow};
pub use safetensors_file::{SafetensorsFile, SafetensorsSet};
pub use stream_decoder::StreamDecoder;
pub use tokenizer::{TokenClass, Tokenizer, TokenizerKind};
pub use weight_name::{LayerWeight, WeightName};
pub use weight_source::{WeightInfo, WeightSource};
