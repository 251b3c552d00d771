//! Chat templates: the default model's template renders exactly the prompts llama.cpp used,
//! and HF-style template features render as Python's jinja2 renders them
//! (references: scripts/reference/llamacpp.py, scripts/reference/jinja_templates.py).

mod common;

use common::{data_path, default_model_path, ids_of, read_json};
use tl_llm::{ChatMessage, ChatTemplate, LlmError, ModelSource};

fn messages_of(value: &serde_json::Value) -> Vec<ChatMessage> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|m| ChatMessage::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect()
}

#[test]
fn the_default_model_template_renders_what_llamacpp_rendered() {
    let source = ModelSource::open(default_model_path()).unwrap();
    let template = source.chat_template(None).unwrap();
    let tokenizer = source.tokenizer();
    let reference = read_json("llamacpp/greedy.json");
    assert_eq!(
        template.source(),
        reference["chat_template"].as_str().unwrap()
    );
    for run in reference["runs"].as_array().unwrap() {
        let rendered = template
            .render(
                &messages_of(&run["messages"]),
                run["add_generation_prompt"].as_bool().unwrap(),
                run["bos_token"].as_str().unwrap(),
                run["eos_token"].as_str().unwrap(),
            )
            .unwrap();
        assert_eq!(rendered, run["rendered_prompt"].as_str().unwrap());
        let ids = tokenizer.encode(&rendered, true, true).unwrap();
        assert_eq!(ids, ids_of(&run["prompt_ids"]));
    }
}

#[test]
fn hugging_face_template_features_render_like_jinja2() {
    let reference = read_json("jinja/templates.json");
    let templates = reference["templates"].as_object().unwrap();
    for case in reference["cases"].as_array().unwrap() {
        let name = case["template_name"].as_str().unwrap();
        let template = ChatTemplate::new(name, templates[name].as_str().unwrap()).unwrap();
        let result = template.render(
            &messages_of(&case["messages"]),
            case["add_generation_prompt"].as_bool().unwrap(),
            case["bos_token"].as_str().unwrap(),
            case["eos_token"].as_str().unwrap(),
        );
        match (result, case.get("rendered"), case.get("error")) {
            (Ok(text), Some(expected), None) => {
                assert_eq!(text, expected.as_str().unwrap(), "{name}")
            }
            (Err(error), None, Some(message)) => {
                let error = error.to_string();
                assert!(error.contains(message.as_str().unwrap()), "{name}: {error}");
                assert!(
                    error.contains(name),
                    "the error names the template: {error}"
                );
            }
            (result, _, _) => panic!("{name}: {result:?} against {case}"),
        }
    }
}

#[test]
fn a_model_without_template_needs_an_override() {
    let source = ModelSource::open(data_path("llamacpp/spm_vocab.gguf")).unwrap();
    assert!(source.chat_template_source().is_none());
    let error = source.chat_template(None).unwrap_err();
    assert!(matches!(error, LlmError::NoChatTemplate { .. }), "{error}");
    assert!(error.to_string().contains("no chat template"), "{error}");
    let template = source
        .chat_template(Some((
            "override.jinja",
            "{% for m in messages %}{{ m.content }}{% endfor %}",
        )))
        .unwrap();
    assert_eq!(
        template
            .render(&[ChatMessage::new("user", "hi")], true, "", "")
            .unwrap(),
        "hi"
    );
}

#[test]
fn syntax_errors_name_the_template_and_line() {
    let error = ChatTemplate::new(
        "broken.jinja",
        "line one\n{% for m in messages %}{{ m.content }",
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("broken.jinja") && error.contains("line 2"),
        "{error}"
    );
}
