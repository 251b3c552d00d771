//! The error type of the LLM engine: every failure names the file, key, tensor or field involved.

use tl_tensor::TensorError;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },

    /// A GGUF file whose bytes do not follow the format.
    #[error("{path}: malformed GGUF at byte {offset}, {field}: {detail}")]
    Gguf {
        path: String,
        offset: u64,
        field: String,
        detail: String,
    },

    #[error("{path}: metadata key `{key}` is missing")]
    MissingKey { path: String, key: String },

    #[error("{path}: metadata key `{key}` holds {found}, expected {expected}")]
    KeyType {
        path: String,
        key: String,
        expected: String,
        found: String,
    },

    #[error("{path}: tensor `{tensor}` has ggml type {type_id} ({type_name}), which is not supported (supported: f32, f16, bf16, q4_0, q4_1, q8_0, q4_k, q6_k)")]
    UnsupportedTensorType {
        path: String,
        tensor: String,
        type_id: u32,
        type_name: String,
    },

    /// A safetensors file whose header or data layout is invalid.
    #[error("{path}: malformed safetensors file, {field}: {detail}")]
    Safetensors {
        path: String,
        field: String,
        detail: String,
    },

    /// A JSON file (config.json, tokenizer_config.json, an index) that is unreadable or lacks a field.
    #[error("{path}: {field}: {detail}")]
    Json {
        path: String,
        field: String,
        detail: String,
    },

    /// A model configuration that is readable but unusable (zero heads, heads not dividing the width…).
    #[error("{source_name}: model configuration field `{field}`: {detail}")]
    Config {
        source_name: String,
        field: String,
        detail: String,
    },

    #[error("{source_name}: the model has no tensor `{name}` (looked for `{stored_name}`)")]
    MissingTensor {
        source_name: String,
        name: String,
        stored_name: String,
    },

    #[error("{source_name}: tokenizer: {detail}")]
    Tokenizer { source_name: String, detail: String },

    #[error("chat template of {source_name}: {detail}")]
    ChatTemplate { source_name: String, detail: String },

    #[error("{source_name} has no chat template; pass a template explicitly")]
    NoChatTemplate { source_name: String },

    #[error("{path}: not a GGUF file nor a Hugging Face model folder (expected a .gguf file or a folder with config.json)")]
    UnknownModelFormat { path: String },

    #[error("{source_name}: {feature} is not supported yet")]
    Unsupported {
        source_name: String,
        feature: String,
    },

    #[error("the prompt is empty: it encodes to no tokens, and generation continues a prompt")]
    EmptyPrompt,

    /// The prompt alone does not fit the KV cache.
    #[error("the prompt has {prompt_tokens} tokens but the context holds {context} (shorten the prompt, raise --context up to the model's context length, or pass --truncate-prompt to keep only its last tokens)")]
    PromptTooLong {
        prompt_tokens: usize,
        context: usize,
    },

    #[error("the prompt has {prompt_tokens} tokens and {requested} more were asked for, but the context holds {context} (use a shorter prompt, fewer --max-tokens, or a larger --context)")]
    ContextFull {
        prompt_tokens: usize,
        requested: usize,
        context: usize,
    },

    #[error(transparent)]
    Tensor(#[from] TensorError),
}

pub type Result<T, E = LlmError> = std::result::Result<T, E>;

impl LlmError {
    pub(crate) fn io(path: &std::path::Path, error: &std::io::Error) -> LlmError {
        LlmError::Io {
            path: path.display().to_string(),
            detail: error.to_string(),
        }
    }
}
