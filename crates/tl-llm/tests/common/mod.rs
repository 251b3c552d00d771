//! Shared test helpers: locating the default model, reading reference data, and writing
//! synthetic GGUF files byte by byte.
#![allow(dead_code)]

use std::path::PathBuf;

pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The default model; panics (failing the test) with instructions when it is absent.
pub fn default_model_path() -> PathBuf {
    let home = std::env::var_os("TL_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/tensorlogic")
        });
    let path = home.join("models").join(MODEL_FILE);
    assert!(
        path.is_file(),
        "the default model is missing at {}: run scripts/fetch-model.sh first",
        path.display()
    );
    path
}

/// How far the last position's logits from decoding `ids` one token at a time after a prefill
/// of the first `prefill` tokens are from those of one forward pass over all of `ids`:
/// `(largest difference, largest logit magnitude)`.
pub fn cached_decoding_error(
    model: &tl_llm::LlamaModel,
    ids: &[u32],
    prefill: usize,
) -> (f32, f32) {
    let context = ids.len().next_power_of_two().max(16);
    let logits = |t: tl_tensor::Tensor| t.to_vec::<f32>().expect("logits to the host");
    let mut full_cache = model.new_cache(context).expect("a cache");
    let full = logits(
        model
            .forward(ids, &mut full_cache, false)
            .expect("the full forward"),
    );
    let mut cache = model.new_cache(context).expect("a cache");
    let mut last = logits(
        model
            .forward(&ids[..prefill], &mut cache, false)
            .expect("the prefill"),
    );
    for &id in &ids[prefill..] {
        last = logits(
            model
                .forward(&[id], &mut cache, false)
                .expect("a decode step"),
        );
    }
    let range = full.iter().fold(0f32, |m, v| m.max(v.abs()));
    let error = full
        .iter()
        .zip(&last)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    (error, range)
}

pub fn data_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

pub fn read_json(relative: &str) -> serde_json::Value {
    let path = data_path(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn ids_of(value: &serde_json::Value) -> Vec<u32> {
    value
        .as_array()
        .expect("an array of ids")
        .iter()
        .map(|v| v.as_u64().expect("an id") as u32)
        .collect()
}

/// Writes GGUF bytes field by field, so tests can build valid files and break them on purpose.
#[derive(Default)]
pub struct GgufWriter {
    pub bytes: Vec<u8>,
}

impl GgufWriter {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn f32(&mut self, v: f32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.bytes.extend_from_slice(s.as_bytes());
        self
    }
    pub fn header(&mut self, version: u32, tensors: u64, kvs: u64) -> &mut Self {
        self.bytes.extend_from_slice(b"GGUF");
        self.u32(version).u64(tensors).u64(kvs)
    }
    pub fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.string(key).u32(4).u32(v)
    }
    pub fn kv_f32(&mut self, key: &str, v: f32) -> &mut Self {
        self.string(key).u32(6).f32(v)
    }
    pub fn kv_bool(&mut self, key: &str, v: bool) -> &mut Self {
        self.string(key).u32(7).u8(v as u8)
    }
    pub fn kv_str(&mut self, key: &str, v: &str) -> &mut Self {
        self.string(key).u32(8).string(v)
    }
    pub fn kv_str_array(&mut self, key: &str, values: &[&str]) -> &mut Self {
        self.string(key).u32(9).u32(8).u64(values.len() as u64);
        for v in values {
            self.string(v);
        }
        self
    }
    pub fn kv_i32_array(&mut self, key: &str, values: &[i32]) -> &mut Self {
        self.string(key).u32(9).u32(5).u64(values.len() as u64);
        for &v in values {
            self.i32(v);
        }
        self
    }
    pub fn kv_f32_array(&mut self, key: &str, values: &[f32]) -> &mut Self {
        self.string(key).u32(9).u32(6).u64(values.len() as u64);
        for &v in values {
            self.f32(v);
        }
        self
    }
    /// A tensor info: `dims` fastest-first as GGUF lists them.
    pub fn tensor_info(
        &mut self,
        name: &str,
        dims: &[u64],
        ggml_type: u32,
        offset: u64,
    ) -> &mut Self {
        self.string(name).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(ggml_type).u64(offset)
    }
    pub fn pad_to(&mut self, alignment: usize) -> &mut Self {
        while !self.bytes.len().is_multiple_of(alignment) {
            self.bytes.push(0);
        }
        self
    }
    pub fn raw(&mut self, data: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(data);
        self
    }
}

impl GgufWriter {
    /// Writes any metadata value with its type code.
    pub fn value(&mut self, value: &tl_llm::MetadataValue) -> &mut Self {
        self.u32(value.value_type() as u32);
        self.value_body(value)
    }

    fn value_body(&mut self, value: &tl_llm::MetadataValue) -> &mut Self {
        use tl_llm::MetadataValue::*;
        match value {
            U8(v) => self.u8(*v),
            I8(v) => self.raw(&v.to_le_bytes()),
            U16(v) => self.raw(&v.to_le_bytes()),
            I16(v) => self.raw(&v.to_le_bytes()),
            U32(v) => self.u32(*v),
            I32(v) => self.i32(*v),
            F32(v) => self.f32(*v),
            Bool(v) => self.u8(*v as u8),
            String(s) => self.string(s),
            U64(v) => self.u64(*v),
            I64(v) => self.raw(&v.to_le_bytes()),
            F64(v) => self.raw(&v.to_le_bytes()),
            Array(array) => {
                self.u32(array.element_type as u32)
                    .u64(array.values.len() as u64);
                for v in &array.values {
                    self.value_body(v);
                }
                self
            }
        }
    }

    /// A tensor-less GGUF holding `file`'s metadata, with `replace` overriding keys it has
    /// and adding keys it lacks.
    pub fn metadata_copy(
        file: &tl_llm::GgufFile,
        replace: &[(&str, tl_llm::MetadataValue)],
    ) -> GgufWriter {
        let added: Vec<&(&str, tl_llm::MetadataValue)> = replace
            .iter()
            .filter(|(k, _)| !file.contains_key(k))
            .collect();
        let mut w = GgufWriter::default();
        w.header(3, 0, (file.metadata().len() + added.len()) as u64);
        for (key, value) in file.metadata() {
            let value = replace
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .unwrap_or(value);
            w.string(key).value(value);
        }
        for (key, value) in added {
            w.string(key).value(value);
        }
        w
    }
}
