//! A tiny llama GGUF with a trained SentencePiece vocabulary (`tokenizer.ggml.model = llama`,
//! as TinyLlama and Llama 2 ship), end to end against llama.cpp and the sentencepiece
//! library: token ids of varied strings, detokenization, and the forward pass's logits with
//! f32 weights. Reference files come from scripts/reference/spm_model.py.

mod common;

use tl_llm::{LlamaModel, ModelSource, Numerics, TokenizerKind};
use tl_tensor::Device;

fn source() -> ModelSource {
    ModelSource::open(common::data_path("spm_model/tiny_llama_spm.gguf")).expect("open the GGUF")
}

fn reference() -> serde_json::Value {
    common::read_json("spm_model/reference.json")
}

#[test]
fn the_vocabulary_is_sentencepiece_with_bos() {
    let source = source();
    let tokenizer = source.tokenizer();
    assert!(
        matches!(tokenizer.kind(), TokenizerKind::GgufSentencePiece),
        "{:?}",
        tokenizer.kind()
    );
    assert_eq!(
        tokenizer.vocab_size() as u64,
        reference()["vocab_size"].as_u64().unwrap()
    );
    assert!(tokenizer.add_bos());
    assert_eq!(tokenizer.bos(), Some(1));
}

#[test]
fn token_ids_match_llamacpp_and_sentencepiece() {
    let source = source();
    let tokenizer = source.tokenizer();
    let reference = reference();
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 50);
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let expected = common::ids_of(&case["ids"]);
        // The reference's own two tokenizers agree, so either one is the expectation.
        assert_eq!(
            expected,
            common::ids_of(&case["sentencepiece_ids"]),
            "{text:?}"
        );
        let checks = [
            ("plain", tokenizer.encode(text, false, false), expected),
            (
                "with BOS",
                tokenizer.encode(text, true, false),
                common::ids_of(&case["ids_with_bos"]),
            ),
            (
                "special tokens parsed",
                tokenizer.encode(text, false, true),
                common::ids_of(&case["ids_special"]),
            ),
        ];
        for (what, ours, theirs) in checks {
            let ours = ours.unwrap();
            if ours != theirs {
                failures.push(format!(
                    "{text:?} ({what}): ours {ours:?}, llama.cpp {theirs:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn detokenization_round_trips_as_sentencepiece_decodes() {
    let source = source();
    let tokenizer = source.tokenizer();
    for case in reference()["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let ids = common::ids_of(&case["ids"]);
        let decoded = tokenizer.decode(&ids, false).unwrap();
        assert_eq!(decoded, case["sentencepiece_decoded"].as_str().unwrap());
        assert_eq!(decoded, text);
        let with_bos = tokenizer.encode(text, true, false).unwrap();
        assert_eq!(tokenizer.decode(&with_bos, true).unwrap(), text);
    }
}

/// The largest |ours − llama.cpp| over every position of the reference prompts, relative to
/// the largest |logit| of the row, and top-1 agreement.
fn logit_errors(numerics: Numerics) -> (f32, usize, usize) {
    let source = source();
    let model = LlamaModel::load_with_numerics(&source, &Device::cpu(), numerics).unwrap();
    let reference = reference();
    let columns = reference["vocab_size"].as_u64().unwrap() as usize;
    let bytes = std::fs::read(common::data_path("spm_model/logits.f32")).unwrap();
    let theirs_all: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let (mut worst, mut agreed, mut rows) = (0f32, 0, 0);
    let argmax = |row: &[f32]| {
        row.iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                if v > best.1 {
                    (i, v)
                } else {
                    best
                }
            })
            .0
    };
    for prompt in reference["prompts"].as_array().unwrap() {
        let ids = common::ids_of(&prompt["ids"]);
        let text = prompt["text"].as_str().unwrap();
        assert_eq!(source.tokenizer().encode(text, true, false).unwrap(), ids);
        let first_row = prompt["first_row"].as_u64().unwrap() as usize;
        let mut cache = model.new_cache(64).unwrap();
        let ours_all = model
            .forward(&ids, &mut cache, true)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        for (position, ours) in ours_all.chunks_exact(columns).enumerate() {
            let theirs = &theirs_all[(first_row + position) * columns..][..columns];
            let range = theirs.iter().fold(0f32, |m, v| m.max(v.abs()));
            let error = ours
                .iter()
                .zip(theirs)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            worst = worst.max(error / range);
            rows += 1;
            agreed += usize::from(argmax(ours) == argmax(theirs));
        }
    }
    println!(
        "{numerics:?}: worst max-abs error {worst:.3e} of the logit range, top-1 {agreed}/{rows}"
    );
    (worst, agreed, rows)
}

#[test]
fn logits_match_llamacpp_with_f32_weights() {
    // With f32 weights llama.cpp rounds only the attention to f16 (KV cache, queries and
    // attention weights), which the LlamaCpp numerics reproduce: measured 1.8e-5 of the
    // logit range, against 4.7e-4 for our own f32 attention.
    let (worst, agreed, rows) = logit_errors(Numerics::LlamaCpp);
    assert!(worst < 1e-4, "worst relative error {worst}");
    assert_eq!(agreed, rows);
    let (worst, agreed, rows) = logit_errors(Numerics::Native);
    assert!(worst < 2e-3, "worst relative error {worst}");
    assert_eq!(agreed, rows);
}

#[test]
fn cached_decoding_equals_a_full_recompute_in_both_numerics() {
    let source = source();
    let ids = source
        .tokenizer()
        .encode("Once upon a time there was a little town", true, false)
        .unwrap();
    for numerics in [Numerics::Native, Numerics::LlamaCpp] {
        let model = LlamaModel::load_with_numerics(&source, &Device::cpu(), numerics).unwrap();
        let (difference, range) = common::cached_decoding_error(&model, &ids, 2);
        let error = difference / range;
        assert!(
            error < 1e-5,
            "{numerics:?}: cached decoding differs by {error}"
        );
    }
}
