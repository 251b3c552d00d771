//! `tl generate`: continue a raw prompt, streaming the text, then print speeds to stderr.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use tl_llm::{fit_prompt, PromptOverflow, Session};

use crate::model_args::{ModelArgs, SamplingArgs};

#[derive(Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// The text to continue (no chat template is applied).
    #[arg(long, short = 'p')]
    prompt: String,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    /// When the prompt and --max-tokens do not fit the context, drop the prompt's middle
    /// (keeping a BOS token and its last tokens) instead of failing.
    #[arg(long)]
    truncate_prompt: bool,
}

pub fn run(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let (source, model) = args.model.load()?;
    let tokenizer = source.tokenizer();
    let prompt = tokenizer.encode(&args.prompt, tokenizer.add_bos(), true)?;
    let mut session = Session::new(&model, args.model.context)?;
    session.set_graphs(!args.model.eager);
    let overflow = if args.truncate_prompt {
        PromptOverflow::KeepLast {
            keep_first: usize::from(tokenizer.add_bos()),
        }
    } else {
        PromptOverflow::Error
    };
    let prompt = fit_prompt(&prompt, session.context(), args.max_tokens, overflow)?;
    let mut stdout = std::io::stdout();
    print!("{}", args.prompt);
    let stats = session.generate(
        tokenizer,
        &prompt,
        args.max_tokens,
        &args.sampling.params(),
        &args.sampling.stop,
        |text| {
            print!("{text}");
            let _ = stdout.flush();
        },
    )?;
    println!();
    crate::chat::print_stats(&stats);
    Ok(ExitCode::SUCCESS)
}
