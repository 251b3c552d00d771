//! The fuzz targets' inputs replayed as ordinary tests: every committed seed and every
//! input that once crashed a target (`fuzz/regressions/`) goes through the same code as in
//! `fuzz/fuzz_targets/` (`tl_llm::fuzz_harness`), which must return (an error or a model)
//! without panicking.
//! Crash inputs also get a test of the error they must now give.

use std::path::PathBuf;
use std::sync::Arc;

use tl_llm::fuzz_harness::{
    exercise_gguf, exercise_gguf_header, exercise_hf_folder, write_hf_folder,
};
use tl_llm::{GgufFile, LlamaModel, LlmError, ModelSource};
use tl_tensor::Device;

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

#[test]
fn gguf_seeds_and_past_crashes_replay_without_panic() {
    let device = Device::cpu();
    let inputs = inputs("gguf_file");
    assert!(inputs.len() >= 5, "the seeds are missing: {inputs:?}");
    for (path, bytes) in inputs {
        println!("{}", path.display());
        exercise_gguf(&bytes, &device);
        // The gguf_header target runs on the same seeds.
        exercise_gguf_header(&bytes, &device);
    }
}

#[test]
fn hf_folder_seeds_and_past_crashes_replay_without_panic() {
    let device = Device::cpu();
    let inputs = inputs("hf_folder");
    assert!(inputs.len() >= 2, "the seeds are missing");
    for (path, bytes) in inputs {
        println!("{}", path.display());
        let dir = tempfile::tempdir().unwrap();
        exercise_hf_folder(&bytes, dir.path(), &device).unwrap();
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
            write_hf_folder(&bytes, dir.path()).unwrap();
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
    write_hf_folder(&bytes, dir.path()).unwrap();
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
