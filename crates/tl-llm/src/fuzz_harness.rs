//! What the fuzz targets (`fuzz/fuzz_targets/`) do with an input, shared with the test that
//! replays their seeds and past crashes (`tests/fuzz_replay.rs`), so that the two cannot
//! drift apart. Not part of the engine's API.

use std::path::Path;
use std::sync::Arc;

use tl_tensor::Device;

use crate::{
    ChatMessage, GgufFile, HfSpecialIds, HfTokenizerConfig, LlamaModel, ModelConfig, ModelSource,
    SafetensorsFile, SafetensorsSet, WeightSource,
};

/// Separates the files of a `hf_folder` input.
pub const FILE_MARKER: &[u8] = b"#TLFILE#";

/// The files of a `hf_folder` input, in the order of its parts: the safetensors header and
/// data, a sharded index and its two shards, `config.json`, `tokenizer_config.json` and
/// `tokenizer.json`.
pub const HF_FOLDER_FILES: [&str; 7] = [
    "model.safetensors",
    "model.safetensors.index.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "config.json",
    "tokenizer_config.json",
    "tokenizer.json",
];

/// The parts of an input cut at each [`FILE_MARKER`].
pub fn split_parts(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest
        .windows(FILE_MARKER.len())
        .position(|w| w == FILE_MARKER)
    {
        parts.push(&rest[..at]);
        rest = &rest[at + FILE_MARKER.len()..];
    }
    parts.push(rest);
    parts
}

/// Writes the non-empty parts of a `hf_folder` input as the files of `dir`.
pub fn write_hf_folder(data: &[u8], dir: &Path) -> std::io::Result<()> {
    write_parts(&split_parts(data), dir)
}

fn write_parts(parts: &[&[u8]], dir: &Path) -> std::io::Result<()> {
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    for (i, name) in HF_FOLDER_FILES.iter().enumerate() {
        // With an index present, the unsharded file would be ignored; keep one or the other.
        let shadowed = i == 0 && !part(1).is_empty();
        if !part(i).is_empty() && !shadowed {
            std::fs::write(dir.join(name), part(i))?;
        }
    }
    Ok(())
}

/// Arbitrary bytes as a GGUF file through everything a model load does with them: the
/// header and tensor table, the model configuration, the embedded tokenizer (and a short
/// encode/decode with it), the chat template, `tl info`'s summary, every weight as a tensor,
/// and the llama model built from them. Any of it may fail; none of it may panic.
pub fn exercise_gguf(data: &[u8], device: &Device) {
    let Ok(file) = GgufFile::from_bytes("fuzz.gguf", data) else {
        return;
    };
    for info in file.tensors() {
        let _ = file.tensor_bytes(info);
    }
    let Ok(source) = ModelSource::from_gguf_file(Arc::new(file)) else {
        return;
    };
    let _ = source.info().to_string();
    let tokenizer = source.tokenizer();
    if let Ok(ids) = tokenizer.encode("Hello, wörld! 12 <s>", tokenizer.add_bos(), true) {
        let _ = tokenizer.decode(&ids, false);
    }
    if let Ok(template) = source.chat_template(None) {
        let _ = template.render(&[ChatMessage::new("user", "hi")], true, "<s>", "</s>");
    }
    for (name, _) in source.weights().weights() {
        let _ = source.weights().tensor(&name, device);
    }
    let _ = LlamaModel::load(&source, device);
}

/// Arbitrary bytes as a GGUF file through the reader alone: header, metadata (every typed
/// getter and the display of every value), tensor table, model configuration and every
/// weight as a tensor, without the tokenizer, whose regex compilation makes
/// [`exercise_gguf`] a hundred times slower per input.
pub fn exercise_gguf_header(data: &[u8], device: &Device) {
    let Ok(file) = GgufFile::from_bytes("fuzz.gguf", data) else {
        return;
    };
    for info in file.tensors() {
        let _ = file.tensor_bytes(info);
    }
    for (key, value) in file.metadata() {
        let _ = (
            file.get_u64(key),
            file.get_f32(key),
            file.get_str_array(key),
        );
        let _ = value.to_string();
    }
    if let Ok(config) = ModelConfig::from_gguf(&file) {
        let _ = config.parameter_count();
    }
    let weights = WeightSource::Gguf(Arc::new(file));
    for (name, _) in weights.weights() {
        let _ = weights.tensor(&name, device);
    }
}

/// Arbitrary bytes as a Hugging Face model folder, written into the empty folder `dir`
/// (see [`write_hf_folder`]). Each reader runs on its own, so that a bad config does not
/// hide the safetensors reader, then the folder is opened as a model and its weights
/// loaded. Any of it may fail; none of it may panic. The error is only that of writing the
/// files.
pub fn exercise_hf_folder(data: &[u8], dir: &Path, device: &Device) -> std::io::Result<()> {
    let parts = split_parts(data);
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    // The header reader alone, on the bytes as they came.
    if let Ok(file) = SafetensorsFile::from_bytes("fuzz.safetensors", part(0)) {
        for info in file.tensors() {
            let _ = file.tensor_bytes(info);
        }
    }
    write_parts(&parts, dir)?;
    let config_text = String::from_utf8_lossy(part(4));
    let _ = ModelConfig::from_hf_config("config.json", &config_text);
    let _ = HfSpecialIds::from_config("config.json", &config_text);
    let _ = HfTokenizerConfig::read(dir);
    if let Ok(set) = SafetensorsSet::open_folder(dir) {
        for file in set.files() {
            for info in file.tensors() {
                let _ = file.tensor_bytes(info);
            }
        }
        let weights = WeightSource::Safetensors {
            label: "fuzz".into(),
            set: Arc::new(set),
        };
        for (name, _) in weights.weights() {
            let _ = weights.tensor(&name, device);
        }
    }
    if let Ok(source) = ModelSource::open_hf_folder(dir) {
        let _ = source.info().to_string();
        let _ = LlamaModel::load(&source, device);
    }
    Ok(())
}
