//! Byte-level BPE pre-tokenizers named by `tokenizer.ggml.pre` (llama 3, qwen2, gpt-2,
//! default, starcoder) on the default model's merges, against llama.cpp
//! (reference: scripts/reference/bpe_pretokenizers.py).

mod common;

use common::{default_model_path, ids_of, read_json, GgufWriter};
use tl_llm::{tokenizer_from_gguf, GgufFile, MetadataValue};

#[test]
fn every_named_pre_tokenizer_matches_llamacpp() {
    let model = GgufFile::open(default_model_path()).unwrap();
    let reference = read_json("llamacpp/bpe_pretokenizers.json");
    let strings: Vec<&str> = reference["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let mut failures = Vec::new();
    for (pre, expected) in reference["ids"].as_object().unwrap() {
        let bytes = GgufWriter::metadata_copy(
            &model,
            &[("tokenizer.ggml.pre", MetadataValue::String(pre.clone()))],
        )
        .bytes;
        let file = GgufFile::from_bytes(format!("{pre}.gguf"), &bytes).unwrap();
        let tokenizer = tokenizer_from_gguf(&file).unwrap();
        for (text, expected) in strings.iter().zip(expected.as_array().unwrap()) {
            let got = tokenizer.encode(text, false, true).unwrap();
            let expected = ids_of(expected);
            if got != expected {
                failures.push(format!(
                    "{pre} {text:?}: ours {got:?}, llama.cpp {expected:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn an_unknown_pre_tokenizer_is_an_error_naming_it() {
    let model = GgufFile::open(default_model_path()).unwrap();
    let bytes = GgufWriter::metadata_copy(
        &model,
        &[(
            "tokenizer.ggml.pre",
            MetadataValue::String("mystery-pre".into()),
        )],
    )
    .bytes;
    let file = GgufFile::from_bytes("mystery.gguf", &bytes).unwrap();
    let error = tokenizer_from_gguf(&file).unwrap_err().to_string();
    assert!(
        error.contains("mystery-pre") && error.contains("mystery.gguf"),
        "{error}"
    );
}
