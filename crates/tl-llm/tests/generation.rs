//! The generation loop on the default model: seeded sampling replays exactly, and a chat
//! turn that reuses the cached prefix produces what a fresh session produces.

mod common;

use tl_llm::{ChatMessage, LlamaModel, ModelSource, SamplingParams, Session};
use tl_tensor::Device;

fn load() -> (ModelSource, LlamaModel) {
    let source = ModelSource::open(common::default_model_path()).expect("open the default model");
    let model = LlamaModel::load(&source, &Device::cpu()).expect("load the model");
    (source, model)
}

fn run(
    session: &mut Session,
    source: &ModelSource,
    prompt: &[u32],
    params: &SamplingParams,
) -> String {
    let mut text = String::new();
    session
        .generate(source.tokenizer(), prompt, 24, params, &[], |piece| {
            text.push_str(piece)
        })
        .expect("generation");
    text
}

fn chat_prompt(source: &ModelSource, messages: &[ChatMessage]) -> Vec<u32> {
    let tokenizer = source.tokenizer();
    let text = source
        .chat_template(None)
        .unwrap()
        .render(messages, true, "<|im_start|>", "<|im_end|>")
        .unwrap();
    tokenizer.encode(&text, tokenizer.add_bos(), true).unwrap()
}

#[test]
fn the_same_seed_replays_the_same_sampled_text() {
    let (source, model) = load();
    let prompt = source
        .tokenizer()
        .encode("Once upon a time", false, true)
        .unwrap();
    let params = SamplingParams {
        temperature: 0.9,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        seed: 7,
        ..SamplingParams::default()
    };
    let first = run(
        &mut Session::new(&model, 256).unwrap(),
        &source,
        &prompt,
        &params,
    );
    let second = run(
        &mut Session::new(&model, 256).unwrap(),
        &source,
        &prompt,
        &params,
    );
    assert_eq!(first, second);
    let greedy = run(
        &mut Session::new(&model, 256).unwrap(),
        &source,
        &prompt,
        &SamplingParams::default(),
    );
    assert_ne!(
        first, greedy,
        "sampling at temperature 0.9 over the whole vocabulary should leave the greedy path"
    );
}

#[test]
fn a_second_turn_on_the_cached_prefix_equals_a_fresh_session() {
    let (source, model) = load();
    let greedy = SamplingParams::default();
    let mut messages = vec![ChatMessage::new("user", "Name a colour.")];
    let mut session = Session::new(&model, 512).unwrap();
    let answer = run(
        &mut session,
        &source,
        &chat_prompt(&source, &messages),
        &greedy,
    );
    messages.push(ChatMessage::new("assistant", answer.trim()));
    messages.push(ChatMessage::new("user", "Name another one."));
    let prompt = chat_prompt(&source, &messages);
    let cached_before = session.tokens().len();
    let reused = run(&mut session, &source, &prompt, &greedy);
    let fresh = run(
        &mut Session::new(&model, 512).unwrap(),
        &source,
        &prompt,
        &greedy,
    );
    assert!(cached_before > 0);
    assert_eq!(reused, fresh);
}
