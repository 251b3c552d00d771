//! Builds a [`Tokenizer`] from a GGUF file's embedded vocabulary: `gpt2` byte-level BPE with
//! merges and the regexes `tokenizer.ggml.pre` names, or `llama` SentencePiece with scores.

use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, NormalizerWrapper, SplitDelimiterBehavior};

use crate::error::{LlmError, Result};
use crate::gguf_file::GgufFile;
use crate::pretokenizer_regex::pre_tokenizer_spec;
use crate::tokenizer::{PieceStyle, TokenClass, Tokenizer, TokenizerKind, TokenizerParts};

/// The tokenizer embedded in a GGUF file.
pub fn tokenizer_from_gguf(file: &GgufFile) -> Result<Tokenizer> {
    let model = file.get_str("tokenizer.ggml.model")?;
    let tokens = file.get_str_array("tokenizer.ggml.tokens")?;
    let classes = token_classes(file, tokens.len())?;
    let fail = |detail: String| LlmError::Tokenizer {
        source_name: file.label(),
        detail,
    };
    let id = |key: &str| -> Result<Option<u32>> {
        let id = file.opt_u32(key)?;
        match id {
            Some(id) if id as usize >= tokens.len() => Err(LlmError::KeyType {
                path: file.label(),
                key: key.to_string(),
                expected: format!("a token id below the vocabulary size {}", tokens.len()),
                found: id.to_string(),
            }),
            other => Ok(other),
        }
    };
    let bos = id("tokenizer.ggml.bos_token_id")?;
    let eos = id("tokenizer.ggml.eos_token_id")?;
    let extra_eog: Vec<u32> = [
        id("tokenizer.ggml.eot_token_id")?,
        id("tokenizer.ggml.eom_token_id")?,
    ]
    .into_iter()
    .flatten()
    .collect();

    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i as u32))
        .collect();

    let (kind, inner, piece_style, default_add_bos, strip_leading_space) = match model {
        "gpt2" => {
            let pre = file
                .opt_str("tokenizer.ggml.pre")?
                .unwrap_or("default")
                .to_string();
            let spec = pre_tokenizer_spec(&pre).ok_or_else(|| {
                fail(format!(
                    "pre-tokenizer `{pre}` (tokenizer.ggml.pre) is not supported; known: smollm, llama3/llama-bpe, gpt-2, qwen2, starcoder, default…"
                ))
            })?;
            let merges = file
                .get_str_array("tokenizer.ggml.merges")?
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    m.split_once(' ')
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .ok_or_else(|| {
                            fail(format!(
                                "merge {i} `{m}` is not two tokens separated by a space"
                            ))
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            let bpe = BPE::builder()
                .vocab_and_merges(vocab, merges)
                .ignore_merges(spec.ignore_merges)
                .build()
                .map_err(|e| fail(format!("cannot build the BPE model: {e}")))?;
            let mut inner = tokenizers::Tokenizer::new(bpe);
            let mut steps: Vec<PreTokenizerWrapper> = Vec::new();
            for regex in &spec.regexes {
                let split = Split::new(
                    SplitPattern::Regex(regex.to_string()),
                    SplitDelimiterBehavior::Isolated,
                    false,
                )
                .map_err(|e| fail(format!("pre-tokenizer regex `{regex}`: {e}")))?;
                steps.push(split.into());
            }
            steps.push(ByteLevel::new(false, false, false).into());
            inner.with_pre_tokenizer(Some(PreTokenizerSequence::new(steps)));
            inner.with_decoder(Some(ByteLevelDecoder::default()));
            // llama.cpp adds BOS by default for the llama 3 family only.
            let default_add_bos = matches!(
                pre.as_str(),
                "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral"
            );
            (
                TokenizerKind::GgufByteLevelBpe { pre },
                inner,
                PieceStyle::ByteLevel,
                default_add_bos,
                false,
            )
        }
        "llama" => {
            let scores = match file.get("tokenizer.ggml.scores") {
                Some(_) => file.get_f32_array("tokenizer.ggml.scores")?,
                None => vec![0.0; tokens.len()],
            };
            if scores.len() != tokens.len() {
                return Err(fail(format!(
                    "{} scores for {} tokens",
                    scores.len(),
                    tokens.len()
                )));
            }
            let merges = merges_from_scores(&tokens, &scores, &vocab);
            let unk = id("tokenizer.ggml.unknown_token_id")?.unwrap_or(0);
            let mut builder = BPE::builder()
                .vocab_and_merges(vocab, merges)
                .byte_fallback(true)
                .fuse_unk(true);
            if let Some(unk_text) = tokens.get(unk as usize) {
                builder = builder.unk_token(unk_text.to_string());
            }
            let bpe = builder
                .build()
                .map_err(|e| fail(format!("cannot build the SentencePiece model: {e}")))?;
            let add_space_prefix = file
                .opt_bool("tokenizer.ggml.add_space_prefix")?
                .unwrap_or(true);
            let mut inner = tokenizers::Tokenizer::new(bpe);
            let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
            if add_space_prefix {
                normalizers.push(Prepend::new("\u{2581}".into()).into());
            }
            normalizers.push(
                Replace::new(" ", "\u{2581}")
                    .map_err(|e| fail(format!("normalizer: {e}")))?
                    .into(),
            );
            inner.with_normalizer(Some(NormalizerSequence::new(normalizers)));
            let mut decoders: Vec<DecoderWrapper> = vec![Replace::new("\u{2581}", " ")
                .map_err(|e| fail(format!("decoder: {e}")))?
                .into()];
            decoders.push(ByteFallback::default().into());
            decoders.push(Fuse::default().into());
            if add_space_prefix {
                decoders.push(Strip::new(' ', 1, 0).into());
            }
            inner.with_decoder(Some(DecoderSequence::new(decoders)));
            (
                TokenizerKind::GgufSentencePiece,
                inner,
                PieceStyle::SentencePiece,
                true,
                add_space_prefix,
            )
        }
        other => {
            return Err(fail(format!(
                "tokenizer model `{other}` (tokenizer.ggml.model) is not supported (gpt2, llama)"
            )))
        }
    };
    let mut inner = inner;
    add_special_tokens(&mut inner, &tokens, &classes);
    Tokenizer::from_parts(TokenizerParts {
        source_name: file.label(),
        kind,
        inner,
        classes,
        piece_style,
        bos,
        eos,
        extra_eog,
        add_bos: file
            .opt_bool("tokenizer.ggml.add_bos_token")?
            .unwrap_or(default_add_bos),
        add_eos: file
            .opt_bool("tokenizer.ggml.add_eos_token")?
            .unwrap_or(false),
        strip_leading_space,
    })
}

/// `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
fn token_classes(file: &GgufFile, n_tokens: usize) -> Result<Vec<TokenClass>> {
    let key = "tokenizer.ggml.token_type";
    if !file.contains_key(key) {
        return Ok(vec![TokenClass::Normal; n_tokens]);
    }
    let types = file.get_i32_array(key)?;
    if types.len() != n_tokens {
        return Err(LlmError::KeyType {
            path: file.label(),
            key: key.into(),
            expected: format!("{n_tokens} entries, one per token"),
            found: format!("{} entries", types.len()),
        });
    }
    Ok(types
        .into_iter()
        .map(|t| match t {
            2 => TokenClass::Unknown,
            3 => TokenClass::Control,
            4 => TokenClass::UserDefined,
            5 => TokenClass::Unused,
            6 => TokenClass::Byte,
            _ => TokenClass::Normal,
        })
        .collect())
}

/// Registers control, unknown and user-defined tokens so they are matched before the model
/// runs, longest first, as llama.cpp does.
fn add_special_tokens(inner: &mut tokenizers::Tokenizer, tokens: &[&str], classes: &[TokenClass]) {
    let mut special = Vec::new();
    let mut user = Vec::new();
    for (text, class) in tokens.iter().zip(classes) {
        if text.is_empty() {
            continue;
        }
        match class {
            TokenClass::Control | TokenClass::Unknown => {
                special.push(AddedToken::from(text.to_string(), true).normalized(false))
            }
            TokenClass::UserDefined => {
                user.push(AddedToken::from(text.to_string(), false).normalized(false))
            }
            _ => {}
        }
    }
    inner.add_special_tokens(&special);
    inner.add_tokens(&user);
}

/// SentencePiece merges every adjacent pair whose concatenation is a token, highest score
/// first. A BPE merge list ranked by that score reproduces it: for every token, each split
/// into two tokens becomes a merge with the token's rank.
fn merges_from_scores(tokens: &[&str], scores: &[f32], vocab: &Vocab) -> Vec<(String, String)> {
    let mut ranked: Vec<(f32, u32, usize, String, String)> = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        for (split, _) in token.char_indices().skip(1) {
            let (left, right) = token.split_at(split);
            if vocab.contains_key(left) && vocab.contains_key(right) {
                ranked.push((
                    scores[id],
                    id as u32,
                    split,
                    left.to_string(),
                    right.to_string(),
                ));
            }
        }
    }
    // Highest score first; ties by lower token id, then shorter left part.
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    ranked.into_iter().map(|(_, _, _, l, r)| (l, r)).collect()
}
