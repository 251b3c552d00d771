//! Fuzz target: arbitrary bytes as a Hugging Face model folder. The input is cut at each
//! `#TLFILE#` marker into the files `tl_llm::fuzz_harness::HF_FOLDER_FILES` names, in that
//! order (an empty part leaves the file out), and goes through every reader
//! (`tl_llm::fuzz_harness::exercise_hf_folder`, which `tests/fuzz_replay.rs` replays).
//! Nothing may panic or allocate without bound.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tl_llm::fuzz_harness::exercise_hf_folder;
use tl_tensor::Device;

/// One device for the whole run: creating one starts a thread pool, which would dominate
/// the time of each input.
fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(Device::cpu)
}

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    exercise_hf_folder(data, dir.path(), device()).expect("write to the temp folder");
});
