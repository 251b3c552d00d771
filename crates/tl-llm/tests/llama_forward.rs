//! The llama forward pass against llama.cpp on the default model: next-token logits at every
//! position of three prompts, greedy chat continuations, and KV-cache decoding against a
//! full recompute. Reference files come from scripts/reference/llamacpp.py.
//!
//! llama.cpp quantizes activations to 8 bits in its own way and keeps the KV cache in f16;
//! with exact (dequantized) weights our logits differ from its by up to ~5% of the logit
//! range, the same as with our quantized mat-vecs, so that is its arithmetic's noise. Top-1
//! must agree where llama.cpp's top-2 margin exceeds `DECISIVE_MARGIN`; the disagreements
//! seen were all at margins below 0.19. Matching at 0.05 needs llama.cpp-identical
//! activation quantization (an open item of the LLM issue).

const DECISIVE_MARGIN: f32 = 0.25;

mod common;

use tl_llm::{LlamaModel, ModelSource};
use tl_tensor::Device;

fn load() -> (ModelSource, LlamaModel) {
    let source = ModelSource::open(common::default_model_path()).expect("open the default model");
    let model = LlamaModel::load(&source, &Device::cpu()).expect("load the model");
    (source, model)
}

/// `(index of the maximum, margin between the two largest)`.
fn top2(row: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    let mut second = f32::NEG_INFINITY;
    for (i, &v) in row.iter().enumerate() {
        if v > best.1 {
            second = best.1;
            best = (i, v);
        } else if v > second {
            second = v;
        }
    }
    (best.0, best.1 - second)
}

#[test]
fn logits_match_llamacpp_at_every_position() {
    let (_, model) = load();
    let meta = common::read_json("llamacpp/logits.json");
    let columns = meta["columns"].as_u64().unwrap() as usize;
    let bytes = std::fs::read(common::data_path("llamacpp/logits.f16")).unwrap();
    let reference: Vec<f32> = bytes
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();
    let mut worst_error = 0f32;
    let mut agreed = 0;
    let mut rows = 0;
    for prompt in meta["prompts"].as_array().unwrap() {
        let ids = common::ids_of(&prompt["ids"]);
        let first_row = prompt["first_row"].as_u64().unwrap() as usize;
        let mut cache = model.new_cache(64).unwrap();
        let logits = model
            .forward(&ids, &mut cache, true)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        for (position, ours) in logits.chunks_exact(columns).enumerate() {
            let theirs = &reference[(first_row + position) * columns..][..columns];
            let range = theirs.iter().fold(0f32, |m, v| m.max(v.abs()));
            let error = ours
                .iter()
                .zip(theirs)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
                / range;
            worst_error = worst_error.max(error);
            let (their_top, margin) = top2(theirs);
            let our_top = top2(ours).0;
            rows += 1;
            agreed += usize::from(our_top == their_top);
            if margin > DECISIVE_MARGIN {
                assert_eq!(
                    our_top, their_top,
                    "prompt {:?} position {position}: top-1 differs (llama.cpp margin {margin})",
                    prompt["text"]
                );
            }
        }
    }
    println!("{rows} positions: top-1 agreement {agreed}/{rows}, worst max-abs error {worst_error:.3e} of the logit range");
    assert!(worst_error < 0.08, "worst relative error {worst_error}");
    assert!(agreed * 10 >= rows * 9, "top-1 agreement {agreed}/{rows}");
}

#[test]
fn greedy_chat_continuations_match_llamacpp() {
    let (_, model) = load();
    let reference = common::read_json("llamacpp/greedy.json");
    for run in reference["runs"].as_array().unwrap() {
        let prompt = common::ids_of(&run["prompt_ids"]);
        let expected = common::ids_of(&run["generated_ids"]);
        let margins: Vec<f64> = run["top2_margins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_f64().unwrap())
            .collect();
        let mut cache = model.new_cache(prompt.len() + expected.len() + 1).unwrap();
        let mut logits = model.forward(&prompt, &mut cache, false).unwrap();
        for (step, &want) in expected.iter().enumerate() {
            let got = top2(&logits.to_vec::<f32>().unwrap()).0 as u32;
            if margins[step] < DECISIVE_MARGIN as f64 {
                println!(
                    "stopping the comparison at step {step}: llama.cpp's margin is {}",
                    margins[step]
                );
                break;
            }
            assert_eq!(
                got, want,
                "run {:?}: step {step} differs",
                run["rendered_prompt"]
            );
            logits = model.forward(&[got], &mut cache, false).unwrap();
        }
    }
}

#[test]
fn cached_decoding_equals_full_recompute() {
    let (source, model) = load();
    let ids = source
        .tokenizer()
        .encode("Tensor equations join and project indices.", false, true)
        .unwrap();
    let mut full_cache = model.new_cache(64).unwrap();
    let full = model
        .forward(&ids, &mut full_cache, false)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    let mut cache = model.new_cache(64).unwrap();
    model.forward(&ids[..3], &mut cache, false).unwrap();
    let mut last = Vec::new();
    for &id in &ids[3..] {
        last = model
            .forward(&[id], &mut cache, false)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
    }
    let range = full.iter().fold(0f32, |m, v| m.max(v.abs()));
    let error = full
        .iter()
        .zip(&last)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        / range;
    assert!(
        error < 1e-4,
        "cached decoding differs from a full recompute by {error}"
    );
}
