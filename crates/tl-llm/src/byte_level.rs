//! GPT-2's reversible map between bytes and printable characters, used by byte-level BPE
//! vocabularies (a token such as `Ġthe` stands for the bytes ` the`).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Byte → character: printable Latin-1 bytes map to themselves, the other 68 bytes to
/// U+0100 onwards in byte order.
pub fn byte_to_char() -> &'static [char; 256] {
    static TABLE: OnceLock<[char; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let printable = |b: u32| {
            (u32::from(b'!')..=u32::from(b'~')).contains(&b)
                || (0xA1..=0xAC).contains(&b)
                || (0xAE..=0xFF).contains(&b)
        };
        let mut table = ['\0'; 256];
        let mut next_extra = 0u32;
        for (byte, slot) in table.iter_mut().enumerate() {
            let byte = byte as u32;
            let code = if printable(byte) {
                byte
            } else {
                next_extra += 1;
                255 + next_extra
            };
            *slot = char::from_u32(code).expect("codes below 0x200 are valid chars");
        }
        table
    })
}

/// Character → byte, the inverse of [`byte_to_char`].
pub fn char_to_byte() -> &'static HashMap<char, u8> {
    static TABLE: OnceLock<HashMap<char, u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        byte_to_char()
            .iter()
            .enumerate()
            .map(|(byte, &c)| (c, byte as u8))
            .collect()
    })
}

/// The bytes a byte-level token stands for, or `None` when a character is outside the map.
pub fn decode_token(text: &str) -> Option<Vec<u8>> {
    let table = char_to_byte();
    text.chars().map(|c| table.get(&c).copied()).collect()
}
