//! `StreamDecoder`: turns generated tokens into text as they arrive, holding back bytes until
//! they form whole UTF-8 characters (a token may end in the middle of one).

use crate::error::Result;
use crate::tokenizer::Tokenizer;

pub struct StreamDecoder<'a> {
    tokenizer: &'a Tokenizer,
    skip_special: bool,
    pending: Vec<u8>,
    /// Drop one space from the first non-empty piece (SentencePiece's dummy prefix); only
    /// right when the tokens start a text, not when they continue a prompt.
    strip_leading_space: bool,
}

impl<'a> StreamDecoder<'a> {
    pub(crate) fn new(
        tokenizer: &'a Tokenizer,
        skip_special: bool,
        strip_leading_space: bool,
    ) -> Self {
        StreamDecoder {
            tokenizer,
            skip_special,
            pending: Vec::new(),
            strip_leading_space,
        }
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    pub fn push(&mut self, id: u32) -> Result<String> {
        let mut piece = self.tokenizer.piece_for_decoding(id, self.skip_special)?;
        if self.strip_leading_space && !piece.is_empty() {
            if piece[0] == b' ' {
                piece = &piece[1..];
            }
            self.strip_leading_space = false;
        }
        self.pending.extend_from_slice(piece);
        Ok(self.take_complete())
    }

    /// Bytes still waiting for the rest of their character.
    pub fn pending_bytes(&self) -> &[u8] {
        &self.pending
    }

    /// Ends the stream: whatever is pending is emitted, incomplete characters as U+FFFD.
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }

    fn take_complete(&mut self) -> String {
        let mut out = String::new();
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(valid) => {
                    out.push_str(valid);
                    start = self.pending.len();
                    break;
                }
                Err(error) => {
                    let valid_end = start + error.valid_up_to();
                    out.push_str(
                        std::str::from_utf8(&self.pending[start..valid_end])
                            .expect("checked by valid_up_to"),
                    );
                    match error.error_len() {
                        // An incomplete character at the end: wait for more bytes.
                        None => {
                            start = valid_end;
                            break;
                        }
                        // Bytes that can never become a character.
                        Some(len) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = valid_end + len;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
        out
    }
}
