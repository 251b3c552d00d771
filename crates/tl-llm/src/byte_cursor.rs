//! A bounds-checked little-endian reader over a byte slice; every read names the field it reads.

use crate::error::LlmError;

pub(crate) struct ByteCursor<'a> {
    bytes: &'a [u8],
    position: usize,
    path: &'a str,
}

impl<'a> ByteCursor<'a> {
    pub fn new(bytes: &'a [u8], path: &'a str) -> Self {
        ByteCursor {
            bytes,
            position: 0,
            path,
        }
    }

    pub fn position(&self) -> usize {
        self.position
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    /// An error at the cursor's position.
    pub fn error(&self, field: &str, detail: impl Into<String>) -> LlmError {
        self.error_at(self.position, field, detail)
    }

    pub fn error_at(&self, offset: usize, field: &str, detail: impl Into<String>) -> LlmError {
        LlmError::Gguf {
            path: self.path.to_string(),
            offset: offset as u64,
            field: field.to_string(),
            detail: detail.into(),
        }
    }

    pub fn take(&mut self, len: usize, field: &str) -> Result<&'a [u8], LlmError> {
        if len > self.remaining() {
            return Err(self.error(
                field,
                format!(
                    "needs {len} bytes but the file ends after {} more (truncated?)",
                    self.remaining()
                ),
            ));
        }
        let slice = &self.bytes[self.position..self.position + len];
        self.position += len;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], LlmError> {
        let slice = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub fn u8(&mut self, field: &str) -> Result<u8, LlmError> {
        Ok(self.array::<1>(field)?[0])
    }
    pub fn i8(&mut self, field: &str) -> Result<i8, LlmError> {
        Ok(i8::from_le_bytes(self.array(field)?))
    }
    pub fn u16(&mut self, field: &str) -> Result<u16, LlmError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }
    pub fn i16(&mut self, field: &str) -> Result<i16, LlmError> {
        Ok(i16::from_le_bytes(self.array(field)?))
    }
    pub fn u32(&mut self, field: &str) -> Result<u32, LlmError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }
    pub fn i32(&mut self, field: &str) -> Result<i32, LlmError> {
        Ok(i32::from_le_bytes(self.array(field)?))
    }
    pub fn u64(&mut self, field: &str) -> Result<u64, LlmError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }
    pub fn i64(&mut self, field: &str) -> Result<i64, LlmError> {
        Ok(i64::from_le_bytes(self.array(field)?))
    }
    pub fn f32(&mut self, field: &str) -> Result<f32, LlmError> {
        Ok(f32::from_le_bytes(self.array(field)?))
    }
    pub fn f64(&mut self, field: &str) -> Result<f64, LlmError> {
        Ok(f64::from_le_bytes(self.array(field)?))
    }

    /// A count or length that must fit the bytes left, each item needing at least `min_item_bytes`.
    pub fn count(&mut self, field: &str, min_item_bytes: usize) -> Result<usize, LlmError> {
        let start = self.position;
        let count = self.u64(field)?;
        let limit = self.remaining() / min_item_bytes.max(1);
        if count > limit as u64 {
            return Err(self.error_at(
                start,
                field,
                format!(
                    "count {count} cannot fit in the {} bytes left in the file",
                    self.remaining()
                ),
            ));
        }
        Ok(count as usize)
    }

    /// A GGUF string: u64 byte length, then bytes. Invalid UTF-8 is replaced, as tokens in
    /// some converted vocabularies are not valid UTF-8 and one such token must not make the
    /// whole file unreadable.
    pub fn string(&mut self, field: &str) -> Result<String, LlmError> {
        let len = self.count(field, 1)?;
        let bytes = self.take(len, field)?;
        Ok(match std::str::from_utf8(bytes) {
            Ok(s) => s.to_string(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        })
    }
}
