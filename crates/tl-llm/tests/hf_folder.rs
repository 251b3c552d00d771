//! Hugging Face folders: a tiny llama model written here (config.json, safetensors shards,
//! tokenizer.json, tokenizer_config.json) is read back through `ModelSource`.

mod common;

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::Dtype;
use tl_llm::{LayerWeight, LlmError, ModelFormat, ModelSource, RopeScaling, WeightName};
use tl_tensor::{bf16, f16, DType, Device, RopeStyle};
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::AddedToken;

const HIDDEN: usize = 8;
const FFN: usize = 16;
const VOCAB: usize = 300;

fn config_json(extra: &str) -> String {
    format!(
        r#"{{
  "architectures": ["LlamaForCausalLM"],
  "model_type": "llama",
  "hidden_size": {HIDDEN},
  "intermediate_size": {FFN},
  "num_hidden_layers": 2,
  "num_attention_heads": 4,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-05,
  "rope_theta": 500000.0,
  "max_position_embeddings": 128,
  "vocab_size": {VOCAB},
  "bos_token_id": 256,
  "eos_token_id": [257, 258]{extra}
}}"#
    )
}

/// Deterministic, distinct f32 values for a tensor.
fn values(seed: usize, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (seed * 1000 + i) as f32 * 0.25 - 7.0)
        .collect()
}

struct Weight {
    name: String,
    shape: Vec<usize>,
    dtype: Dtype,
    bytes: Vec<u8>,
}

fn weights() -> Vec<Weight> {
    let mut out = Vec::new();
    let mut add = |name: String, shape: Vec<usize>, dtype: Dtype| {
        let n: usize = shape.iter().product();
        let v = values(out.len(), n);
        let bytes: Vec<u8> = match dtype {
            Dtype::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Dtype::F16 => v
                .iter()
                .flat_map(|x| f16::from_f32(*x).to_le_bytes())
                .collect(),
            Dtype::BF16 => v
                .iter()
                .flat_map(|x| bf16::from_f32(*x).to_le_bytes())
                .collect(),
            _ => unreachable!(),
        };
        out.push(Weight {
            name,
            shape,
            dtype,
            bytes,
        });
    };
    add(
        "model.embed_tokens.weight".into(),
        vec![VOCAB, HIDDEN],
        Dtype::BF16,
    );
    add("model.norm.weight".into(), vec![HIDDEN], Dtype::F32);
    for layer in 0..2 {
        let p = format!("model.layers.{layer}");
        add(
            format!("{p}.input_layernorm.weight"),
            vec![HIDDEN],
            Dtype::F32,
        );
        add(
            format!("{p}.post_attention_layernorm.weight"),
            vec![HIDDEN],
            Dtype::F32,
        );
        add(
            format!("{p}.self_attn.q_proj.weight"),
            vec![HIDDEN, HIDDEN],
            Dtype::F16,
        );
        add(
            format!("{p}.self_attn.k_proj.weight"),
            vec![4, HIDDEN],
            Dtype::F16,
        );
        add(
            format!("{p}.self_attn.v_proj.weight"),
            vec![4, HIDDEN],
            Dtype::F16,
        );
        add(
            format!("{p}.self_attn.o_proj.weight"),
            vec![HIDDEN, HIDDEN],
            Dtype::F16,
        );
        add(
            format!("{p}.mlp.gate_proj.weight"),
            vec![FFN, HIDDEN],
            Dtype::BF16,
        );
        add(
            format!("{p}.mlp.up_proj.weight"),
            vec![FFN, HIDDEN],
            Dtype::BF16,
        );
        add(
            format!("{p}.mlp.down_proj.weight"),
            vec![HIDDEN, FFN],
            Dtype::BF16,
        );
    }
    out
}

fn write_safetensors(path: &Path, weights: &[&Weight]) {
    let views: Vec<(String, TensorView<'_>)> = weights
        .iter()
        .map(|w| {
            (
                w.name.clone(),
                TensorView::new(w.dtype, w.shape.clone(), &w.bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

fn write_tokenizer(dir: &Path) {
    let vocab: HashMap<String, u32> = tl_llm::byte_level::byte_to_char()
        .iter()
        .enumerate()
        .map(|(i, c)| (c.to_string(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(
            vocab
                .into_iter()
                .collect::<tokenizers::models::bpe::Vocab>(),
            vec![],
        )
        .build()
        .unwrap();
    let mut tokenizer = tokenizers::Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, false, true)));
    tokenizer.with_decoder(Some(tokenizers::decoders::byte_level::ByteLevel::default()));
    tokenizer.add_special_tokens(&[
        AddedToken::from("<|begin|>", true),
        AddedToken::from("<|end|>", true),
        AddedToken::from("<|eot|>", true),
    ]);
    tokenizer.save(dir.join("tokenizer.json"), false).unwrap();
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"add_bos_token": true, "bos_token": {"content": "<|begin|>", "lstrip": false},
            "eos_token": "<|end|>",
            "chat_template": [{"name": "tool_use", "template": "tools"},
                              {"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"}]}"#,
    )
    .unwrap();
}

/// A folder with two safetensors shards and an index.
fn write_model(dir: &Path, config_extra: &str) -> Vec<Weight> {
    let weights = weights();
    let (first, second): (Vec<&Weight>, Vec<&Weight>) = weights
        .iter()
        .partition(|w| !w.name.starts_with("model.layers.1"));
    write_safetensors(&dir.join("model-00001-of-00002.safetensors"), &first);
    write_safetensors(&dir.join("model-00002-of-00002.safetensors"), &second);
    let map: serde_json::Map<String, serde_json::Value> = weights
        .iter()
        .map(|w| {
            let file = if w.name.starts_with("model.layers.1") {
                "model-00002-of-00002.safetensors"
            } else {
                "model-00001-of-00002.safetensors"
            };
            (w.name.clone(), serde_json::Value::from(file))
        })
        .collect();
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        serde_json::json!({"metadata": {"total_size": 0}, "weight_map": map}).to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("config.json"), config_json(config_extra)).unwrap();
    write_tokenizer(dir);
    weights
}

#[test]
fn a_sharded_folder_reads_back_config_weights_tokenizer_and_template() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_model(dir.path(), r#", "tie_word_embeddings": true"#);
    let source = ModelSource::open(dir.path()).unwrap();
    assert_eq!(
        source.format(),
        &ModelFormat::HuggingFace {
            safetensors_files: 2
        }
    );

    let config = source.config();
    assert_eq!(
        (
            config.n_layers,
            config.n_heads,
            config.n_kv_heads,
            config.head_dim
        ),
        (2, 4, 2, 2)
    );
    assert_eq!(
        (config.hidden, config.ffn, config.vocab),
        (HIDDEN, FFN, VOCAB)
    );
    assert_eq!(config.rope_base, 500000.0);
    assert_eq!(config.rms_eps, 1e-5);
    assert_eq!(config.context_length, 128);
    assert_eq!(config.rope_style, RopeStyle::HalfSplit);
    assert_eq!(config.rope_scaling, RopeScaling::None);
    assert!(config.tied_embeddings);

    let device = Device::cpu_with_threads(1);
    for weight in &written {
        let name = WeightName::parse(&weight.name).unwrap();
        let tensor = source.weights().tensor(&name, &device).unwrap();
        assert_eq!(tensor.shape(), weight.shape.as_slice(), "{}", weight.name);
        assert_eq!(tensor.to_bytes().unwrap(), weight.bytes, "{}", weight.name);
    }
    let q = source
        .weights()
        .tensor(&WeightName::layer(1, LayerWeight::AttnQ), &device)
        .unwrap();
    assert_eq!(q.dtype(), DType::F16);
    assert_eq!(source.weights().weights().len(), written.len());

    let tokenizer = source.tokenizer();
    assert_eq!(tokenizer.bos(), tokenizer.token_id("<|begin|>"));
    assert_eq!(tokenizer.eos(), tokenizer.token_id("<|end|>"));
    assert!(tokenizer.add_bos());
    // config.json's eos list joins the end-of-generation set.
    assert!(tokenizer.is_end_of_generation(257) && tokenizer.is_end_of_generation(258));
    let text = "Grüße, <|eot|> world";
    let ids = tokenizer.encode(text, true, true).unwrap();
    assert_eq!(ids[0], tokenizer.bos().unwrap());
    let plain = tokenizer.inner().encode(text, false).unwrap();
    assert_eq!(&ids[1..], plain.get_ids());
    assert_eq!(tokenizer.decode(&ids[1..], false).unwrap(), text);

    let template = source.chat_template(None).unwrap();
    let rendered = template
        .render(
            &[tl_llm::ChatMessage::new("user", "hi")],
            true,
            "<|begin|>",
            "<|end|>",
        )
        .unwrap();
    assert_eq!(rendered, "<|begin|>user: hi\n");

    let info = source.info();
    assert_eq!(info.dtypes[&DType::BF16].tensors, 7);
    assert_eq!(info.dtypes[&DType::F16].tensors, 8);
    assert_eq!(info.dtypes[&DType::F32].tensors, 5);
    assert!(info
        .to_string()
        .contains("Hugging Face folder, 2 safetensors file(s)"));
}

#[test]
fn rope_scaling_and_head_dim_come_from_config() {
    let dir = tempfile::tempdir().unwrap();
    write_model(
        dir.path(),
        r#", "head_dim": 4, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}"#,
    );
    let config = ModelSource::open(dir.path()).unwrap().config().clone();
    assert_eq!(config.head_dim, 4);
    assert_eq!(
        config.rope_scaling,
        RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_context_length: 64
        }
    );
    // No lm_head in the files: the embedding is reused whatever the config says.
    assert!(config.tied_embeddings);
}

#[test]
fn unaligned_tensor_data_is_copied_into_aligned_memory() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f32> = values(3, 6);
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    // A header of odd length puts the data at an odd offset.
    let mut header =
        r#"{"model.norm.weight":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}"#.to_string();
    while (8 + header.len()) % 4 != 1 {
        header.push(' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    let path = dir.path().join("model.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let set = tl_llm::SafetensorsSet::open_folder(dir.path()).unwrap();
    let source = tl_llm::WeightSource::Safetensors {
        label: "test".into(),
        set: std::sync::Arc::new(set),
    };
    let tensor = source
        .tensor(&WeightName::OutputNorm, &Device::cpu_with_threads(1))
        .unwrap();
    assert_eq!(tensor.to_vec::<f32>().unwrap(), values);
}

#[test]
fn bad_folders_give_errors_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), "");

    std::fs::write(
        dir.path().join("config.json"),
        r#"{"model_type": "llama", "hidden_size": 8}"#,
    )
    .unwrap();
    let error = ModelSource::open(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("config.json") && error.contains("num_attention_heads"),
        "{error}"
    );

    std::fs::write(
        dir.path().join("config.json"),
        config_json("").replace("\"llama\"", "\"gpt2\""),
    )
    .unwrap();
    let error = ModelSource::open(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("model_type") && error.contains("gpt2"),
        "{error}"
    );

    std::fs::write(
        dir.path().join("config.json"),
        config_json("").replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"),
    )
    .unwrap();
    let error = ModelSource::open(dir.path()).unwrap_err().to_string();
    assert!(error.contains("n_kv_heads"), "{error}");

    std::fs::write(dir.path().join("config.json"), config_json("")).unwrap();
    let shard = dir.path().join("model-00002-of-00002.safetensors");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&shard, &bytes).unwrap();
    let error = ModelSource::open(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("model-00002-of-00002.safetensors")
            && error.contains("malformed safetensors"),
        "{error}"
    );

    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        r#"{"weight_map": {"model.norm.weight": "../elsewhere.safetensors"}}"#,
    )
    .unwrap();
    let error = ModelSource::open(dir.path()).unwrap_err().to_string();
    assert!(error.contains("not a plain file name"), "{error}");
}

#[test]
fn unsupported_safetensors_dtypes_name_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let data = [0u8; 16];
    let view = TensorView::new(Dtype::F64, vec![2], &data).unwrap();
    safetensors::serialize_to_file(
        vec![("model.norm.weight", view)],
        None,
        &dir.path().join("model.safetensors"),
    )
    .unwrap();
    let error = tl_llm::SafetensorsSet::open_folder(dir.path()).unwrap_err();
    assert!(matches!(error, LlmError::Safetensors { .. }));
    let error = error.to_string();
    assert!(
        error.contains("model.norm.weight") && error.contains("F64"),
        "{error}"
    );
}

#[test]
fn weight_names_map_between_formats() {
    for (hf, gguf) in [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
        (
            "model.layers.7.self_attn.q_proj.weight",
            "blk.7.attn_q.weight",
        ),
        (
            "model.layers.7.self_attn.o_proj.weight",
            "blk.7.attn_output.weight",
        ),
        (
            "model.layers.12.mlp.down_proj.weight",
            "blk.12.ffn_down.weight",
        ),
        (
            "model.layers.0.input_layernorm.weight",
            "blk.0.attn_norm.weight",
        ),
        (
            "model.layers.0.post_attention_layernorm.weight",
            "blk.0.ffn_norm.weight",
        ),
    ] {
        let from_hf = WeightName::parse(hf).unwrap();
        let from_gguf = WeightName::parse(gguf).unwrap();
        assert_eq!(from_hf, from_gguf);
        assert_eq!(from_hf.hf_name().unwrap(), hf);
        assert_eq!(from_hf.gguf_name(), gguf);
    }
    assert_eq!(WeightName::parse("model.layers.x.mlp.up_proj.weight"), None);
    assert_eq!(WeightName::parse("blk.0.unknown.weight"), None);
}
