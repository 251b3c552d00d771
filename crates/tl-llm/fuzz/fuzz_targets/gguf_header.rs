//! Fuzz target: arbitrary bytes as a GGUF file through the reader alone
//! (`tl_llm::fuzz_harness::exercise_gguf_header`, which `tests/fuzz_replay.rs` replays):
//! header, metadata, tensor table, model configuration and every weight as a tensor,
//! without the tokenizer, whose regex compilation makes `gguf_file` a hundred times slower
//! per input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tl_llm::fuzz_harness::exercise_gguf_header;
use tl_tensor::Device;

/// One device for the whole run: creating one starts a thread pool.
fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(Device::cpu)
}

fuzz_target!(|data: &[u8]| exercise_gguf_header(data, device()));
