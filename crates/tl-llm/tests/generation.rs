//! The generation loop on the default model: seeded sampling replays exactly, a chat turn
//! that reuses the cached prefix produces what a fresh session produces, and a prompt longer
//! than the context is an error unless truncation is asked for.

mod common;

use tl_llm::{
    fit_prompt, ChatMessage, LlamaModel, LlmError, ModelSource, PromptOverflow, SamplingParams,
    Session,
};
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

fn long_prompt(source: &ModelSource) -> Vec<u32> {
    let text = "The river runs past the mill, the mill grinds the grain, and the grain feeds \
                the town that stands beside the river. ";
    source
        .tokenizer()
        .encode(&text.repeat(3), false, true)
        .unwrap()
}

#[test]
fn zero_tokens_read_the_prompt_and_generate_nothing_and_an_empty_prompt_is_an_error() {
    let (source, model) = load();
    let prompt = source
        .tokenizer()
        .encode("Once upon a time", false, true)
        .unwrap();
    let greedy = SamplingParams::default();
    let mut session = Session::new(&model, 64).unwrap();
    let mut text = String::new();
    let stats = session
        .generate(source.tokenizer(), &prompt, 0, &greedy, &[], |piece| {
            text.push_str(piece)
        })
        .unwrap();
    assert_eq!((stats.generated_tokens, text.as_str()), (0, ""));
    assert_eq!(stats.prompt_tokens, prompt.len());
    // The cached prompt serves the next request as a fresh session's would.
    let after = run(&mut session, &source, &prompt, &greedy);
    let fresh = run(
        &mut Session::new(&model, 64).unwrap(),
        &source,
        &prompt,
        &greedy,
    );
    assert_eq!(after, fresh);
    // An empty prompt has nothing to continue.
    assert!(matches!(
        session.generate(source.tokenizer(), &[], 4, &greedy, &[], |_| {}),
        Err(LlmError::EmptyPrompt)
    ));
}

#[test]
fn a_prompt_longer_than_the_context_is_an_error_naming_both_sizes() {
    let (source, model) = load();
    let prompt = long_prompt(&source);
    let context = 32;
    assert!(prompt.len() > context);
    let mut session = Session::new(&model, context).unwrap();
    let result = session.generate(
        source.tokenizer(),
        &prompt,
        4,
        &SamplingParams::default(),
        &[],
        |_| {},
    );
    match result {
        Err(LlmError::PromptTooLong {
            prompt_tokens,
            context: held,
        }) => assert_eq!((prompt_tokens, held), (prompt.len(), context)),
        other => panic!("expected PromptTooLong, got {other:?}"),
    }
    // The forward pass itself refuses more tokens than its cache holds.
    let mut cache = model.new_cache(context).unwrap();
    assert!(matches!(
        model.forward(&prompt, &mut cache, false),
        Err(LlmError::ContextFull { .. })
    ));
    // The session is still usable with a prompt that fits.
    let text = run(
        &mut session,
        &source,
        &prompt[..8],
        &SamplingParams::default(),
    );
    assert!(!text.is_empty());
}

#[test]
fn a_truncated_prompt_generates_from_its_last_tokens() {
    let (source, model) = load();
    let prompt = long_prompt(&source);
    let (context, max_tokens) = (40, 8);
    let kept = fit_prompt(
        &prompt,
        context,
        max_tokens,
        PromptOverflow::KeepLast { keep_first: 0 },
    )
    .unwrap();
    assert_eq!(kept, prompt[prompt.len() - (context - max_tokens)..]);
    let generate = |tokens: &[u32]| {
        let mut text = String::new();
        Session::new(&model, context)
            .unwrap()
            .generate(
                source.tokenizer(),
                tokens,
                max_tokens,
                &SamplingParams::default(),
                &[],
                |piece| text.push_str(piece),
            )
            .expect("the truncated prompt fits");
        text
    };
    let truncated = generate(&kept);
    assert!(!truncated.is_empty());
    // Truncation happens before the model sees the prompt: the same tokens, the same text.
    assert_eq!(truncated, generate(&prompt[prompt.len() - kept.len()..]));
}
