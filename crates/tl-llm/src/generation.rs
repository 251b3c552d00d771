//! The generation loop: prefill the prompt in one pass, then decode token by token with the
//! KV cache, sampling on the device; streams complete UTF-8 text and reports speeds.
//!
//! On a device that records graphs (CUDA), the decode step is recorded once (after one
//! eager step has loaded every kernel) and replayed for each token: its inputs — token,
//! position and the sampler's uniform draw — live in device memory and are written before
//! each replay, so the recording never changes.

use std::time::{Duration, Instant};

use tl_tensor::{DType, Op, Recording, Tensor};

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

/// A recorded decode step: its device-resident inputs and the token it samples.
struct RecordedStep {
    token: Tensor,
    position: Tensor,
    uniform: Tensor,
    sampled: Tensor,
    recording: Recording,
    /// The sampler's settings are part of the recording.
    params: SamplingParams,
}

enum GraphState {
    /// No decode step has run yet: the first runs eagerly, loading every kernel.
    Cold,
    /// Kernels are loaded; the next step is recorded.
    Warm,
    Ready(Box<RecordedStep>),
    /// The device cannot record, or graphs were turned off.
    Off,
}

/// A conversation's state: the tokens in the KV cache and the cache itself.
pub struct Session<'m> {
    model: &'m LlamaModel,
    cache: KvCache,
    tokens: Vec<u32>,
    steps: u64,
    graph: GraphState,
}

/// The sampler's uniform draw for `step` of a generation seeded with `seed`: a counter-based
/// hash (SplitMix64), so every path — eager or replayed, any device — draws the same value.
fn uniform_draw(seed: u64, step: u64) -> f32 {
    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut z = seed.wrapping_add(step.wrapping_add(1).wrapping_mul(GOLDEN));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 24) as f32
}

impl<'m> Session<'m> {
    pub fn new(model: &'m LlamaModel, context: usize) -> Result<Session<'m>> {
        Ok(Session {
            model,
            cache: model.new_cache(context)?,
            tokens: Vec::new(),
            steps: 0,
            graph: GraphState::Cold,
        })
    }

    /// Turns recorded decode steps (CUDA graphs) off, or back on; they are on by default
    /// wherever the device can record.
    pub fn set_graphs(&mut self, enabled: bool) {
        self.graph = if enabled {
            GraphState::Cold
        } else {
            GraphState::Off
        };
    }

    /// Whether decode steps are being replayed from a recording.
    pub fn uses_graph(&self) -> bool {
        matches!(self.graph, GraphState::Ready(_))
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

    /// Samples one token from `logits` on the device (the repetition penalty applied first).
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
        let uniform = device.from_slice(&[self.draw(params)], &[1])?;
        let token = sample(&logits, &uniform, params)?;
        Ok(token.to_vec::<i64>()?[0] as u32)
    }

    /// The next uniform draw: the same seed replays the same tokens.
    fn draw(&mut self, params: &SamplingParams) -> f32 {
        let draw = uniform_draw(params.seed, self.steps);
        self.steps += 1;
        draw
    }

    /// Runs `token` through the model (appending it to the cache) and samples the next one.
    fn step(&mut self, token: u32, params: &SamplingParams) -> Result<u32> {
        self.cache.ensure_room(1)?;
        let next = match self.replay_step(token, params)? {
            Some(next) => next,
            None => {
                let logits = self.model.forward(&[token], &mut self.cache, false)?;
                self.choose(&logits, params)?
            }
        };
        self.tokens.push(token);
        Ok(next)
    }

    /// The step through the recorded graph, recording it first when due; `None` when this
    /// step runs eagerly (graphs off or unsupported, the first step, a repetition penalty,
    /// whose input changes shape, in use).
    fn replay_step(&mut self, token: u32, params: &SamplingParams) -> Result<Option<u32>> {
        if params.repeat_penalty != 1.0 {
            return Ok(None);
        }
        match &self.graph {
            GraphState::Off => return Ok(None),
            GraphState::Cold => {
                self.graph = GraphState::Warm;
                return Ok(None);
            }
            GraphState::Ready(step) if step.params == *params => {}
            GraphState::Warm | GraphState::Ready(_) => {
                self.graph = match self.record(params)? {
                    Some(step) => GraphState::Ready(Box::new(step)),
                    None => GraphState::Off,
                };
            }
        }
        if !matches!(self.graph, GraphState::Ready(_)) {
            return Ok(None);
        }
        let draw = self.draw(params);
        let GraphState::Ready(step) = &self.graph else {
            return Ok(None);
        };
        step.token.write_slice(&[token as i32])?;
        step.position.write_slice(&[self.cache.len() as i32])?;
        step.uniform.write_slice(&[draw])?;
        step.recording.replay()?;
        let next = step.sampled.to_vec::<i64>()?[0] as u32;
        self.cache.advance(1);
        Ok(Some(next))
    }

    /// Records one decode step on device-resident inputs; `None` where the device cannot.
    fn record(&self, params: &SamplingParams) -> Result<Option<RecordedStep>> {
        let device = self.model.device();
        let token = device.zeros(&[1], DType::I32)?;
        let position = device.zeros(&[1], DType::I32)?;
        let uniform = device.zeros(&[1], DType::F32)?;
        let recorded = device.capture(|| {
            let logits = self
                .model
                .forward_at(&token, &position, &self.cache, false)
                .map_err(|e| match e {
                    LlmError::Tensor(e) => e,
                    other => tl_tensor::TensorError::bad_argument("decode step", other.to_string()),
                })?;
            sample(&logits, &uniform, params)
        })?;
        Ok(recorded.map(|(recording, sampled)| RecordedStep {
            token,
            position,
            uniform,
            sampled,
            recording,
            params: params.clone(),
        }))
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
        let logits = self.model.forward(fresh, &mut self.cache, false)?;
        self.tokens.extend_from_slice(fresh);
        let mut decoder = tokenizer.stream_decoder(true);
        let mut text = String::new();
        let mut generated = 0;
        let mut token = self.choose(&logits, params)?;
        let prefill_time = started.elapsed();
        let decode_start = started + prefill_time;
        let mut decode_time = None;
        let stop = loop {
            generated += 1;
            if tokenizer.is_end_of_generation(token) && !params.ignore_end_of_generation {
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
                break StopReason::StopString;
            }
            on_text(&piece);
            if generated >= max_tokens {
                // The last token's own pass (so that the next turn finds it cached) is not
                // part of producing these tokens.
                decode_time = Some(decode_start.elapsed());
                self.tokens.push(token);
                self.cache_token(token)?;
                break StopReason::MaxTokens;
            }
            token = self.step(token, params)?;
        };
        let rest = decoder.finish();
        if stop != StopReason::StopString && !rest.is_empty() {
            on_text(&rest);
        }
        Ok(GenerationStats {
            prompt_tokens: fresh.len(),
            prefill_time,
            generated_tokens: generated,
            decode_time: decode_time.unwrap_or_else(|| decode_start.elapsed()),
            stop,
        })
    }

    /// Runs a sampled token through the model so the cache holds it, for the next turn.
    fn cache_token(&mut self, token: u32) -> Result<()> {
        self.model.forward(&[token], &mut self.cache, false)?;
        Ok(())
    }
}

/// `Op::Sample` of `logits [1, vocab]` with the uniform draw `uniform [1]`.
fn sample(
    logits: &Tensor,
    uniform: &Tensor,
    params: &SamplingParams,
) -> std::result::Result<Tensor, tl_tensor::TensorError> {
    logits.device().run1(
        &Op::Sample {
            temperature: params.temperature,
            top_k: params.top_k,
            top_p: params.top_p,
            min_p: params.min_p,
        },
        &[logits, uniform],
    )
}
