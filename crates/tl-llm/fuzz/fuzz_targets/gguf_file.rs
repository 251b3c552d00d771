//! Fuzz target: arbitrary bytes as a GGUF file, through everything a model load does with
//! them (`tl_llm::fuzz_harness::exercise_gguf`, which `tests/fuzz_replay.rs` replays). Any
//! of it may fail; none of it may panic or allocate without bound.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tl_llm::fuzz_harness::exercise_gguf;
use tl_tensor::Device;

/// One device for the whole run: creating one starts a thread pool, which would dominate
/// the time of each input.
fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(Device::cpu)
}

fuzz_target!(|data: &[u8]| exercise_gguf(data, device()));
