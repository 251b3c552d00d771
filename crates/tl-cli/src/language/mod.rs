//! The language commands: `tl run`, `tl check` and `tl repl`, and what they share (reading
//! a program, rendering diagnostics, choosing the device).

pub mod check_command;
pub mod repl_command;
pub mod repl_session;
pub mod run_command;

use crate::device_choice::DeviceChoice;
use std::io::IsTerminal;
use tl_lang::{render_all, Diagnostic, RenderOptions};
use tl_tensor::Device;

/// Colour when stderr is a terminal and `NO_COLOR` is not set.
pub fn render_options() -> RenderOptions {
    RenderOptions {
        color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        ascii: false,
    }
}

/// Prints diagnostics to stderr with the source lines they point at.
pub fn report(diagnostics: &[Diagnostic], source_name: &str, source: &str) {
    eprint!(
        "{}",
        render_all(diagnostics, source_name, source, render_options())
    );
}

/// The one device a program runs on.
pub fn program_device(choice: DeviceChoice, threads: Option<usize>) -> anyhow::Result<Device> {
    if choice == DeviceChoice::All {
        anyhow::bail!("a program runs on one device: choose cpu, cuda or auto");
    }
    choice
        .devices(threads)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no device available"))
}
