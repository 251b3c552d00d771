//! The GGUF reader on the real default model: the facts REFERENCE.md lists, and the whole
//! tensor table and metadata as gguf-py reads them (scripts/reference/gguf_py.py).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{default_model_path, read_json};
use tl_llm::{
    GgufFile, LayerWeight, MetadataValue, ModelConfig, ModelSource, RopeScaling, WeightName,
    WeightSource,
};
use tl_tensor::{DType, Device, RopeStyle};

fn open() -> GgufFile {
    GgufFile::open(default_model_path()).expect("the default model parses")
}

#[test]
fn metadata_matches_reference_facts() {
    let file = open();
    assert_eq!(file.version(), 3);
    assert_eq!(file.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(file.get_u32("llama.block_count").unwrap(), 30);
    assert_eq!(file.get_u32("llama.embedding_length").unwrap(), 576);
    assert_eq!(file.get_u32("llama.feed_forward_length").unwrap(), 1536);
    assert_eq!(file.get_u32("llama.attention.head_count").unwrap(), 9);
    assert_eq!(file.get_u32("llama.attention.head_count_kv").unwrap(), 3);
    assert_eq!(file.get_u32("llama.context_length").unwrap(), 8192);
    assert_eq!(file.get_f32("llama.rope.freq_base").unwrap(), 100000.0);
    assert_eq!(
        file.get_f32("llama.attention.layer_norm_rms_epsilon")
            .unwrap(),
        1e-5
    );
    assert_eq!(file.get_u32("llama.vocab_size").unwrap(), 49152);
    assert_eq!(file.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
    assert_eq!(file.get_str("tokenizer.ggml.pre").unwrap(), "smollm");
    assert_eq!(
        file.get_str_array("tokenizer.ggml.merges").unwrap().len(),
        48900
    );
    assert_eq!(
        file.get_str_array("tokenizer.ggml.tokens").unwrap().len(),
        49152
    );
    assert_eq!(file.get_u32("tokenizer.ggml.bos_token_id").unwrap(), 1);
    assert_eq!(file.get_u32("tokenizer.ggml.eos_token_id").unwrap(), 2);
    assert_eq!(file.get_u32("tokenizer.ggml.unknown_token_id").unwrap(), 0);
    assert_eq!(file.get_u32("tokenizer.ggml.padding_token_id").unwrap(), 2);
    assert!(!file.get_bool("tokenizer.ggml.add_bos_token").unwrap());
    let template = file.get_str("tokenizer.chat_template").unwrap();
    assert!(template.contains("<|im_start|>") && template.contains("<|im_end|>"));
    assert!(file.tensor_info("output.weight").is_none(), "tied output");
}

#[test]
fn tensor_types_and_layout_match_reference_facts() {
    let file = open();
    let mut counts: BTreeMap<DType, usize> = BTreeMap::new();
    for t in file.tensors() {
        *counts.entry(t.dtype).or_default() += 1;
    }
    assert_eq!(
        counts,
        BTreeMap::from([(DType::F32, 61), (DType::Q4_1, 210), (DType::Q8_0, 1)])
    );
    let embedding = file.tensor_info("token_embd.weight").unwrap();
    assert_eq!(embedding.shape, vec![49152, 576]);
    assert_eq!(embedding.dtype, DType::Q8_0);
    assert_eq!(embedding.byte_len, 49152 * 576 / 32 * 34);
}

#[test]
fn tensor_table_and_metadata_match_gguf_py() {
    let file = open();
    let reference = read_json("gguf_py/default_model.json");
    assert_eq!(
        u64::from(file.version()),
        reference["version"].as_u64().unwrap()
    );
    assert_eq!(file.alignment(), reference["alignment"].as_u64().unwrap());
    assert_eq!(
        file.data_offset() as u64,
        reference["data_offset"].as_u64().unwrap()
    );

    let tensors = reference["tensors"].as_array().unwrap();
    assert_eq!(file.tensors().len(), tensors.len());
    for (ours, theirs) in file.tensors().iter().zip(tensors) {
        assert_eq!(ours.name, theirs["name"].as_str().unwrap());
        let mut dims: Vec<usize> = theirs["dims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        dims.reverse();
        assert_eq!(ours.shape, dims, "{}", ours.name);
        let ggml_type = theirs["ggml_type"].as_u64().unwrap() as u32;
        assert_eq!(
            tl_llm::ggml_type::dtype_from_ggml(ggml_type),
            Some(ours.dtype)
        );
        assert_eq!(
            ours.file_offset as u64,
            theirs["offset"].as_u64().unwrap(),
            "{}",
            ours.name
        );
        assert_eq!(
            ours.byte_len as u64,
            theirs["n_bytes"].as_u64().unwrap(),
            "{}",
            ours.name
        );
    }

    let metadata = reference["metadata"].as_object().unwrap();
    assert_eq!(file.metadata().len(), metadata.len());
    for (key, expected) in metadata {
        let value = file.get(key).unwrap_or_else(|| panic!("missing {key}"));
        match value {
            MetadataValue::Array(array) => {
                assert_eq!(expected["type"], "array", "{key}");
                assert_eq!(
                    array.values.len() as u64,
                    expected["len"].as_u64().unwrap(),
                    "{key}"
                );
                let json = |v: &MetadataValue| match v {
                    MetadataValue::String(s) => serde_json::json!(s),
                    other => serde_json::json!(other.as_f64().unwrap()),
                };
                let first: Vec<_> = array.values.iter().take(3).map(json).collect();
                let last: Vec<_> = array.values[array.values.len().saturating_sub(3)..]
                    .iter()
                    .map(json)
                    .collect();
                let as_f64 = |v: &serde_json::Value| {
                    v.as_f64().map(serde_json::Value::from).unwrap_or(v.clone())
                };
                let expected_first: Vec<_> = expected["first"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(as_f64)
                    .collect();
                let expected_last: Vec<_> = expected["last"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(as_f64)
                    .collect();
                assert_eq!(first, expected_first, "{key}");
                assert_eq!(last, expected_last, "{key}");
            }
            MetadataValue::String(s) => assert_eq!(s, expected["value"].as_str().unwrap(), "{key}"),
            MetadataValue::Bool(b) => assert_eq!(*b, expected["value"].as_bool().unwrap(), "{key}"),
            number => {
                let expected = expected["value"].as_f64().unwrap();
                assert_eq!(number.as_f64().unwrap(), expected, "{key}");
            }
        }
        assert_eq!(
            gguf_py_type_name(value),
            expected["type"].as_str().unwrap(),
            "{key}"
        );
    }
}

/// gguf-py spells value types `uint32`, `float32`…
fn gguf_py_type_name(value: &MetadataValue) -> String {
    let ours = value.value_type().name();
    match ours.as_bytes()[0] {
        b'u' => format!("uint{}", &ours[1..]),
        b'i' => format!("int{}", &ours[1..]),
        b'f' => format!("float{}", &ours[1..]),
        _ => ours.to_string(),
    }
}

#[test]
fn model_config_reads_the_llama_hyper_parameters() {
    let file = open();
    let config = ModelConfig::from_gguf(&file).unwrap();
    assert_eq!(config.architecture, "llama");
    assert_eq!(config.n_layers, 30);
    assert_eq!(config.hidden, 576);
    assert_eq!(config.ffn, 1536);
    assert_eq!(config.n_heads, 9);
    assert_eq!(config.n_kv_heads, 3);
    assert_eq!(config.head_dim, 64);
    assert_eq!(config.rope_dim, 64);
    assert_eq!(config.vocab, 49152);
    assert_eq!(config.context_length, 8192);
    assert_eq!(config.rope_base, 100000.0);
    assert_eq!(config.rms_eps, 1e-5);
    assert_eq!(config.rope_scaling, RopeScaling::None);
    assert_eq!(config.rope_style, RopeStyle::Interleaved);
    assert!(config.tied_embeddings);
}

#[test]
fn weights_come_out_as_zero_copy_cpu_tensors_in_their_stored_dtype() {
    let file = Arc::new(open());
    let source = WeightSource::Gguf(Arc::clone(&file));
    let device = Device::cpu_with_threads(1);
    let embedding = source.tensor(&WeightName::TokenEmbedding, &device).unwrap();
    assert_eq!(embedding.shape(), &[49152, 576]);
    assert_eq!(embedding.dtype(), DType::Q8_0);
    let info = file.tensor_info("token_embd.weight").unwrap();
    assert_eq!(embedding.to_bytes().unwrap(), file.tensor_bytes(info));

    let q = source
        .tensor(&WeightName::layer(29, LayerWeight::AttnQ), &device)
        .unwrap();
    assert_eq!(q.shape(), &[576, 576]);
    assert_eq!(q.dtype(), DType::Q4_1);
    let k = source
        .info(&WeightName::layer(0, LayerWeight::AttnK))
        .unwrap();
    assert_eq!(k.shape, vec![192, 576]);
    let down = source
        .info(&WeightName::layer(0, LayerWeight::FfnDown))
        .unwrap();
    assert_eq!(down.shape, vec![576, 1536]);

    let norm = source.tensor(&WeightName::OutputNorm, &device).unwrap();
    assert_eq!(norm.dtype(), DType::F32);
    let values: Vec<f32> = norm.to_vec().unwrap();
    let raw = file.tensor_bytes(file.tensor_info("output_norm.weight").unwrap());
    let expected: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(values, expected);

    assert_eq!(source.weights().len(), 272);
    let error = source
        .tensor(&WeightName::Output, &device)
        .unwrap_err()
        .to_string();
    assert!(error.contains("output.weight"), "{error}");
    let error = source
        .tensor(&WeightName::layer(30, LayerWeight::AttnQ), &device)
        .unwrap_err()
        .to_string();
    assert!(error.contains("blk.30.attn_q"), "{error}");
}

#[test]
fn model_source_and_info_summarise_the_model() {
    let source = ModelSource::open(default_model_path()).unwrap();
    let info = source.info();
    assert_eq!(info.config.n_layers, 30);
    assert_eq!(info.dtypes[&DType::Q4_1].tensors, 210);
    assert_eq!(info.dtypes[&DType::F32].tensors, 61);
    assert_eq!(info.dtypes[&DType::Q8_0].tensors, 1);
    assert!(info.has_chat_template);
    assert_eq!(info.vocab_size, 49152);
    assert_eq!(info.bos.as_deref(), Some("<|im_start|>"));
    assert_eq!(info.eos.as_deref(), Some("<|im_end|>"));
    // Every weight is stored once; the sum equals the architecture's count with tied output.
    assert_eq!(info.parameters, info.config.parameter_count());
    let text = info.to_string();
    for needle in [
        "llama",
        "GGUF v3",
        "210 × q4_1",
        "61 × f32",
        "1 × q8_0",
        "9 heads, 3 kv heads",
        "tied",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}
