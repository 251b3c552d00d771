//! Fuzz target: arbitrary bytes as a GGUF file through the reader alone — header, metadata,
//! tensor table, model configuration and every weight as a tensor — without building the
//! tokenizer, whose regex compilation makes `gguf_file` a hundred times slower per input.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use tl_llm::{GgufFile, ModelConfig, WeightSource};
use tl_tensor::Device;

/// One device for the whole run: creating one starts a thread pool.
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
    for (key, value) in file.metadata() {
        let _ = (
            file.get_u64(key),
            file.get_f32(key),
            file.get_str_array(key),
        );
        let _ = value.to_string();
    }
    if let Ok(config) = ModelConfig::from_gguf(&file) {
        let _ = config.parameter_count();
    }
    let weights = WeightSource::Gguf(Arc::new(file));
    for (name, _) in weights.weights() {
        let _ = weights.tensor(&name, device());
    }
});
