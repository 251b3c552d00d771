//! Options shared by the commands that run a model: which model, which device, sampling.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use tl_llm::{LlamaModel, ModelSource, SamplingParams};
use tl_tensor::{DType, Device};

use crate::count_flags::{positive_count, thread_count};
use crate::device_choice::DeviceChoice;

/// File name of the default model inside `$TL_HOME/models`.
const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

#[derive(Args, Clone)]
pub struct ModelArgs {
    /// A .gguf file or a Hugging Face model folder (config.json, *.safetensors,
    /// tokenizer.json). Default: SmolLM2-135M-Instruct from $TL_HOME/models
    /// (fetched by scripts/fetch-model.sh).
    #[arg(long, short = 'm')]
    pub model: Option<PathBuf>,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// CPU threads (all cores by default; at most 1024).
    #[arg(long, value_parser = thread_count)]
    pub threads: Option<usize>,
    /// Tokens the KV cache holds (at most the model's context length).
    #[arg(long, default_value_t = 4096, value_parser = positive_count)]
    pub context: usize,
    /// Quantize the float weights of the linear layers and the output head as they load.
    #[arg(long, value_enum)]
    pub quantize: Option<QuantizeChoice>,
    /// Run each decode step op by op instead of replaying a recorded CUDA graph (to compare).
    #[arg(long)]
    pub eager: bool,
}

/// Block formats `--quantize` can produce.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum QuantizeChoice {
    #[value(name = "q8_0")]
    Q8_0,
    #[value(name = "q4_0")]
    Q4_0,
    #[value(name = "q4_1")]
    Q4_1,
}

impl QuantizeChoice {
    fn dtype(self) -> DType {
        match self {
            QuantizeChoice::Q8_0 => DType::Q8_0,
            QuantizeChoice::Q4_0 => DType::Q4_0,
            QuantizeChoice::Q4_1 => DType::Q4_1,
        }
    }
}

#[derive(Args, Clone)]
pub struct SamplingArgs {
    /// Sampling temperature; 0 picks the most likely token (greedy, reproducible).
    #[arg(long, default_value_t = 0.0, value_parser = temperature, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Keep only the K most likely tokens (0 keeps all).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability sums to P.
    #[arg(long, default_value_t = 0.95, value_parser = top_p, allow_negative_numbers = true)]
    pub top_p: f64,
    /// Drop tokens less likely than P times the most likely one.
    #[arg(long, default_value_t = 0.05, value_parser = min_p, allow_negative_numbers = true)]
    pub min_p: f64,
    /// Penalty for tokens among the last 64 (1 disables it).
    #[arg(long, default_value_t = 1.0, value_parser = repeat_penalty, allow_negative_numbers = true)]
    pub repeat_penalty: f64,
    /// Seed of the sampler: the same seed gives the same text.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop when the text contains this string (may be repeated).
    #[arg(long = "stop", value_parser = stop_string)]
    pub stop: Vec<String>,
    /// Generate the full --max-tokens even past end-of-generation tokens (benchmarks).
    #[arg(long)]
    pub ignore_eos: bool,
}

impl SamplingArgs {
    pub fn params(&self) -> SamplingParams {
        SamplingParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            seed: self.seed,
            ignore_end_of_generation: self.ignore_eos,
            ..SamplingParams::default()
        }
    }
}

/// A sampling flag's number, when finite and accepted by `ok`; else the range it must lie in.
fn number_in(text: &str, ok: fn(f64) -> bool, range: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if value.is_finite() && ok(value) {
        Ok(value)
    } else {
        Err(format!("must be a number in {range}"))
    }
}

fn temperature(text: &str) -> Result<f64, String> {
    number_in(text, |t| t >= 0.0, "[0, ∞) (0 is greedy)")
}

fn top_p(text: &str) -> Result<f64, String> {
    number_in(text, |p| p > 0.0 && p <= 1.0, "(0, 1]")
}

fn min_p(text: &str) -> Result<f64, String> {
    number_in(text, |p| (0.0..=1.0).contains(&p), "[0, 1]")
}

fn repeat_penalty(text: &str) -> Result<f64, String> {
    number_in(text, |p| p > 0.0, "(0, ∞) (1 disables it)")
}

/// A stop string: any text but the empty one, which every text contains.
fn stop_string(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("must not be empty: every text contains it, so nothing would be generated".into())
    } else {
        Ok(text.to_string())
    }
}

fn default_model_path() -> Option<PathBuf> {
    let home = std::env::var_os("TL_HOME").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tensorlogic"))
    })?;
    Some(home.join("models").join(DEFAULT_MODEL))
}

/// The model file or folder to open: the one given, else the default one if present.
pub fn model_path(given: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.clone());
    }
    let path = default_model_path().context("neither TL_HOME nor HOME is set")?;
    if !path.is_file() {
        bail!(
            "the default model is not at {}; fetch it with `bash scripts/fetch-model.sh` (from the TensorLogic repository), or pass --model",
            path.display()
        );
    }
    Ok(path)
}

impl ModelArgs {
    pub fn device(&self) -> anyhow::Result<Device> {
        Ok(self.device.devices(self.threads)?.remove(0))
    }

    /// Loads `source`'s weights onto `device`, quantized when `--quantize` asks.
    pub fn load_model(&self, source: &ModelSource, device: &Device) -> anyhow::Result<LlamaModel> {
        Ok(LlamaModel::load_quantized(
            source,
            device,
            self.quantize.map(QuantizeChoice::dtype),
        )?)
    }

    /// Opens and loads the model, printing how long loading took.
    pub fn load(&self) -> anyhow::Result<(ModelSource, LlamaModel)> {
        let path = model_path(self.model.as_ref())?;
        let device = self.device()?;
        let started = std::time::Instant::now();
        let source = ModelSource::open(&path)?;
        let model = self.load_model(&source, &device)?;
        eprintln!(
            "loaded {} on {} in {:.2} s",
            path.display(),
            device.name(),
            started.elapsed().as_secs_f64()
        );
        Ok((source, model))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::SamplingArgs;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        sampling: SamplingArgs,
    }

    fn parse(args: &[&str]) -> Result<SamplingArgs, String> {
        Flags::try_parse_from(std::iter::once("tl").chain(args.iter().copied()))
            .map(|flags| flags.sampling)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sampling_flags_outside_their_range_are_refused_naming_flag_and_range() {
        for (args, flag, range) in [
            (["--temperature", "-1"], "--temperature", "[0, ∞)"),
            (["--temperature", "nan"], "--temperature", "[0, ∞)"),
            (["--top-p", "0"], "--top-p", "(0, 1]"),
            (["--top-p", "1.5"], "--top-p", "(0, 1]"),
            (["--min-p", "-0.1"], "--min-p", "[0, 1]"),
            (["--repeat-penalty", "0"], "--repeat-penalty", "(0, ∞)"),
        ] {
            let message = parse(&args).err().expect("refused");
            assert!(
                message.contains(flag) && message.contains(range),
                "{args:?}: {message}"
            );
        }
        let message = parse(&["--stop", ""]).err().expect("refused");
        assert!(
            message.contains("--stop") && message.contains("must not be empty"),
            "{message}"
        );
        let message = parse(&["--top-p", "high"]).err().expect("refused");
        assert!(message.contains("`high` is not a number"), "{message}");
    }

    #[test]
    fn sampling_flags_at_the_ends_of_their_ranges_are_taken() {
        let args = parse(&[
            "--temperature",
            "0",
            "--top-p",
            "1",
            "--min-p",
            "0",
            "--repeat-penalty",
            "1.1",
        ])
        .expect("taken");
        assert_eq!(
            (
                args.temperature,
                args.top_p,
                args.min_p,
                args.repeat_penalty
            ),
            (0.0, 1.0, 0.0, 1.1)
        );
    }
}
