//! `Tokenizer`: one encoder/decoder for every model source, built on `tokenizers::Tokenizer`,
//! with BOS/EOS policy and byte-exact token pieces for streaming detokenization.

use std::fmt;

use crate::error::{LlmError, Result};
use crate::stream_decoder::StreamDecoder;

/// Which vocabulary family a tokenizer comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenizerKind {
    /// GGUF `gpt2`: byte-level BPE; `pre` is `tokenizer.ggml.pre`.
    GgufByteLevelBpe { pre: String },
    /// GGUF `llama`: SentencePiece with scores and byte fallback.
    GgufSentencePiece,
    /// A Hugging Face `tokenizer.json`; `model` is its model type (BPE, Unigram…).
    HuggingFace { model: String },
}

impl fmt::Display for TokenizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizerKind::GgufByteLevelBpe { pre } => {
                write!(f, "gpt2 byte-level BPE (GGUF, pre-tokenizer {pre})")
            }
            TokenizerKind::GgufSentencePiece => write!(f, "llama SentencePiece (GGUF)"),
            TokenizerKind::HuggingFace { model } => write!(f, "{model} (tokenizer.json)"),
        }
    }
}

/// What a token is, which decides how it decodes and whether it is special.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenClass {
    Normal,
    /// Control tokens (`<|im_start|>`, `<s>`): matched in text only when parsing specials,
    /// dropped from decoded text when skipping specials.
    Control,
    /// Always matched before BPE and decoded as their text.
    UserDefined,
    /// `<0xXX>` byte-fallback tokens.
    Byte,
    Unknown,
    Unused,
}

/// How to turn a token into bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PieceStyle {
    /// Characters map back to bytes through GPT-2's table.
    ByteLevel,
    /// `▁` is a space; `<0xXX>` is a byte.
    SentencePiece,
    /// Ask `tokenizers` to decode the token on its own.
    Decoder,
}

/// Everything needed to assemble a [`Tokenizer`].
pub(crate) struct TokenizerParts {
    pub source_name: String,
    pub kind: TokenizerKind,
    pub inner: tokenizers::Tokenizer,
    pub classes: Vec<TokenClass>,
    pub piece_style: PieceStyle,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub extra_eog: Vec<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    /// Remove one leading space from decoded text (SentencePiece's dummy prefix).
    pub strip_leading_space: bool,
}

/// Texts of control tokens that end generation, as llama.cpp treats them: end-of-turn tokens
/// of common chat formats, and the fill-in-the-middle pad/repo/file-separator tokens.
const END_OF_GENERATION_TEXTS: [&str; 21] = [
    "<|eot_id|>",
    "<|eom_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<EOT>",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<|return|>",
    "<|call|>",
    "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
    "<|fim_pad|>",
    "<fim-pad>",
    "<fim_pad>",
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
    "<|file_sep|>",
];

pub struct Tokenizer {
    source_name: String,
    kind: TokenizerKind,
    inner: tokenizers::Tokenizer,
    /// The same tokenizer with special tokens treated as plain text.
    inner_plain: tokenizers::Tokenizer,
    classes: Vec<TokenClass>,
    pieces: Vec<Vec<u8>>,
    bos: Option<u32>,
    eos: Option<u32>,
    end_of_generation: Vec<u32>,
    add_bos: bool,
    add_eos: bool,
    strip_leading_space: bool,
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokenizer")
            .field("source", &self.source_name)
            .field("kind", &self.kind)
            .field("vocab", &self.pieces.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish()
    }
}

impl Tokenizer {
    pub(crate) fn from_parts(parts: TokenizerParts) -> Result<Tokenizer> {
        let TokenizerParts {
            source_name,
            kind,
            inner,
            mut classes,
            piece_style,
            bos,
            eos,
            extra_eog,
            add_bos,
            add_eos,
            strip_leading_space,
        } = parts;
        let vocab_size = inner.get_vocab_size(true);
        classes.resize(vocab_size.max(classes.len()), TokenClass::Normal);
        let mut pieces = Vec::with_capacity(classes.len());
        for (id, class) in classes.iter().enumerate() {
            let text = inner.id_to_token(id as u32).unwrap_or_default();
            pieces.push(token_piece(&inner, id as u32, &text, *class, piece_style));
        }
        for (name, id) in [("bos", bos), ("eos", eos)] {
            if let Some(id) = id {
                if id as usize >= pieces.len() {
                    return Err(LlmError::Tokenizer {
                        source_name,
                        detail: format!(
                            "{name} token id {id} is outside the vocabulary of {}",
                            pieces.len()
                        ),
                    });
                }
            }
        }
        let mut end_of_generation: Vec<u32> = eos.into_iter().chain(extra_eog).collect();
        for (id, class) in classes.iter().enumerate() {
            if matches!(class, TokenClass::Control | TokenClass::UserDefined)
                && END_OF_GENERATION_TEXTS.contains(&std::str::from_utf8(&pieces[id]).unwrap_or(""))
            {
                end_of_generation.push(id as u32);
            }
        }
        end_of_generation.sort_unstable();
        end_of_generation.dedup();
        let mut inner_plain = inner.clone();
        inner_plain.set_encode_special_tokens(true);
        Ok(Tokenizer {
            source_name,
            kind,
            inner,
            inner_plain,
            classes,
            pieces,
            bos,
            eos,
            end_of_generation,
            add_bos,
            add_eos,
            strip_leading_space,
        })
    }

    pub fn kind(&self) -> &TokenizerKind {
        &self.kind
    }

    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// Whether encoding with `add_special` puts BOS first (the model's own policy).
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    pub fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// Tokens after which generation stops (EOS, end-of-turn tokens).
    pub fn end_of_generation(&self) -> &[u32] {
        &self.end_of_generation
    }

    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.end_of_generation.binary_search(&id).is_ok()
    }

    pub fn token_class(&self, id: u32) -> Option<TokenClass> {
        self.classes.get(id as usize).copied()
    }

    /// The token's vocabulary entry (`Ġthe`, `▁the`, `<|im_start|>`).
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.inner.token_to_id(text)
    }

    /// The bytes a token decodes to (may be part of a UTF-8 character).
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.pieces.get(id as usize).map(|p| p.as_slice())
    }

    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Token ids of `text`. `add_special` adds BOS/EOS as the model asks; `parse_special`
    /// turns the text of special tokens (`<|im_start|>`) into those tokens.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<u32>> {
        let inner = if parse_special {
            &self.inner
        } else {
            &self.inner_plain
        };
        let encoding = inner.encode(text, false).map_err(|e| LlmError::Tokenizer {
            source_name: self.source_name.clone(),
            detail: format!("encoding failed: {e}"),
        })?;
        let mut ids = Vec::with_capacity(encoding.get_ids().len() + 2);
        if add_special && self.add_bos {
            ids.extend(self.bos);
        }
        ids.extend_from_slice(encoding.get_ids());
        if add_special && self.add_eos {
            ids.extend(self.eos);
        }
        Ok(ids)
    }

    /// The text of `ids` as a whole text (SentencePiece's dummy-prefix space is removed, as
    /// llama.cpp's `llama_detokenize` does); invalid UTF-8 becomes U+FFFD. Ids outside the
    /// vocabulary are an error.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        let mut decoder = StreamDecoder::new(self, skip_special, self.strip_leading_space);
        let mut text = String::new();
        for &id in ids {
            text.push_str(&decoder.push(id)?);
        }
        text.push_str(&decoder.finish());
        Ok(text)
    }

    /// A decoder that turns generated tokens into text one at a time, emitting only whole
    /// characters. The tokens continue a prompt, so every piece is kept as is (a leading
    /// `▁Paris` is ` Paris`).
    pub fn stream_decoder(&self, skip_special: bool) -> StreamDecoder<'_> {
        StreamDecoder::new(self, skip_special, false)
    }

    /// The bytes `id` contributes to decoded text.
    pub(crate) fn piece_for_decoding(&self, id: u32, skip_special: bool) -> Result<&[u8]> {
        let piece = self
            .pieces
            .get(id as usize)
            .ok_or_else(|| LlmError::Tokenizer {
                source_name: self.source_name.clone(),
                detail: format!(
                    "token id {id} is outside the vocabulary of {}",
                    self.pieces.len()
                ),
            })?;
        let class = self.classes[id as usize];
        if skip_special
            && matches!(
                class,
                TokenClass::Control | TokenClass::Unknown | TokenClass::Unused
            )
        {
            return Ok(&[]);
        }
        Ok(piece)
    }
}

fn token_piece(
    inner: &tokenizers::Tokenizer,
    id: u32,
    text: &str,
    class: TokenClass,
    style: PieceStyle,
) -> Vec<u8> {
    match class {
        TokenClass::Control
        | TokenClass::UserDefined
        | TokenClass::Unknown
        | TokenClass::Unused => return text.as_bytes().to_vec(),
        TokenClass::Byte => {
            if let Some(byte) = parse_byte_token(text) {
                return vec![byte];
            }
        }
        TokenClass::Normal => {}
    }
    match style {
        PieceStyle::ByteLevel => {
            crate::byte_level::decode_token(text).unwrap_or_else(|| text.as_bytes().to_vec())
        }
        PieceStyle::SentencePiece => match parse_byte_token(text) {
            Some(byte) => vec![byte],
            None => text.replace('\u{2581}', " ").into_bytes(),
        },
        PieceStyle::Decoder => inner
            .decode(&[id], false)
            .map(String::into_bytes)
            .unwrap_or_else(|_| text.as_bytes().to_vec()),
    }
}

/// `<0x41>` → 0x41.
pub(crate) fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}
