//! Fuzz target: arbitrary bytes as a GGUF file, through everything a model load does with
//! them: the header and tensor table, the model configuration, the embedded tokenizer (and
//! a short encode/decode with it), the chat template, `tl info`'s summary, every weight as
//! a tensor, and the llama model built from them. Any of it may fail; none of it may panic
//! or allocate without bound.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use tl_llm::{ChatMessage, GgufFile, LlamaModel, ModelSource};
use tl_tensor::Device;

/// One device for the whole run: creating one starts a thread pool, which would dominate
/// the time of each input.
fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(Device::cpu)
}

fuzz_target!(|data: &[u8]| {
    let Ok(file) = GgufFile::from_bytes("fuzz.gguf", data) else {
        return;
    };
    for info in file.tensors() {
        let _ = file.tensor_bytes(info);
    }
    let Ok(source) = ModelSource::from_gguf_file(Arc::new(file)) else {
        return;
    };
    let _ = source.info().to_string();
    let tokenizer = source.tokenizer();
    if let Ok(ids) = tokenizer.encode("Hello, wörld! 12 <s>", tokenizer.add_bos(), true) {
        let _ = tokenizer.decode(&ids, false);
    }
    if let Ok(template) = source.chat_template(None) {
        let _ = template.render(&[ChatMessage::new("user", "hi")], true, "<s>", "</s>");
    }
    let device = device();
    for (name, _) in source.weights().weights() {
        let _ = source.weights().tensor(&name, device);
    }
    let _ = LlamaModel::load(&source, device);
});
