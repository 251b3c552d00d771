//! `ModelConfig` from GGUF metadata: RoPE scaling keys and the checks that reject unusable
//! hyper-parameters, on copies of the default model's metadata with keys changed.

mod common;

use common::{default_model_path, GgufWriter};
use tl_llm::{GgufFile, LlmError, MetadataValue, ModelConfig, RopeScaling};

fn config_with(changes: &[(&str, MetadataValue)]) -> Result<ModelConfig, LlmError> {
    let model = GgufFile::open(default_model_path()).unwrap();
    let bytes = GgufWriter::metadata_copy(&model, changes).bytes;
    let file = GgufFile::from_bytes("changed.gguf", &bytes).unwrap();
    ModelConfig::from_gguf(&file)
}

fn error_with(changes: &[(&str, MetadataValue)]) -> String {
    config_with(changes).unwrap_err().to_string()
}

#[test]
fn rope_scaling_keys_are_read() {
    use MetadataValue::{String as S, F32, U32};
    let linear = config_with(&[
        ("llama.rope.scaling.type", S("linear".into())),
        ("llama.rope.scaling.factor", F32(4.0)),
    ])
    .unwrap();
    assert_eq!(linear.rope_scaling, RopeScaling::Linear { factor: 4.0 });

    let yarn = config_with(&[
        ("llama.rope.scaling.type", S("yarn".into())),
        ("llama.rope.scaling.factor", F32(2.0)),
        ("llama.rope.scaling.original_context_length", U32(4096)),
    ])
    .unwrap();
    assert_eq!(
        yarn.rope_scaling,
        RopeScaling::Yarn {
            factor: 2.0,
            original_context_length: 4096
        }
    );

    let none = config_with(&[("llama.rope.scaling.type", S("none".into()))]).unwrap();
    assert_eq!(none.rope_scaling, RopeScaling::None);

    let error = error_with(&[
        ("llama.rope.scaling.type", S("yarn".into())),
        ("llama.rope.scaling.factor", F32(2.0)),
    ]);
    assert!(
        error.contains("llama.rope.scaling.original_context_length"),
        "{error}"
    );
    let error = error_with(&[("llama.rope.scaling.type", S("longrope".into()))]);
    assert!(
        error.contains("llama.rope.scaling.type") && error.contains("longrope"),
        "{error}"
    );
}

#[test]
fn unusable_hyper_parameters_are_rejected_with_the_field() {
    use MetadataValue::{String as S, F32, U32};
    let error = error_with(&[("llama.attention.head_count_kv", U32(4))]);
    assert!(
        error.contains("n_kv_heads") && error.contains("9 query heads"),
        "{error}"
    );
    let error = error_with(&[("llama.block_count", U32(0))]);
    assert!(error.contains("n_layers"), "{error}");
    let error = error_with(&[("llama.attention.head_count", U32(0))]);
    assert!(error.contains("n_heads"), "{error}");
    let error = error_with(&[("llama.attention.layer_norm_rms_epsilon", F32(-1.0))]);
    assert!(error.contains("rms_eps"), "{error}");
    let error = error_with(&[("llama.rope.freq_base", F32(f32::NAN))]);
    assert!(error.contains("rope_base"), "{error}");
    let error = error_with(&[("llama.block_count", S("thirty".into()))]);
    assert!(
        error.contains("llama.block_count") && error.contains("string"),
        "{error}"
    );
    let error = error_with(&[("general.architecture", S("gpt2".into()))]);
    assert!(
        error.contains("general.architecture") && error.contains("gpt2"),
        "{error}"
    );
}

#[test]
fn a_missing_required_key_is_named() {
    let model = GgufFile::open(default_model_path()).unwrap();
    let mut w = GgufWriter::default();
    let kept: Vec<_> = model
        .metadata()
        .iter()
        .filter(|(k, _)| k != "llama.embedding_length")
        .collect();
    w.header(3, 0, kept.len() as u64);
    for (key, value) in kept {
        w.string(key).value(value);
    }
    let file = GgufFile::from_bytes("no-width.gguf", &w.bytes).unwrap();
    let error = ModelConfig::from_gguf(&file).unwrap_err();
    assert!(matches!(error, LlmError::MissingKey { .. }));
    let error = error.to_string();
    assert!(
        error.contains("llama.embedding_length") && error.contains("no-width.gguf"),
        "{error}"
    );
}
