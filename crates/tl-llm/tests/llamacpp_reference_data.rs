//! The committed llama.cpp logits are readable and self-consistent, so forward-pass tests can
//! rely on them: each prompt's rows lie where logits.json says, and each row's argmax and
//! maximum agree with the f32 values llama.cpp reported.

mod common;

use common::{data_path, default_model_path, ids_of, read_json};
use tl_llm::{tokenizer_from_gguf, GgufFile};
use tl_tensor::f16;

#[test]
fn logits_rows_match_their_recorded_argmax_and_prompts_tokenize_the_same() {
    let reference = read_json("llamacpp/logits.json");
    let columns = reference["columns"].as_u64().unwrap() as usize;
    let rows = reference["rows"].as_u64().unwrap() as usize;
    let bytes = std::fs::read(data_path("llamacpp/logits.f16")).unwrap();
    assert_eq!(bytes.len(), rows * columns * 2);
    let logits: Vec<f32> = bytes
        .chunks_exact(2)
        .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();

    let file = GgufFile::open(default_model_path()).unwrap();
    let tokenizer = tokenizer_from_gguf(&file).unwrap();
    let mut next_row = 0;
    for prompt in reference["prompts"].as_array().unwrap() {
        let ids = ids_of(&prompt["ids"]);
        assert_eq!(
            tokenizer
                .encode(prompt["text"].as_str().unwrap(), false, true)
                .unwrap(),
            ids
        );
        let first = prompt["first_row"].as_u64().unwrap() as usize;
        assert_eq!(first, next_row);
        next_row += ids.len();
        for (position, (argmax, max)) in prompt["argmax"]
            .as_array()
            .unwrap()
            .iter()
            .zip(prompt["max_logit"].as_array().unwrap())
            .enumerate()
        {
            let row = &logits[(first + position) * columns..(first + position + 1) * columns];
            let max = max.as_f64().unwrap() as f32;
            let best = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert!(
                (best - max).abs() <= max.abs() * 1e-3,
                "row {position}: {best} vs {max}"
            );
            let argmax = argmax.as_u64().unwrap() as usize;
            assert_eq!(row[argmax], best, "row {position}");
        }
    }
    assert_eq!(next_row, rows);
}
