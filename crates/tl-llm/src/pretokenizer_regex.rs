//! The pre-tokenizer regexes that llama.cpp applies for each `tokenizer.ggml.pre` name.
//!
//! The patterns follow llama.cpp's `llama-vocab.cpp` (they come from each model's own
//! `tokenizer.json`). Each regex splits the pieces left by the previous one; text between
//! matches stays a piece of its own.

/// How a GGUF byte-level vocabulary pre-tokenizes.
#[derive(Clone, Debug, PartialEq)]
pub struct PreTokenizerSpec {
    pub regexes: Vec<&'static str>,
    /// Look a whole piece up in the vocabulary before applying merges (llama 3).
    pub ignore_merges: bool,
}

const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The spec for a pre-tokenizer name, or `None` when we do not know it.
pub fn pre_tokenizer_spec(pre: &str) -> Option<PreTokenizerSpec> {
    let spec = |regexes: Vec<&'static str>, ignore_merges: bool| {
        Some(PreTokenizerSpec {
            regexes,
            ignore_merges,
        })
    };
    match pre {
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral" | "dbrx" | "smaug-bpe" => {
            // llama.cpp looks whole pieces up first only for the llama 3 family proper.
            let ignore = !matches!(pre, "dbrx" | "smaug-bpe");
            spec(vec![LLAMA3], ignore)
        }
        "qwen2" | "deepseek-r1-qwen" | "stablelm2" | "megrez" => spec(vec![QWEN2], false),
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva-7b" => {
            spec(vec![r"\p{N}", GPT2], false)
        }
        "gpt-2" | "gpt2" | "mpt" | "olmo" | "jais" | "phi-2" | "roberta-bpe" => {
            spec(vec![GPT2], false)
        }
        "default" => spec(
            vec![r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"],
            false,
        ),
        _ => None,
    }
}
