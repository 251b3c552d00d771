//! The `--device` option: which devices a command runs on, and the fallback from CUDA to
//! the CPU with one line saying why.

use clap::ValueEnum;
use tl_tensor::Device;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceChoice {
    /// The CPU.
    Cpu,
    /// The first CUDA GPU; an error if there is none.
    Cuda,
    /// The first CUDA GPU if one is usable, else the CPU (saying why).
    Auto,
    /// Every device present (for `tl doctor`).
    All,
}

fn cpu(threads: Option<usize>) -> Device {
    match threads {
        Some(n) => Device::cpu_with_threads(n),
        None => Device::cpu(),
    }
}

impl DeviceChoice {
    /// The devices this choice names; `threads` sets the CPU's worker count.
    pub fn devices(self, threads: Option<usize>) -> anyhow::Result<Vec<Device>> {
        Ok(match self {
            DeviceChoice::Cpu => vec![cpu(threads)],
            DeviceChoice::Cuda => vec![tl_cuda::cuda_device(0)?],
            DeviceChoice::Auto => match tl_cuda::cuda_device(0) {
                Ok(device) => vec![device],
                Err(why) => {
                    eprintln!("note: using the CPU: {why}");
                    vec![cpu(threads)]
                }
            },
            DeviceChoice::All => {
                let mut devices = vec![cpu(threads)];
                match tl_cuda::availability::check() {
                    Ok(count) => {
                        for ordinal in 0..count {
                            devices.push(tl_cuda::cuda_device(ordinal)?);
                        }
                    }
                    Err(why) => eprintln!("note: no CUDA device checked: {why}"),
                }
                devices
            }
        })
    }
}
