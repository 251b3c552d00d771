//! Builds a [`Tokenizer`] from a Hugging Face folder: `tokenizer.json` through the
//! `tokenizers` crate, special tokens and BOS/EOS policy from `tokenizer_config.json`.

use std::path::Path;

use serde_json::Value;

use crate::error::{LlmError, Result};
use crate::model_config::HfSpecialIds;
use crate::tokenizer::{
    parse_byte_token, PieceStyle, TokenClass, Tokenizer, TokenizerKind, TokenizerParts,
};

/// The parts of `tokenizer_config.json` we use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HfTokenizerConfig {
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub add_bos_token: Option<bool>,
    pub add_eos_token: Option<bool>,
    pub chat_template: Option<String>,
}

impl HfTokenizerConfig {
    /// Reads `tokenizer_config.json` (all fields optional; a missing file gives defaults).
    pub fn read(dir: &Path) -> Result<HfTokenizerConfig> {
        let path = dir.join("tokenizer_config.json");
        let mut config = if path.is_file() {
            let label = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| LlmError::io(&path, &e))?;
            HfTokenizerConfig::parse(&label, &text)?
        } else {
            HfTokenizerConfig::default()
        };
        // Newer transformers write the template to its own file.
        let jinja = dir.join("chat_template.jinja");
        if config.chat_template.is_none() && jinja.is_file() {
            config.chat_template =
                Some(std::fs::read_to_string(&jinja).map_err(|e| LlmError::io(&jinja, &e))?);
        }
        Ok(config)
    }

    pub fn parse(label: &str, text: &str) -> Result<HfTokenizerConfig> {
        let json: Value = serde_json::from_str(text).map_err(|e| LlmError::Json {
            path: label.to_string(),
            field: "tokenizer_config".into(),
            detail: e.to_string(),
        })?;
        let bad = |field: &str, detail: &str| LlmError::Json {
            path: label.to_string(),
            field: field.to_string(),
            detail: detail.to_string(),
        };
        let token = |field: &str| -> Result<Option<String>> {
            match json.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Object(o)) => match o.get("content") {
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    _ => Err(bad(field, "an object without a string `content`")),
                },
                Some(_) => Err(bad(field, "neither a string nor a token object")),
            }
        };
        let flag = |field: &str| -> Result<Option<bool>> {
            match json.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Bool(b)) => Ok(Some(*b)),
                Some(_) => Err(bad(field, "not a boolean")),
            }
        };
        let chat_template = match json.get("chat_template") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            // A list of named templates: the one named "default" is the chat template.
            Some(Value::Array(items)) => items
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                .and_then(|t| t.get("template"))
                .and_then(Value::as_str)
                .map(str::to_string),
            Some(_) => {
                return Err(bad(
                    "chat_template",
                    "neither a string nor a list of templates",
                ))
            }
        };
        Ok(HfTokenizerConfig {
            bos_token: token("bos_token")?,
            eos_token: token("eos_token")?,
            add_bos_token: flag("add_bos_token")?,
            add_eos_token: flag("add_eos_token")?,
            chat_template,
        })
    }
}

/// The tokenizer of a Hugging Face model folder.
pub fn tokenizer_from_hf(
    dir: &Path,
    config: &HfTokenizerConfig,
    ids: &HfSpecialIds,
) -> Result<Tokenizer> {
    let path = dir.join("tokenizer.json");
    let label = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| LlmError::io(&path, &e))?;
    let fail = |detail: String| LlmError::Tokenizer {
        source_name: label.clone(),
        detail,
    };
    // Parse the JSON first: the tokenizers crate panics (instead of failing) on some
    // malformed JSON inside a component, such as an unquoted key in the decoder object.
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| fail(format!("tokenizer.json is not valid JSON: {e}")))?;
    let inner = tokenizers::Tokenizer::from_bytes(text.as_bytes())
        .map_err(|e| fail(format!("cannot read tokenizer.json: {e}")))?;
    let model_type = json
        .pointer("/model/type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let decoder = json
        .get("decoder")
        .map(Value::to_string)
        .unwrap_or_default();
    let byte_fallback = json
        .pointer("/model/byte_fallback")
        .and_then(Value::as_bool)
        == Some(true);
    let piece_style = if decoder.contains("\"ByteLevel\"") {
        PieceStyle::ByteLevel
    } else if byte_fallback
        || decoder.contains("\"ByteFallback\"")
        || decoder.contains("\"Metaspace\"")
    {
        PieceStyle::SentencePiece
    } else {
        PieceStyle::Decoder
    };
    let strip_leading_space = decoder.contains("\"Strip\"")
        || (decoder.contains("\"Metaspace\"") && !decoder.contains("\"never\""));

    let vocab_size = inner.get_vocab_size(true);
    let mut classes = vec![TokenClass::Normal; vocab_size];
    if piece_style == PieceStyle::SentencePiece {
        for (id, class) in classes.iter_mut().enumerate() {
            if inner
                .id_to_token(id as u32)
                .is_some_and(|t| parse_byte_token(&t).is_some())
            {
                *class = TokenClass::Byte;
            }
        }
    }
    for (id, token) in inner.get_added_tokens_decoder() {
        if let Some(class) = classes.get_mut(id as usize) {
            *class = if token.special {
                TokenClass::Control
            } else {
                TokenClass::UserDefined
            };
        }
    }

    let id_of = |text: &Option<String>, field: &str| -> Result<Option<u32>> {
        match text {
            None => Ok(None),
            Some(t) => inner.token_to_id(t).map(Some).ok_or_else(|| {
                fail(format!(
                    "{field} `{t}` from tokenizer_config.json is not in the vocabulary"
                ))
            }),
        }
    };
    let bos = id_of(&config.bos_token, "bos_token")?.or(ids.bos);
    let eos = id_of(&config.eos_token, "eos_token")?.or(ids.eos.first().copied());
    // Without an explicit flag, the post-processor decides (Llama's adds BOS).
    let probe = inner
        .encode("a", true)
        .map_err(|e| fail(format!("encoding failed: {e}")))?;
    let add_bos = config
        .add_bos_token
        .unwrap_or_else(|| bos.is_some() && probe.get_ids().first().copied() == bos);
    let add_eos = config.add_eos_token.unwrap_or_else(|| {
        eos.is_some() && probe.get_ids().len() > 1 && probe.get_ids().last().copied() == eos
    });

    Tokenizer::from_parts(TokenizerParts {
        source_name: label.clone(),
        kind: TokenizerKind::HuggingFace { model: model_type },
        inner,
        classes,
        piece_style,
        bos,
        eos,
        extra_eog: ids.eos.clone(),
        add_bos,
        add_eos,
        strip_leading_space,
    })
}
