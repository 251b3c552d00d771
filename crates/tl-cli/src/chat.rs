//! `tl chat`: a conversation with the model's own chat template, keeping the KV cache across
//! turns; `--prompt` answers one message and exits.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Args;
use tl_llm::{ChatMessage, GenerationStats, ModelSource, Session};

use crate::model_args::{ModelArgs, SamplingArgs};

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// A system message (the template's default is used when absent).
    #[arg(long)]
    system: Option<String>,
    /// Answer this one message and exit.
    #[arg(long, short = 'p')]
    prompt: Option<String>,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 512)]
    max_tokens: usize,
}

pub fn print_stats(stats: &GenerationStats) {
    eprintln!(
        "prefill: {} tokens at {:.1} tokens/s; decode: {} tokens at {:.1} tokens/s",
        stats.prompt_tokens,
        stats.prefill_tokens_per_second(),
        stats.generated_tokens,
        stats.decode_tokens_per_second()
    );
}

struct Conversation<'a> {
    source: &'a ModelSource,
    session: Session<'a>,
    messages: Vec<ChatMessage>,
    system: Vec<ChatMessage>,
}

impl Conversation<'_> {
    /// Adds the user's message, streams the answer to stdout and keeps it in the history.
    fn answer(&mut self, args: &ChatArgs, text: &str) -> anyhow::Result<()> {
        let tokenizer = self.source.tokenizer();
        let template = self.source.chat_template(None)?;
        self.messages.push(ChatMessage::new("user", text));
        let all: Vec<ChatMessage> = self.system.iter().chain(&self.messages).cloned().collect();
        let token_text =
            |id: Option<u32>| id.and_then(|i| tokenizer.token_text(i)).unwrap_or_default();
        let rendered = template.render(
            &all,
            true,
            &token_text(tokenizer.bos()),
            &token_text(tokenizer.eos()),
        )?;
        let prompt = tokenizer.encode(&rendered, tokenizer.add_bos(), true)?;
        let mut reply = String::new();
        let mut stdout = std::io::stdout();
        let stats = self.session.generate(
            tokenizer,
            &prompt,
            args.max_tokens,
            &args.sampling.params(),
            &args.sampling.stop,
            |piece| {
                reply.push_str(piece);
                print!("{piece}");
                let _ = stdout.flush();
            },
        );
        println!();
        match stats {
            Ok(stats) => {
                print_stats(&stats);
                self.messages
                    .push(ChatMessage::new("assistant", reply.trim()));
                Ok(())
            }
            Err(e) => {
                self.messages.pop();
                Err(e.into())
            }
        }
    }
}

const COMMANDS: &str = "commands: /reset starts over, /exit (or Ctrl-D) leaves, /help lists \
these; start a line with // to send a message that begins with /";

/// What a line typed into the chat asks for.
#[derive(Debug, PartialEq)]
enum ChatLine<'a> {
    Nothing,
    Exit,
    Reset,
    Help,
    Unknown(&'a str),
    Message(&'a str),
}

/// A line whose first word is `/` and letters is a command (the rest of the line is ignored);
/// `//` at the start sends the line from its second `/` as a message.
fn parse_line(line: &str) -> ChatLine<'_> {
    let text = line.trim();
    if text.starts_with("//") {
        return ChatLine::Message(&text[1..]);
    }
    let first = text.split_whitespace().next().unwrap_or("");
    let is_command = first
        .strip_prefix('/')
        .is_some_and(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()));
    match first {
        "" => ChatLine::Nothing,
        "/exit" | "/quit" => ChatLine::Exit,
        "/reset" => ChatLine::Reset,
        "/help" => ChatLine::Help,
        _ if is_command => ChatLine::Unknown(first),
        _ => ChatLine::Message(text),
    }
}

pub fn run(args: &ChatArgs) -> anyhow::Result<ExitCode> {
    let (source, model) = args.model.load()?;
    let mut conversation = Conversation {
        source: &source,
        session: Session::new(&model, args.model.context)?,
        messages: Vec::new(),
        system: args
            .system
            .iter()
            .map(|s| ChatMessage::new("system", s.as_str()))
            .collect(),
    };
    conversation.session.set_graphs(!args.model.eager);
    if let Some(prompt) = &args.prompt {
        conversation.answer(args, prompt)?;
        return Ok(ExitCode::SUCCESS);
    }
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!(
            "chatting with {} — /reset starts over, /exit (or Ctrl-D) leaves, /help for more",
            source.path().display()
        );
    }
    let mut editor = rustyline::DefaultEditor::new()?;
    loop {
        let line = match editor.readline(if interactive { "> " } else { "" }) {
            Ok(line) => line,
            Err(
                rustyline::error::ReadlineError::Eof | rustyline::error::ReadlineError::Interrupted,
            ) => break,
            Err(e) => return Err(e.into()),
        };
        let text = match parse_line(&line) {
            ChatLine::Nothing => continue,
            ChatLine::Exit => break,
            ChatLine::Reset => {
                conversation.messages.clear();
                conversation.session.reset();
                eprintln!("(conversation reset)");
                continue;
            }
            ChatLine::Help => {
                eprintln!("{COMMANDS}");
                continue;
            }
            ChatLine::Unknown(command) => {
                eprintln!("unknown command {command}; {COMMANDS}");
                continue;
            }
            ChatLine::Message(text) => text,
        };
        let _ = editor.add_history_entry(text);
        // A failed turn (context full, say) is reported; the conversation goes on.
        if let Err(e) = conversation.answer(args, text) {
            eprintln!("error: {e:#}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::{parse_line, ChatLine};

    #[test]
    fn lines_are_commands_only_when_their_first_word_is_slash_and_letters() {
        assert_eq!(parse_line("  "), ChatLine::Nothing);
        assert_eq!(parse_line("/exit"), ChatLine::Exit);
        assert_eq!(parse_line(" /quit now "), ChatLine::Exit);
        assert_eq!(parse_line("/reset"), ChatLine::Reset);
        assert_eq!(parse_line("/help"), ChatLine::Help);
        assert_eq!(parse_line("/bogus x"), ChatLine::Unknown("/bogus"));
        assert_eq!(
            parse_line("/usr/bin holds what?"),
            ChatLine::Message("/usr/bin holds what?")
        );
        assert_eq!(parse_line("//reset"), ChatLine::Message("/reset"));
        assert_eq!(
            parse_line(" Hello / there "),
            ChatLine::Message("Hello / there")
        );
        assert_eq!(parse_line("/"), ChatLine::Message("/"));
    }
}
