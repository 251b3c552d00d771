//! `tl repl`: read TensorLogic statements interactively, with line editing and history.

use super::repl_session::{needs_more, ReplSession, HELP};
use super::{program_device, render_options};
use crate::count_flags::thread_count;
use crate::device_choice::DeviceChoice;
use clap::Args;
use rustyline::error::ReadlineError;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ReplArgs {
    /// Where the tensors live.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceChoice,
    /// CPU worker threads (all cores if not given; at most 1024).
    #[arg(long, value_parser = thread_count)]
    pub threads: Option<usize>,
}

fn history_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".cache/tensorlogic/repl_history"))
}

pub fn run(args: &ReplArgs) -> anyhow::Result<ExitCode> {
    let device = program_device(args.device, args.threads)?;
    let mut session = ReplSession::new(device, PathBuf::from("."), render_options());
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!("TensorLogic REPL — :help for help, :quit (or Ctrl-D) to leave");
    }
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = history_path();
    if let Some(path) = &history {
        // No history yet is not an error.
        let _ = editor.load_history(path);
    }
    let mut pending = String::new();
    loop {
        let prompt = match (interactive, pending.is_empty()) {
            (false, _) => "",
            (true, true) => "tl> ",
            (true, false) => "... ",
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) if !pending.is_empty() => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => break,
            Err(e) => return Err(e.into()),
        };
        if pending.is_empty() {
            match line.trim() {
                "" => continue,
                ":quit" | ":q" | ":exit" => break,
                ":help" | ":h" => {
                    println!("{HELP}");
                    continue;
                }
                ":program" => {
                    print!("{}", session.program());
                    continue;
                }
                ":reset" => {
                    session.reset();
                    eprintln!("(program forgotten)");
                    continue;
                }
                _ => {}
            }
        }
        pending.push_str(&line);
        pending.push('\n');
        if needs_more(&pending) {
            continue;
        }
        let input = std::mem::take(&mut pending);
        let _ = editor.add_history_entry(input.trim_end());
        let reply = session.submit(&input);
        for line in &reply.output {
            println!("{line}");
        }
        eprint!("{}", reply.errors);
    }
    if let Some(path) = &history {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = editor.save_history(path);
    }
    Ok(ExitCode::SUCCESS)
}
