//! Llama-family models: GGUF and safetensors readers, tokenizers, chat templates, generation.
