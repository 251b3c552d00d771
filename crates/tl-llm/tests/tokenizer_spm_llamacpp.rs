//! The GGUF `llama` (SentencePiece) tokenizer on a small made-up vocabulary, against
//! llama.cpp's token ids (reference: scripts/reference/spm_vocab.py).

mod common;

use common::{data_path, ids_of, read_json};
use tl_llm::{tokenizer_from_gguf, GgufFile, Tokenizer, TokenizerKind};

fn tokenizer() -> Tokenizer {
    let file = GgufFile::open(data_path("llamacpp/spm_vocab.gguf")).expect("parses");
    tokenizer_from_gguf(&file).expect("builds")
}

#[test]
fn the_vocabulary_is_sentencepiece_with_bos() {
    let tokenizer = tokenizer();
    assert_eq!(tokenizer.kind(), &TokenizerKind::GgufSentencePiece);
    assert_eq!(tokenizer.bos(), Some(1));
    assert_eq!(tokenizer.eos(), Some(2));
    assert!(tokenizer.add_bos());
}

#[test]
fn token_ids_match_llamacpp() {
    let tokenizer = tokenizer();
    let reference = read_json("llamacpp/spm_tokenization.json");
    let mut failures = Vec::new();
    for case in reference["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        for (field, add_special, parse_special) in [
            ("ids", false, true),
            ("ids_add_special", true, true),
            ("ids_special_as_text", false, false),
        ] {
            let expected = ids_of(&case[field]);
            let got = tokenizer.encode(text, add_special, parse_special).unwrap();
            if got != expected {
                failures.push(format!(
                    "{text:?} {field}: ours {got:?}, llama.cpp {expected:?}"
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
fn decoding_matches_llamacpp() {
    let tokenizer = tokenizer();
    let reference = read_json("llamacpp/spm_tokenization.json");
    for case in reference["cases"].as_array().unwrap() {
        let ids = ids_of(&case["ids"]);
        let expected = case["detokenized"].as_str().unwrap();
        assert_eq!(
            tokenizer.decode(&ids, false).unwrap(),
            expected,
            "ids {ids:?}"
        );
    }
}

#[test]
fn streaming_keeps_every_piece_as_llamacpp_pieces_do() {
    let tokenizer = tokenizer();
    let reference = read_json("llamacpp/spm_tokenization.json");
    for case in reference["cases"].as_array().unwrap() {
        let ids = ids_of(&case["ids"]);
        let mut decoder = tokenizer.stream_decoder(false);
        let mut text = String::new();
        for id in ids {
            text.push_str(&decoder.push(id).unwrap());
        }
        text.push_str(&decoder.finish());
        assert_eq!(text, case["pieces_concatenated"].as_str().unwrap());
    }
}
