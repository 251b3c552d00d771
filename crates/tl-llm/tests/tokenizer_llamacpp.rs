//! The default model's GGUF tokenizer against llama.cpp's token ids, detokenized text and
//! end-of-generation set (reference: scripts/reference/llamacpp.py).

mod common;

use common::{default_model_path, ids_of, read_json};
use tl_llm::{tokenizer_from_gguf, GgufFile, Tokenizer, TokenizerKind};

fn tokenizer() -> Tokenizer {
    let file = GgufFile::open(default_model_path()).expect("the default model parses");
    tokenizer_from_gguf(&file).expect("its tokenizer builds")
}

#[test]
fn tokenizer_kind_and_special_ids_follow_the_metadata() {
    let tokenizer = tokenizer();
    assert_eq!(
        tokenizer.kind(),
        &TokenizerKind::GgufByteLevelBpe {
            pre: "smollm".into()
        }
    );
    assert_eq!(tokenizer.vocab_size(), 49152);
    assert_eq!(tokenizer.bos(), Some(1));
    assert_eq!(tokenizer.eos(), Some(2));
    assert!(!tokenizer.add_bos());
    assert_eq!(tokenizer.token_text(1).as_deref(), Some("<|im_start|>"));
    assert_eq!(tokenizer.token_text(2).as_deref(), Some("<|im_end|>"));
}

#[test]
fn token_ids_match_llamacpp_on_every_reference_string() {
    let tokenizer = tokenizer();
    let reference = read_json("llamacpp/tokenization.json");
    let cases = reference["cases"].as_array().expect("cases");
    assert!(
        cases.len() >= 50,
        "the reference has {} strings",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let expected = ids_of(&case["ids"]);
        let got = tokenizer.encode(text, false, true).expect("encodes");
        if got != expected {
            failures.push(format!("{text:?}: ours {got:?}, llama.cpp {expected:?}"));
        }
        let expected_plain = ids_of(&case["ids_special_as_text"]);
        let got_plain = tokenizer.encode(text, false, false).expect("encodes");
        if got_plain != expected_plain {
            failures.push(format!(
                "{text:?} (specials as text): ours {got_plain:?}, llama.cpp {expected_plain:?}"
            ));
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
fn add_special_follows_the_model_and_adds_no_bos() {
    let tokenizer = tokenizer();
    assert_eq!(
        tokenizer.encode("Hello world", true, true).unwrap(),
        tokenizer.encode("Hello world", false, true).unwrap()
    );
}

#[test]
fn decoding_matches_llamacpp_and_round_trips() {
    let tokenizer = tokenizer();
    let reference = read_json("llamacpp/tokenization.json");
    for case in reference["cases"].as_array().expect("cases") {
        let text = case["text"].as_str().expect("text");
        let ids = ids_of(&case["ids"]);
        let decoded = tokenizer.decode(&ids, false).expect("decodes");
        assert_eq!(
            decoded,
            case["detokenized"].as_str().expect("detokenized"),
            "ids {ids:?}"
        );
        assert_eq!(decoded, text, "byte-level BPE loses nothing");
    }
}

#[test]
fn streaming_decoder_emits_whole_characters_and_the_same_text() {
    let tokenizer = tokenizer();
    let reference = read_json("llamacpp/tokenization.json");
    for case in reference["cases"].as_array().expect("cases") {
        let text = case["text"].as_str().expect("text");
        let ids = ids_of(&case["ids"]);
        let mut decoder = tokenizer.stream_decoder(false);
        let mut streamed = String::new();
        for &id in &ids {
            let chunk = decoder.push(id).expect("known id");
            assert!(
                !chunk.contains('\u{FFFD}') || text.contains('\u{FFFD}'),
                "{text:?}"
            );
            streamed.push_str(&chunk);
        }
        assert!(
            decoder.pending_bytes().is_empty(),
            "{text:?} leaves bytes pending"
        );
        streamed.push_str(&decoder.finish());
        assert_eq!(streamed, text);
    }
}

#[test]
fn an_emoji_split_across_tokens_is_held_back_until_complete() {
    let tokenizer = tokenizer();
    let ids = tokenizer.encode("👨‍👩‍👧‍👦", false, true).unwrap();
    // Byte-level BPE splits this 25-byte emoji sequence into several tokens; some tokens
    // end inside a character.
    let mut decoder = tokenizer.stream_decoder(false);
    let mut held_back = false;
    let mut out = String::new();
    for id in ids {
        let chunk = decoder.push(id).unwrap();
        if chunk.is_empty() && !decoder.pending_bytes().is_empty() {
            held_back = true;
        }
        out.push_str(&chunk);
    }
    assert!(held_back, "some token ended mid-character");
    assert_eq!(out, "👨‍👩‍👧‍👦");
}

#[test]
fn end_of_generation_ids_match_llamacpp() {
    let tokenizer = tokenizer();
    let reference = read_json("llamacpp/tokenization.json");
    assert_eq!(
        tokenizer.end_of_generation(),
        ids_of(&reference["end_of_generation_ids"])
    );
}

#[test]
fn greedy_continuations_decode_to_llamacpp_text() {
    let tokenizer = tokenizer();
    let reference = read_json("llamacpp/greedy.json");
    for run in reference["runs"].as_array().expect("runs") {
        let ids = ids_of(&run["generated_ids"]);
        // llama.cpp's detokenize drops control tokens here (special=False).
        let text = tokenizer.decode(&ids, true).unwrap();
        assert_eq!(text, run["generated_text"].as_str().unwrap());
    }
}

#[test]
fn skipping_specials_drops_control_tokens_only() {
    let tokenizer = tokenizer();
    let ids = tokenizer
        .encode("<|im_start|>user\nHi<|im_end|>", false, true)
        .unwrap();
    assert_eq!(ids[0], 1);
    assert_eq!(tokenizer.decode(&ids, true).unwrap(), "user\nHi");
    assert_eq!(
        tokenizer.decode(&ids, false).unwrap(),
        "<|im_start|>user\nHi<|im_end|>"
    );
}

#[test]
fn out_of_vocabulary_ids_are_errors() {
    let tokenizer = tokenizer();
    let error = tokenizer.decode(&[49152], false).unwrap_err().to_string();
    assert!(error.contains("49152"), "{error}");
}
