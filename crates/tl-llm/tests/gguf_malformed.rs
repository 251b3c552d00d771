//! Malformed GGUF input: truncations of the real file, corrupted fields in synthetic files,
//! and random bytes must give errors that name the field, never panics or huge allocations.

mod common;

use common::{default_model_path, GgufWriter};
use proptest::prelude::*;
use tl_llm::{GgufFile, LlmError, MetadataValue};

fn parse(bytes: &[u8]) -> Result<GgufFile, LlmError> {
    GgufFile::from_bytes("test.gguf", bytes)
}

fn error_of(bytes: &[u8]) -> String {
    match parse(bytes) {
        Ok(_) => panic!("malformed input was accepted"),
        Err(e) => e.to_string(),
    }
}

/// A valid file: metadata of every type, an f32 tensor and a q8_0 tensor.
fn valid_file() -> GgufWriter {
    let mut w = GgufWriter::default();
    w.header(3, 2, 9)
        .kv_str("general.architecture", "llama")
        .kv_u32("llama.block_count", 2)
        .kv_f32("llama.rope.freq_base", 10000.0)
        .kv_bool("flag", true)
        .kv_str_array("tokenizer.ggml.tokens", &["a", "b", "ccc"])
        .kv_i32_array("ints", &[-1, 2, 3])
        .kv_f32_array("floats", &[0.5, -1.5]);
    // A nested array: array of 2 arrays of u8.
    w.string("nested").u32(9).u32(9).u64(2);
    w.u32(0).u64(2).u8(1).u8(2);
    w.u32(0).u64(1).u8(3);
    // A u64 and an i8 value.
    w.string("big").u32(10).u64(u64::MAX);
    w.tensor_info("f32_tensor", &[4, 2], 0, 0)
        .tensor_info("q8_tensor", &[32, 1], 8, 32);
    w.pad_to(32);
    let values: Vec<u8> = (0..8).flat_map(|i| (i as f32).to_le_bytes()).collect();
    w.raw(&values).pad_to(32);
    let mut block = vec![0u8; 34];
    block[0..2].copy_from_slice(&half::f16::from_f32(0.5).to_bits().to_le_bytes());
    for (i, q) in block[2..].iter_mut().enumerate() {
        *q = i as u8;
    }
    w.raw(&block);
    w
}

#[test]
fn a_synthetic_file_parses_with_all_value_types() {
    let w = valid_file();
    let file = parse(&w.bytes).expect("valid");
    assert_eq!(file.version(), 3);
    assert_eq!(file.get_u32("llama.block_count").unwrap(), 2);
    assert_eq!(file.get_f32("llama.rope.freq_base").unwrap(), 10000.0);
    assert!(file.get_bool("flag").unwrap());
    assert_eq!(
        file.get_str_array("tokenizer.ggml.tokens").unwrap(),
        vec!["a", "b", "ccc"]
    );
    assert_eq!(file.get_i32_array("ints").unwrap(), vec![-1, 2, 3]);
    assert_eq!(file.get_f32_array("floats").unwrap(), vec![0.5, -1.5]);
    assert_eq!(file.get_u64("big").unwrap(), u64::MAX);
    let nested = file.get_array("nested").unwrap();
    assert_eq!(nested.values.len(), 2);
    let inner = nested.values[0].as_array().unwrap();
    assert_eq!(
        inner.values,
        vec![MetadataValue::U8(1), MetadataValue::U8(2)]
    );
    let f32_tensor = file.tensor_info("f32_tensor").unwrap();
    assert_eq!(f32_tensor.shape, vec![2, 4]);
    assert_eq!(f32_tensor.byte_len, 32);
    let q8 = file.tensor_info("q8_tensor").unwrap();
    assert_eq!(q8.shape, vec![1, 32]);
    assert_eq!(
        file.tensor_bytes(q8)[2..],
        (0..32u8).collect::<Vec<_>>()[..]
    );
}

#[test]
fn getters_name_the_key_when_missing_or_mistyped() {
    let file = parse(&valid_file().bytes).unwrap();
    let missing = file
        .get_u32("llama.context_length")
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("llama.context_length") && missing.contains("missing"),
        "{missing}"
    );
    let mistyped = file
        .get_u32("general.architecture")
        .unwrap_err()
        .to_string();
    assert!(
        mistyped.contains("general.architecture") && mistyped.contains("string"),
        "{mistyped}"
    );
    let too_big = file.get_u32("big").unwrap_err().to_string();
    assert!(
        too_big.contains("big") && too_big.contains("u64"),
        "{too_big}"
    );
    assert!(file.get_str_array("ints").is_err());
    assert_eq!(file.opt_u32("absent").unwrap(), None);
    assert!(file.opt_u32("general.architecture").is_err());
}

#[test]
fn every_truncation_of_a_synthetic_file_is_an_error() {
    let bytes = valid_file().bytes;
    for cut in 0..bytes.len() {
        let error = error_of(&bytes[..cut]);
        assert!(error.contains("test.gguf"), "cut {cut}: {error}");
    }
}

#[test]
fn truncations_of_the_real_model_are_errors() {
    let bytes = std::fs::read(default_model_path()).expect("readable");
    let header_end = GgufFile::from_bytes("full", &bytes).unwrap().data_offset();
    let mut cuts: Vec<usize> = (0..4096).collect();
    cuts.extend((0..400).map(|i| 4096 + (header_end - 4096) * i / 400));
    // Inside the tensor data: the last tensors no longer fit.
    cuts.extend([header_end + 1, bytes.len() / 2, bytes.len() - 1]);
    for cut in cuts {
        let error = error_of(&bytes[..cut]);
        assert!(error.contains("malformed GGUF"), "cut {cut}: {error}");
    }
}

#[test]
fn a_wrong_magic_is_rejected() {
    let mut bytes = valid_file().bytes;
    bytes[0] = b'X';
    assert!(error_of(&bytes).contains("magic"));
    assert!(error_of(b"").contains("magic"));
}

#[test]
fn unknown_versions_are_rejected() {
    for version in [0u32, 1, 4, u32::MAX] {
        let mut bytes = valid_file().bytes;
        bytes[4..8].copy_from_slice(&version.to_le_bytes());
        let error = error_of(&bytes);
        assert!(
            error.contains("version") && error.contains(&version.to_string()),
            "{error}"
        );
    }
    // GGUF v2 has the same layout as v3.
    let mut bytes = valid_file().bytes;
    bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(parse(&bytes).unwrap().version(), 2);
}

#[test]
fn absurd_counts_are_rejected_before_allocating() {
    for (offset, field) in [(8, "tensor_count"), (16, "metadata_kv_count")] {
        for count in [u64::MAX, 1 << 40, 1_000_000] {
            let mut bytes = valid_file().bytes;
            bytes[offset..offset + 8].copy_from_slice(&count.to_le_bytes());
            let error = error_of(&bytes);
            assert!(error.contains(field), "{error}");
        }
    }
}

#[test]
fn string_and_array_lengths_beyond_the_file_are_rejected() {
    // The first key's length.
    let mut bytes = valid_file().bytes;
    bytes[24..32].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
    assert!(error_of(&bytes).contains("metadata[0].key"));

    let mut w = GgufWriter::default();
    w.header(3, 0, 1)
        .string("tokens")
        .u32(9)
        .u32(8)
        .u64(u64::MAX / 2);
    let error = error_of(&w.bytes);
    assert!(
        error.contains("tokens") && error.contains("cannot fit"),
        "{error}"
    );

    let mut w = GgufWriter::default();
    w.header(3, 0, 1)
        .string("name")
        .u32(8)
        .u64(1 << 50)
        .raw(b"abc");
    let error = error_of(&w.bytes);
    assert!(error.contains("`name`"), "{error}");
}

#[test]
fn unknown_value_types_and_bad_bools_are_rejected() {
    let mut w = GgufWriter::default();
    w.header(3, 0, 1).string("weird").u32(13).u32(0);
    assert!(error_of(&w.bytes).contains("unknown value type 13"));

    let mut w = GgufWriter::default();
    w.header(3, 0, 1).string("flag").u32(7).u8(2);
    assert!(error_of(&w.bytes).contains("flag"));

    let mut w = GgufWriter::default();
    w.header(3, 0, 1).string("arr").u32(9).u32(99).u64(0);
    assert!(error_of(&w.bytes).contains("unknown array element type 99"));
}

#[test]
fn deeply_nested_arrays_are_rejected() {
    let mut w = GgufWriter::default();
    w.header(3, 0, 1).string("deep").u32(9);
    for _ in 0..64 {
        w.u32(9).u64(1);
    }
    w.u32(0).u64(0);
    assert!(error_of(&w.bytes).contains("nested"));
}

#[test]
fn duplicate_keys_and_tensor_names_are_rejected() {
    let mut w = GgufWriter::default();
    w.header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2);
    assert!(error_of(&w.bytes).contains("twice"));

    let mut w = GgufWriter::default();
    w.header(3, 2, 0)
        .tensor_info("t", &[8], 0, 0)
        .tensor_info("t", &[8], 0, 32)
        .pad_to(32)
        .raw(&[0u8; 64]);
    let error = error_of(&w.bytes);
    assert!(error.contains("`t`") && error.contains("twice"), "{error}");
}

fn one_tensor(dims: &[u64], ggml_type: u32, offset: u64, data: usize) -> Vec<u8> {
    let mut w = GgufWriter::default();
    w.header(3, 1, 0)
        .tensor_info("weights", dims, ggml_type, offset)
        .pad_to(32);
    w.raw(&vec![0u8; data]);
    w.bytes
}

#[test]
fn unsupported_tensor_types_name_the_tensor_and_type() {
    for (type_id, name) in [(6u32, "Q5_0"), (13, "Q5_K"), (10, "Q2_K"), (999, "unknown")] {
        let error = error_of(&one_tensor(&[32], type_id, 0, 64));
        assert!(
            error.contains("`weights`")
                && error.contains(&type_id.to_string())
                && error.contains(name),
            "{error}"
        );
    }
}

#[test]
fn bad_dimensions_are_rejected() {
    let error = error_of(&one_tensor(&[1, 1, 1, 1, 1], 0, 0, 64));
    assert!(error.contains("n_dims"), "{error}");
    let error = error_of(&one_tensor(&[u64::MAX, 2], 0, 0, 64));
    assert!(error.contains("`weights` dims"), "{error}");
    let error = error_of(&one_tensor(&[1 << 32, 1 << 32], 0, 0, 64));
    assert!(error.contains("`weights` dims"), "{error}");
    // A quantized row must be whole blocks.
    let error = error_of(&one_tensor(&[20], 8, 0, 64));
    assert!(error.contains("block size"), "{error}");
}

#[test]
fn bad_tensor_offsets_are_rejected() {
    let error = error_of(&one_tensor(&[8], 0, 4, 64));
    assert!(error.contains("alignment"), "{error}");
    let error = error_of(&one_tensor(&[8], 0, 64, 64));
    assert!(error.contains("past the end"), "{error}");
    let error = error_of(&one_tensor(&[64], 0, 0, 64));
    assert!(error.contains("past the end"), "{error}");
    let error = error_of(&one_tensor(&[8], 0, u64::MAX - 31, 64));
    assert!(error.contains("`weights` offset"), "{error}");

    let mut w = GgufWriter::default();
    w.header(3, 2, 0)
        .tensor_info("a", &[16], 0, 0)
        .tensor_info("b", &[16], 0, 32)
        .pad_to(32)
        .raw(&[0u8; 128]);
    let error = error_of(&w.bytes);
    assert!(error.contains("overlaps"), "{error}");
}

#[test]
fn alignment_comes_from_metadata_and_must_be_a_power_of_two() {
    let mut w = GgufWriter::default();
    w.header(3, 1, 1)
        .kv_u32("general.alignment", 64)
        .tensor_info("t", &[4], 0, 64);
    w.pad_to(64)
        .raw(&[0u8; 64])
        .raw(&1f32.to_le_bytes())
        .raw(&[0u8; 12]);
    let file = parse(&w.bytes).unwrap();
    assert_eq!(file.alignment(), 64);
    assert_eq!(file.data_offset() % 64, 0);
    assert_eq!(
        &file.tensor_bytes(file.tensor_info("t").unwrap())[..4],
        &1f32.to_le_bytes()
    );

    let mut w = GgufWriter::default();
    w.header(3, 0, 1).kv_u32("general.alignment", 48);
    assert!(error_of(&w.bytes).contains("general.alignment"));
    let mut w = GgufWriter::default();
    w.header(3, 0, 1).kv_u32("general.alignment", 0);
    assert!(error_of(&w.bytes).contains("general.alignment"));
}

#[test]
fn every_single_byte_corruption_of_the_header_is_handled() {
    let w = valid_file();
    let header_len = parse(&w.bytes).unwrap().data_offset();
    for position in 0..header_len {
        for value in [0u8, 0x7f, 0xff] {
            let mut bytes = w.bytes.clone();
            bytes[position] = value;
            // Either a clean error or a file that still parses; never a panic.
            let _ = parse(&bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(
        version in prop_oneof![Just(2u32), Just(3u32)],
        tensors in 0u64..4,
        kvs in 0u64..4,
        tail in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut w = GgufWriter::default();
        w.header(version, tensors, kvs).raw(&tail);
        let _ = parse(&w.bytes);
    }

    #[test]
    fn mutations_of_a_valid_file_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = valid_file().bytes;
        for (index, value) in edits {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        let _ = parse(&bytes);
    }
}
