//! A memory-mapped GGUF v2/v3 file: validated header, metadata, tensor infos and tensor bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use tl_tensor::DType;

use crate::byte_cursor::ByteCursor;
use crate::error::{LlmError, Result};
use crate::ggml_type::{dtype_from_ggml, ggml_type_name};
use crate::gguf_value::{GgufValueType, MetadataArray, MetadataValue};
use crate::mapped_bytes::{map_bytes, map_file};

const GGUF_MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml tensors have at most four dimensions.
const MAX_DIMS: u32 = 4;
/// Arrays nested deeper than this are certainly corrupt; the bound keeps recursion finite.
const MAX_ARRAY_DEPTH: usize = 8;

/// One tensor as the file describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufTensorInfo {
    pub name: String,
    /// Row-major shape (slowest axis first): GGUF's dims reversed.
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Offset of the tensor's bytes from the start of the file.
    pub file_offset: usize,
    pub byte_len: usize,
}

impl GgufTensorInfo {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A parsed GGUF file. The tensor data stay in the memory map until asked for.
pub struct GgufFile {
    path: PathBuf,
    map: Arc<Mmap>,
    version: u32,
    metadata: Vec<(String, MetadataValue)>,
    metadata_index: HashMap<String, usize>,
    tensors: Vec<GgufTensorInfo>,
    tensor_index: HashMap<String, usize>,
    alignment: u64,
    data_offset: usize,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Maps and validates a GGUF file.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile> {
        let path = path.as_ref();
        let map = map_file(path, 1, |_| LlmError::Gguf {
            path: path.display().to_string(),
            offset: 0,
            field: "magic".into(),
            detail: "the file is empty".into(),
        })?;
        let len = map.len();
        GgufFile::parse(path.to_path_buf(), map, len)
    }

    /// Parses GGUF bytes held in memory (tests, or data from elsewhere); `label` names them in errors.
    pub fn from_bytes(label: impl Into<PathBuf>, bytes: &[u8]) -> Result<GgufFile> {
        let label = label.into();
        let map = map_bytes(&label, bytes)?;
        GgufFile::parse(label, map, bytes.len())
    }

    fn parse(path: PathBuf, map: Arc<Mmap>, len: usize) -> Result<GgufFile> {
        let label = path.display().to_string();
        let bytes = &map[..len];
        let mut cursor = ByteCursor::new(bytes, &label);

        let magic = cursor.take(4, "magic")?;
        if magic != GGUF_MAGIC {
            return Err(cursor.error_at(
                0,
                "magic",
                format!("expected \"GGUF\", found {magic:02x?}; not a GGUF file"),
            ));
        }
        let version = cursor.u32("version")?;
        if version != 2 && version != 3 {
            let hint = if matches!(version.swap_bytes(), 2 | 3) {
                "; this looks like a big-endian GGUF, which is not supported"
            } else {
                ""
            };
            return Err(cursor.error_at(
                4,
                "version",
                format!("version {version} is not supported (only GGUF v2 and v3){hint}"),
            ));
        }
        // Each tensor info needs at least a name length, n_dims, type and offset.
        let tensor_count = cursor.count("tensor_count", 8 + 4 + 4 + 8)?;
        // Each key-value needs at least a key length, a type and a one-byte value.
        let kv_count = cursor.count("metadata_kv_count", 8 + 4 + 1)?;

        let mut metadata = Vec::with_capacity(kv_count);
        let mut metadata_index = HashMap::with_capacity(kv_count);
        for i in 0..kv_count {
            let key_offset = cursor.position();
            let key = cursor.string(&format!("metadata[{i}].key"))?;
            let type_code = cursor.u32(&format!("metadata `{key}` value type"))?;
            let value = read_value(&mut cursor, type_code, &key, 0)?;
            if metadata_index.insert(key.clone(), metadata.len()).is_some() {
                return Err(cursor.error_at(
                    key_offset,
                    &format!("metadata `{key}`"),
                    "the key appears twice",
                ));
            }
            metadata.push((key, value));
        }

        let alignment = match metadata_index.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(&i) => match &metadata[i].1 {
                MetadataValue::U32(a) if a.is_power_of_two() => u64::from(*a),
                other => {
                    return Err(cursor.error(
                        "metadata `general.alignment`",
                        format!(
                            "must be a u32 power of two, found {} {other}",
                            other.type_description()
                        ),
                    ))
                }
            },
        };

        struct RawInfo {
            name: String,
            shape: Vec<usize>,
            dtype: DType,
            relative_offset: u64,
            byte_len: usize,
            info_offset: usize,
        }
        let mut raw_infos = Vec::with_capacity(tensor_count);
        for i in 0..tensor_count {
            let info_offset = cursor.position();
            let name = cursor.string(&format!("tensor_infos[{i}].name"))?;
            let field = |what: &str| format!("tensor `{name}` {what}");
            let n_dims = cursor.u32(&field("n_dims"))?;
            if n_dims > MAX_DIMS {
                return Err(cursor.error(
                    &field("n_dims"),
                    format!("{n_dims} dimensions; ggml tensors have at most {MAX_DIMS}"),
                ));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for d in 0..n_dims {
                dims.push(cursor.u64(&field(&format!("dims[{d}]")))?);
            }
            let type_id = cursor.u32(&field("type"))?;
            let relative_offset = cursor.u64(&field("offset"))?;

            let dtype =
                dtype_from_ggml(type_id).ok_or_else(|| LlmError::UnsupportedTensorType {
                    path: label.clone(),
                    tensor: name.clone(),
                    type_id,
                    type_name: ggml_type_name(type_id).to_string(),
                })?;
            let numel = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .filter(|&n| n <= bytes.len() as u64 * 8)
                .ok_or_else(|| {
                    cursor.error_at(
                        info_offset,
                        &field("dims"),
                        format!("dims {dims:?} describe more elements than the file can hold"),
                    )
                })?;
            let row = dims.first().copied().unwrap_or(1);
            if !row.is_multiple_of(dtype.block_size() as u64) {
                return Err(cursor.error_at(
                    info_offset,
                    &field("dims"),
                    format!(
                        "the first dimension {row} is not a multiple of the {dtype} block size {}",
                        dtype.block_size()
                    ),
                ));
            }
            let byte_len = dtype.storage_bytes(numel as usize).ok_or_else(|| {
                cursor.error_at(info_offset, &field("dims"), "the byte size overflows")
            })?;
            if !relative_offset.is_multiple_of(alignment) {
                return Err(cursor.error_at(
                    info_offset,
                    &field("offset"),
                    format!(
                        "offset {relative_offset} is not a multiple of the alignment {alignment}"
                    ),
                ));
            }
            let shape = dims.iter().rev().map(|&d| d as usize).collect();
            raw_infos.push(RawInfo {
                name,
                shape,
                dtype,
                relative_offset,
                byte_len,
                info_offset,
            });
        }

        let header_end = cursor.position() as u64;
        let data_offset = header_end.div_ceil(alignment) * alignment;
        if data_offset > bytes.len() as u64 && !raw_infos.is_empty() {
            return Err(cursor.error(
                "tensor data",
                format!(
                    "the tensor data would start at byte {data_offset}, past the end of the {}-byte file",
                    bytes.len()
                ),
            ));
        }
        let data_offset = data_offset.min(bytes.len() as u64) as usize;
        let data_len = (bytes.len() - data_offset) as u64;

        let mut tensors = Vec::with_capacity(raw_infos.len());
        let mut tensor_index = HashMap::with_capacity(raw_infos.len());
        for raw in raw_infos {
            let end = raw.relative_offset.checked_add(raw.byte_len as u64);
            if end.is_none_or(|end| end > data_len) {
                return Err(cursor.error_at(
                    raw.info_offset,
                    &format!("tensor `{}` offset", raw.name),
                    format!(
                        "its {} bytes at data offset {} run past the end of the file ({} data bytes)",
                        raw.byte_len, raw.relative_offset, data_len
                    ),
                ));
            }
            if tensor_index
                .insert(raw.name.clone(), tensors.len())
                .is_some()
            {
                return Err(cursor.error_at(
                    raw.info_offset,
                    &format!("tensor `{}`", raw.name),
                    "the tensor name appears twice",
                ));
            }
            tensors.push(GgufTensorInfo {
                name: raw.name,
                shape: raw.shape,
                dtype: raw.dtype,
                file_offset: data_offset + raw.relative_offset as usize,
                byte_len: raw.byte_len,
            });
        }
        check_no_overlap(&tensors, &cursor)?;

        Ok(GgufFile {
            path,
            map,
            version,
            metadata,
            metadata_index,
            tensors,
            tensor_index,
            alignment,
            data_offset,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn label(&self) -> String {
        self.path.display().to_string()
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Offset of the tensor data section from the start of the file.
    pub fn data_offset(&self) -> usize {
        self.data_offset
    }

    pub fn file_len(&self) -> usize {
        self.map.len()
    }

    pub fn map(&self) -> &Arc<Mmap> {
        &self.map
    }

    /// Metadata in file order.
    pub fn metadata(&self) -> &[(String, MetadataValue)] {
        &self.metadata
    }

    pub fn tensors(&self) -> &[GgufTensorInfo] {
        &self.tensors
    }

    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The raw (still quantized) bytes of a tensor.
    pub fn tensor_bytes(&self, info: &GgufTensorInfo) -> &[u8] {
        &self.map[info.file_offset..info.file_offset + info.byte_len]
    }

    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.metadata_index.get(key).map(|&i| &self.metadata[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.metadata_index.contains_key(key)
    }

    fn require(&self, key: &str) -> Result<&MetadataValue> {
        self.get(key).ok_or_else(|| LlmError::MissingKey {
            path: self.label(),
            key: key.to_string(),
        })
    }

    fn type_error(&self, key: &str, expected: &str, found: &MetadataValue) -> LlmError {
        LlmError::KeyType {
            path: self.label(),
            key: key.to_string(),
            expected: expected.to_string(),
            found: format!("{} {found}", found.type_description()),
        }
    }

    fn integer<T: TryFrom<i128>>(
        &self,
        key: &str,
        value: &MetadataValue,
        expected: &str,
    ) -> Result<T> {
        value
            .as_i128()
            .and_then(|v| T::try_from(v).ok())
            .ok_or_else(|| self.type_error(key, expected, value))
    }

    /// An integer of any stored width that fits in u32.
    pub fn get_u32(&self, key: &str) -> Result<u32> {
        self.integer(key, self.require(key)?, "an integer that fits u32")
    }

    pub fn get_u64(&self, key: &str) -> Result<u64> {
        self.integer(key, self.require(key)?, "an integer that fits u64")
    }

    pub fn get_i64(&self, key: &str) -> Result<i64> {
        self.integer(key, self.require(key)?, "an integer that fits i64")
    }

    /// A float (f32 or f64; integers are accepted too).
    pub fn get_f32(&self, key: &str) -> Result<f32> {
        let value = self.require(key)?;
        value
            .as_f64()
            .map(|v| v as f32)
            .ok_or_else(|| self.type_error(key, "a number", value))
    }

    pub fn get_bool(&self, key: &str) -> Result<bool> {
        match self.require(key)? {
            MetadataValue::Bool(b) => Ok(*b),
            other => Err(self.type_error(key, "bool", other)),
        }
    }

    pub fn get_str(&self, key: &str) -> Result<&str> {
        let value = self.require(key)?;
        value
            .as_str()
            .ok_or_else(|| self.type_error(key, "string", value))
    }

    pub fn get_array(&self, key: &str) -> Result<&MetadataArray> {
        let value = self.require(key)?;
        value
            .as_array()
            .ok_or_else(|| self.type_error(key, "array", value))
    }

    /// The elements of an array, each converted by `convert`; `expected` describes them in errors.
    fn typed_array<'a, T>(
        &'a self,
        key: &str,
        expected: &str,
        convert: impl Fn(&'a MetadataValue) -> Option<T>,
    ) -> Result<Vec<T>> {
        let value = self.require(key)?;
        value
            .as_array()
            .and_then(|array| {
                array
                    .values
                    .iter()
                    .map(&convert)
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| self.type_error(key, expected, value))
    }

    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>> {
        self.typed_array(key, "array of string", |v| v.as_str())
    }

    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>> {
        self.typed_array(key, "array of numbers", |v| v.as_f64().map(|f| f as f32))
    }

    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>> {
        self.typed_array(key, "array of integers that fit i32", |v| {
            v.as_i128().and_then(|i| i32::try_from(i).ok())
        })
    }

    /// `Ok(None)` when the key is absent; an error when it is present with the wrong type.
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>> {
        self.optional(key, Self::get_u32)
    }

    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        self.optional(key, Self::get_f32)
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        self.optional(key, Self::get_bool)
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&str>> {
        if self.contains_key(key) {
            self.get_str(key).map(Some)
        } else {
            Ok(None)
        }
    }

    fn optional<T>(&self, key: &str, get: impl Fn(&Self, &str) -> Result<T>) -> Result<Option<T>> {
        if self.contains_key(key) {
            get(self, key).map(Some)
        } else {
            Ok(None)
        }
    }
}

fn read_value(
    cursor: &mut ByteCursor<'_>,
    type_code: u32,
    key: &str,
    depth: usize,
) -> Result<MetadataValue> {
    let field = format!("metadata `{key}`");
    let value_type = GgufValueType::from_code(type_code)
        .ok_or_else(|| cursor.error(&field, format!("unknown value type {type_code}")))?;
    Ok(match value_type {
        GgufValueType::U8 => MetadataValue::U8(cursor.u8(&field)?),
        GgufValueType::I8 => MetadataValue::I8(cursor.i8(&field)?),
        GgufValueType::U16 => MetadataValue::U16(cursor.u16(&field)?),
        GgufValueType::I16 => MetadataValue::I16(cursor.i16(&field)?),
        GgufValueType::U32 => MetadataValue::U32(cursor.u32(&field)?),
        GgufValueType::I32 => MetadataValue::I32(cursor.i32(&field)?),
        GgufValueType::F32 => MetadataValue::F32(cursor.f32(&field)?),
        GgufValueType::Bool => {
            let byte = cursor.u8(&field)?;
            if byte > 1 {
                return Err(cursor.error(&field, format!("bool byte {byte} is neither 0 nor 1")));
            }
            MetadataValue::Bool(byte == 1)
        }
        GgufValueType::String => MetadataValue::String(cursor.string(&field)?),
        GgufValueType::U64 => MetadataValue::U64(cursor.u64(&field)?),
        GgufValueType::I64 => MetadataValue::I64(cursor.i64(&field)?),
        GgufValueType::F64 => MetadataValue::F64(cursor.f64(&field)?),
        GgufValueType::Array => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(cursor.error(
                    &field,
                    format!("arrays nested deeper than {MAX_ARRAY_DEPTH}"),
                ));
            }
            let element_code = cursor.u32(&field)?;
            let element_type = GgufValueType::from_code(element_code).ok_or_else(|| {
                cursor.error(&field, format!("unknown array element type {element_code}"))
            })?;
            let count = cursor.count(&field, element_type.min_encoded_bytes())?;
            let mut values = Vec::with_capacity(count);
            for _ in 0..count {
                values.push(read_value(cursor, element_code, key, depth + 1)?);
            }
            MetadataValue::Array(MetadataArray {
                element_type,
                values,
            })
        }
    })
}

fn check_no_overlap(tensors: &[GgufTensorInfo], cursor: &ByteCursor<'_>) -> Result<()> {
    let mut spans: Vec<(usize, usize, &str)> = tensors
        .iter()
        .filter(|t| t.byte_len > 0)
        .map(|t| (t.file_offset, t.file_offset + t.byte_len, t.name.as_str()))
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(cursor.error_at(
                pair[1].0,
                &format!("tensor `{}` offset", pair[1].2),
                format!("its data overlaps tensor `{}`", pair[0].2),
            ));
        }
    }
    Ok(())
}
