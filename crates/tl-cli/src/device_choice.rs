//! The `--device` option: which devices a command runs on.

use clap::ValueEnum;
use tl_tensor::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceChoice {
    /// The CPU.
    Cpu,
    /// Every device present.
    All,
}

impl DeviceChoice {
    /// The devices this choice names, created with `threads` CPU threads (all when `None`).
    pub fn devices(self, threads: Option<usize>) -> Vec<Device> {
        let cpu = match threads {
            Some(n) => Device::cpu_with_threads(n),
            None => Device::cpu(),
        };
        match self {
            DeviceChoice::Cpu | DeviceChoice::All => vec![cpu],
        }
    }
}
