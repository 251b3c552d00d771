//! `tl info`: what a model file holds (architecture, sizes, quantization, tokenizer, template).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tl_llm::ModelSource;

#[derive(Args)]
pub struct InfoArgs {
    /// A .gguf file or a Hugging Face model folder (default: the default model).
    model: Option<PathBuf>,
}

pub fn run(args: &InfoArgs) -> anyhow::Result<ExitCode> {
    let path = crate::model_args::model_path(args.model.as_ref())?;
    let source = ModelSource::open(&path)?;
    println!("{}", source.info());
    Ok(ExitCode::SUCCESS)
}
