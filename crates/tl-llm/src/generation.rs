//! The generation loop: prefill the prompt in one pass, then decode token by token with the
//! KV cache, sampling on the device; streams complete UTF-8 text and reports speeds.

use std::time::{Duration, Instant};

use tl_tensor::{DType, Op, Tensor};

use crate::error::{LlmError, Result};
use crate::kv_cache::KvCache;
use crate::llama_model::LlamaModel;
use crate::tokenizer::Tokenizer;

/// How the next token is chosen (see `tl_tensor::Op::Sample`).
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
    /// 0 is greedy.
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    pub min_p: f64,
    /// 1 disables it; applied over the last `repeat_window` tokens.
    pub repeat_penalty: f64,
    pub repeat_window: usize,
    pub seed: u64,
    /// Keep generating past end-of-generation tokens (for benchmarks of a fixed length).
    pub ignore_end_of_generation: bool,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_window: 64,
            seed: 0,
            ignore_end_of_generation: false,
        }
    }
}

/// Why generation stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    EndOfGeneration,
    MaxTokens,
    StopString,
}

/// Figures of one generation.
#[derive(Clone, Debug)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub prefill_time: Duration,
    pub generated_tokens: usize,
    pub decode_time: Duration,
    pub stop: StopReason,
}

impl GenerationStats {
    pub fn prefill_tokens_per_second(&self) -> f64 {
        self.prompt_tokens as f64 / self.prefill_time.as_secs_f64().max(1e-9)
    }

    /// Decode speed over the tokens after the first (the first comes from the prefill).
    pub fn decode_tokens_per_second(&self) -> f64 {
        self.generated_tokens.saturating_sub(1) as f64 / self.decode_time.as_secs_f64().max(1e-9)
    }
}

/// A conversation's state: the tokens in the KV cache and the cache itself.
pub struct Session<'m> {
    model: &'m LlamaModel,
    cache: KvCache,
    tokens: Vec<u32>,
    steps: u64,
}

impl<'m> Session<'m> {
    pub fn new(model: &'m LlamaModel, context: usize) -> Result<Session<'m>> {
        Ok(Session {
            model,
            cache: model.new_cache(context)?,
            tokens: Vec::new(),
            steps: 0,
        })
    }

    /// Tokens currently in the cache.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub fn context(&self) -> usize {
        self.cache.capacity()
    }

    pub fn reset(&mut self) {
        self.cache.truncate(0);
        self.tokens.clear();
    }

    fn choose(&mut self, logits: &Tensor, params: &SamplingParams) -> Result<u32> {
        let device = self.model.device();
        let mut logits = logits.clone();
        if params.repeat_penalty != 1.0 && !self.tokens.is_empty() {
            let start = self.tokens.len().saturating_sub(params.repeat_window);
            let recent: Vec<i32> = self.tokens[start..].iter().map(|&t| t as i32).collect();
            let recent = device.from_slice(&recent, &[1, recent.len()])?;
            logits = device.run1(
                &Op::RepetitionPenalty {
                    penalty: params.repeat_penalty,
                },
                &[&logits, &recent],
            )?;
        }
        // A fresh counter-based draw per step: the same seed replays the same tokens.
        let uniform = device.rand_uniform(
            &[1],
            DType::F32,
            0.0,
            1.0,
            params.seed.wrapping_add(self.steps),
        )?;
        self.steps += 1;
        let token = device.run1(
            &Op::Sample {
                temperature: params.temperature,
                top_k: params.top_k,
                top_p: params.top_p,
                min_p: params.min_p,
            },
            &[&logits, &uniform],
        )?;
        Ok(token.to_vec::<i64>()?[0] as u32)
    }

    /// Continues the conversation whose full token sequence is `prompt`: reuses the cached
    /// prefix it shares with earlier turns, runs the rest in one pass, then generates up to
    /// `max_tokens`, calling `on_text` with each complete piece of text.
    pub fn generate(
        &mut self,
        tokenizer: &Tokenizer,
        prompt: &[u32],
        max_tokens: usize,
        params: &SamplingParams,
        stop_strings: &[String],
        on_text: impl FnMut(&str) + Send,
    ) -> Result<GenerationStats> {
        let device = self.model.device().clone();
        device.scoped(|| {
            self.generate_here(tokenizer, prompt, max_tokens, params, stop_strings, on_text)
        })
    }

    fn generate_here(
        &mut self,
        tokenizer: &Tokenizer,
        prompt: &[u32],
        max_tokens: usize,
        params: &SamplingParams,
        stop_strings: &[String],
        mut on_text: impl FnMut(&str),
    ) -> Result<GenerationStats> {
        let shared = self
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        // The last prompt token must run to produce logits, even when all of it is cached.
        let reuse = shared.min(prompt.len().saturating_sub(1));
        if prompt.len() > self.cache.capacity() {
            return Err(LlmError::PromptTooLong {
                prompt_tokens: prompt.len(),
                context: self.cache.capacity(),
            });
        }
        if prompt.len() + max_tokens > self.cache.capacity() {
            return Err(LlmError::ContextFull {
                prompt_tokens: prompt.len(),
                requested: max_tokens,
                context: self.cache.capacity(),
            });
        }
        self.cache.truncate(reuse);
        self.tokens.truncate(reuse);
        let fresh = &prompt[reuse..];
        let started = Instant::now();
        let mut logits = self.model.forward(fresh, &mut self.cache, false)?;
        self.tokens.extend_from_slice(fresh);
        let mut decoder = tokenizer.stream_decoder(true);
        let mut text = String::new();
        let mut generated = 0;
        let mut prefill_time = Duration::ZERO;
        let decode_start;
        let stop = loop {
            let token = self.choose(&logits, params)?;
            if generated == 0 {
                prefill_time = started.elapsed();
            }
            generated += 1;
            if tokenizer.is_end_of_generation(token) && !params.ignore_end_of_generation {
                decode_start = started + prefill_time;
                break StopReason::EndOfGeneration;
            }
            let piece = decoder.push(token)?;
            text.push_str(&piece);
            if let Some(cut) = stop_strings
                .iter()
                .filter_map(|s| text.find(s.as_str()))
                .min()
            {
                // Print only what precedes the stop string.
                let already = text.len() - piece.len();
                if cut > already {
                    on_text(&text[already..cut]);
                }
                decode_start = started + prefill_time;
                break StopReason::StopString;
            }
            on_text(&piece);
            if generated >= max_tokens {
                self.tokens.push(token);
                self.cache_token(token)?;
                decode_start = started + prefill_time;
                break StopReason::MaxTokens;
            }
            logits = self.model.forward(&[token], &mut self.cache, false)?;
            self.tokens.push(token);
        };
        let rest = decoder.finish();
        if stop != StopReason::StopString && !rest.is_empty() {
            on_text(&rest);
        }
        Ok(GenerationStats {
            prompt_tokens: fresh.len(),
            prefill_time,
            generated_tokens: generated,
            decode_time: decode_start.elapsed(),
            stop,
        })
    }

    /// Runs a sampled token through the model so the cache holds it, for the next turn.
    fn cache_token(&mut self, token: u32) -> Result<()> {
        self.model.forward(&[token], &mut self.cache, false)?;
        Ok(())
    }
}
