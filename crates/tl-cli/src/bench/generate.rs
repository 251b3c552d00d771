//! `tl bench generate`: model load time, prefill speed of a long prompt and decode speed of
//! greedy tokens, as the medians of several runs on one loaded model.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use tl_llm::{ModelSource, SamplingParams, Session};

use crate::count_flags::positive_count;
use crate::model_args::{model_path, ModelArgs};

/// Text repeated to make the default prompt (the same paragraph as
/// scripts/bench/vs_llamacpp.py, so both engines see the same kind of tokens).
const PARAGRAPH: &str =
    "Tensor logic writes neural networks and symbolic rules as tensor equations. \
A join multiplies tensors over shared indices and a projection sums the rest. ";

#[derive(Args)]
pub struct GenerateBenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Prompt tokens run in one prefill pass.
    #[arg(long, default_value_t = 512, value_parser = positive_count)]
    prompt_tokens: usize,
    /// Tokens generated after the prefill (greedy, past end-of-generation tokens).
    #[arg(long, default_value_t = 128)]
    decode_tokens: usize,
    /// Timed runs after one warm-up run (medians are reported).
    #[arg(long, default_value_t = 3, value_parser = positive_count)]
    runs: usize,
    /// Prompt text, repeated until it has --prompt-tokens tokens (default: a fixed
    /// paragraph about tensor logic).
    #[arg(long)]
    prompt: Option<String>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub fn run(args: &GenerateBenchArgs) -> anyhow::Result<ExitCode> {
    let path = model_path(args.model.model.as_ref())?;
    let device = args.model.device()?;
    let runs = args.runs;
    // Loading is timed on every run: the first pays for reading the file into the page
    // cache, which a benchmark of the engine should not count alone.
    let mut load_times = Vec::with_capacity(runs + 1);
    let mut loaded = None;
    for _ in 0..=runs {
        let started = Instant::now();
        let source = ModelSource::open(&path)?;
        let model = args.model.load_model(&source, &device)?;
        load_times.push(started.elapsed().as_secs_f64());
        loaded = Some((source, model));
    }
    let (source, model) = loaded.expect("at least one load");
    let tokenizer = source.tokenizer();
    let text = args.prompt.as_deref().unwrap_or(PARAGRAPH);
    anyhow::ensure!(!text.is_empty(), "the prompt text is empty");
    let mut prompt = Vec::new();
    let mut repeated = String::new();
    while prompt.len() < args.prompt_tokens {
        repeated.push_str(text);
        prompt = tokenizer.encode(&repeated, tokenizer.add_bos(), false)?;
    }
    prompt.truncate(args.prompt_tokens);
    let params = SamplingParams {
        temperature: 0.0,
        ignore_end_of_generation: true,
        ..SamplingParams::default()
    };
    let context = args.model.context.max(prompt.len() + args.decode_tokens);
    let mut session = Session::new(&model, context)?;
    session.set_graphs(!args.model.eager);
    println!("model: {} on {}", path.display(), device.name());
    let (mut prefill, mut decode) = (Vec::new(), Vec::new());
    for run in 0..=runs {
        session.reset();
        let stats =
            session.generate(tokenizer, &prompt, args.decode_tokens, &params, &[], |_| {})?;
        if run > 0 {
            prefill.push(stats.prefill_tokens_per_second());
            decode.push(stats.decode_tokens_per_second());
        }
    }
    let load = Duration::from_secs_f64(median(load_times));
    println!("load: {:.3} s (median of {})", load.as_secs_f64(), runs + 1);
    println!(
        "prefill: {} tokens at {:.1} tokens/s (median of {runs})",
        prompt.len(),
        median(prefill)
    );
    println!(
        "decode: {} tokens at {:.1} tokens/s (median of {runs})",
        args.decode_tokens,
        median(decode)
    );
    Ok(ExitCode::SUCCESS)
}
