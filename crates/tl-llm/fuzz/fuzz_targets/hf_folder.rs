//! Fuzz target: arbitrary bytes as a Hugging Face model folder. The input is cut at each
//! `#TLFILE#` marker into the files below, in this order (an empty part leaves the file
//! out): the safetensors header and data, a sharded index and its two shards,
//! `config.json`, `tokenizer_config.json` and `tokenizer.json`. Each reader runs on its
//! own so that a bad config does not hide the safetensors reader, then the whole folder
//! is opened as a model and its weights loaded. Nothing may panic or allocate without
//! bound.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tl_llm::{
    HfSpecialIds, HfTokenizerConfig, LlamaModel, ModelConfig, ModelSource, SafetensorsFile,
    SafetensorsSet,
};
use tl_tensor::Device;

const MARKER: &[u8] = b"#TLFILE#";
const FILES: [&str; 6] = [
    "model.safetensors",
    "model.safetensors.index.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "config.json",
    "tokenizer_config.json",
];

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(MARKER.len()).position(|w| w == MARKER) {
        parts.push(&rest[..at]);
        rest = &rest[at + MARKER.len()..];
    }
    parts.push(rest);
    parts
}

fn load_weights(dir: &Path, device: &Device) {
    let Ok(set) = SafetensorsSet::open_folder(dir) else {
        return;
    };
    for file in set.files() {
        for info in file.tensors() {
            let _ = file.tensor_bytes(info);
        }
    }
    let weights = tl_llm::WeightSource::Safetensors {
        label: "fuzz".into(),
        set: std::sync::Arc::new(set),
    };
    for (name, _) in weights.weights() {
        let _ = weights.tensor(&name, device);
    }
}

/// One device for the whole run: creating one starts a thread pool, which would dominate
/// the time of each input.
fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(Device::cpu)
}

fuzz_target!(|data: &[u8]| {
    let parts = split(data);
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    // The header reader alone, on the bytes as they came.
    if let Ok(file) = SafetensorsFile::from_bytes("fuzz.safetensors", part(0)) {
        for info in file.tensors() {
            let _ = file.tensor_bytes(info);
        }
    }
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    for (i, name) in FILES.iter().enumerate() {
        // With an index present, the unsharded file would be ignored; keep one or the other.
        let shadowed = i == 0 && !part(1).is_empty();
        if !part(i).is_empty() && !shadowed {
            std::fs::write(dir.path().join(name), part(i)).expect("write to the temp folder");
        }
    }
    if !part(6).is_empty() {
        std::fs::write(dir.path().join("tokenizer.json"), part(6)).expect("write tokenizer.json");
    }
    let config_text = String::from_utf8_lossy(part(4));
    let _ = ModelConfig::from_hf_config("config.json", &config_text);
    let _ = HfSpecialIds::from_config("config.json", &config_text);
    let _ = HfTokenizerConfig::read(dir.path());
    let device = device();
    load_weights(dir.path(), device);
    if let Ok(source) = ModelSource::open_hf_folder(dir.path()) {
        let _ = source.info().to_string();
        let _ = LlamaModel::load(&source, device);
    }
});
