//! The fuzz targets' inputs replayed as ordinary tests: every committed seed and every
//! input that once crashed a target (`fuzz/regressions/`) goes through the same readers as
//! in `fuzz/fuzz_targets/`, which must return (an error or a model) without panicking.
//! Crash inputs also get a test of the error they must now give.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tl_llm::{
    ChatMessage, GgufFile, HfSpecialIds, HfTokenizerConfig, LlamaModel, LlmError, ModelConfig,
    ModelSource, SafetensorsFile, SafetensorsSet, WeightSource,
};
use tl_tensor::Device;

const MARKER: &[u8] = b"#TLFILE#";
/// The files of a `hf_folder` input, in the order of its parts (see the target).
const HF_FILES: [&str; 7] = [
    "model.safetensors",
    "model.safetensors.index.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "config.json",
    "tokenizer_config.json",
    "tokenizer.json",
];

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            found.push((path, bytes));
        }
    }
    found.sort();
    found
}

/// What the `gguf_file` target does with its input.
fn replay_gguf(data: &[u8], device: &Device) {
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

/// Writes a `hf_folder` input's parts as files of `dir`, as the target does.
fn write_folder(data: &[u8], dir: &Path) {
    let parts = split(data);
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    for (i, name) in HF_FILES.iter().enumerate() {
        // With an index present, the unsharded file would be ignored; keep one or the other.
        let shadowed = i == 0 && !part(1).is_empty();
        if !part(i).is_empty() && !shadowed {
            std::fs::write(dir.join(name), part(i)).unwrap();
        }
    }
}

/// What the `hf_folder` target does with its input.
fn replay_hf_folder(data: &[u8], device: &Device) {
    let parts = split(data);
    if let Ok(file) = SafetensorsFile::from_bytes("fuzz.safetensors", parts[0]) {
        for info in file.tensors() {
            let _ = file.tensor_bytes(info);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    write_folder(data, dir.path());
    let config_text = String::from_utf8_lossy(parts.get(4).copied().unwrap_or_default());
    let _ = ModelConfig::from_hf_config("config.json", &config_text);
    let _ = HfSpecialIds::from_config("config.json", &config_text);
    let _ = HfTokenizerConfig::read(dir.path());
    if let Ok(set) = SafetensorsSet::open_folder(dir.path()) {
        let weights = WeightSource::Safetensors {
            label: "fuzz".into(),
            set: Arc::new(set),
        };
        for (name, _) in weights.weights() {
            let _ = weights.tensor(&name, device);
        }
    }
    if let Ok(source) = ModelSource::open_hf_folder(dir.path()) {
        let _ = source.info().to_string();
        let _ = LlamaModel::load(&source, device);
    }
}

#[test]
fn gguf_seeds_and_past_crashes_replay_without_panic() {
    let device = Device::cpu();
    let inputs = inputs("gguf_file");
    assert!(inputs.len() >= 5, "the seeds are missing: {inputs:?}");
    for (path, bytes) in inputs {
        println!("{}", path.display());
        replay_gguf(&bytes, &device);
    }
}

#[test]
fn hf_folder_seeds_and_past_crashes_replay_without_panic() {
    let device = Device::cpu();
    let inputs = inputs("hf_folder");
    assert!(inputs.len() >= 2, "the seeds are missing");
    for (path, bytes) in inputs {
        println!("{}", path.display());
        replay_hf_folder(&bytes, &device);
    }
}

#[test]
fn the_seeds_are_loadable_models() {
    // Seeds that fail early would leave the deeper readers unfuzzed.
    for (path, bytes) in inputs("gguf_file") {
        if path.to_string_lossy().contains("/seeds/") && !path.ends_with("kquants.gguf") {
            let file = GgufFile::from_bytes(&path, &bytes).unwrap();
            let source = ModelSource::from_gguf_file(Arc::new(file)).unwrap();
            LlamaModel::load(&source, &Device::cpu()).unwrap();
        }
    }
    for (path, bytes) in inputs("hf_folder") {
        if path.to_string_lossy().contains("/seeds/") {
            let dir = tempfile::tempdir().unwrap();
            write_folder(&bytes, dir.path());
            let source = ModelSource::open_hf_folder(dir.path()).unwrap();
            LlamaModel::load(&source, &Device::cpu()).unwrap();
        }
    }
}

#[test]
fn invalid_json_inside_tokenizer_json_is_an_error_naming_the_file() {
    // Found by the hf_folder target: an unquoted key inside the "decoder" object made the
    // tokenizers crate panic.
    let bytes =
        std::fs::read(fuzz_dir().join("regressions/hf_folder/tokenizer_json_bad_decoder_key"))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_folder(&bytes, dir.path());
    match ModelSource::open_hf_folder(dir.path()) {
        Err(LlmError::Tokenizer {
            source_name,
            detail,
        }) => {
            assert!(source_name.ends_with("tokenizer.json"), "{source_name}");
            assert!(detail.contains("not valid JSON"), "{detail}");
        }
        other => panic!("expected a tokenizer error, got {other:?}"),
    }
}
