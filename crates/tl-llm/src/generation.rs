//! The generation loop: prefill the prompt in one pass, then decode token by token with the
//! KV cache, sampling on the device; streams complete UTF-8 text and reports speeds.
//!
//! On a device that records graphs (CUDA), the decode step is recorded once (after one
//! eager step has loaded every kernel) and replayed for each token. Its inputs live in device
//! memory, so the recording never changes, and each replay leaves the next one's there: the
//! sampler writes its token over the input token, the position advances by one, and the
//! uniform draw comes from a table of draws by position written when a chain of replays
//! starts. The host therefore enqueues a step before it has read the token the step before
//! produced: the device never waits for the host between tokens (steps past a stop are
//! dropped; what they wrote into the cache lies past its length).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tl_tensor::{DType, Op, PendingVec, Recording, Tensor};

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

/// A recorded decode step and its device-resident state.
struct RecordedStep {
    /// The step's input token (`i64 [1]`), overwritten by the token it samples.
    token: Tensor,
    /// The step's cache row (`i32 [1]`), advanced by one by each replay.
    position: Tensor,
    /// The sampler's uniform draw for each cache row (`f32 [capacity]`).
    draws: Tensor,
    /// The 1 added to the position and the index it is written at, kept for the recording.
    _constants: [Tensor; 2],
    recording: Recording,
    /// The sampler's settings are part of the recording.
    params: SamplingParams,
}

/// Replayed steps whose tokens the device has yet to hand over: at most this many run ahead
/// of the host, so that the next is queued while the host reads one.
const STEPS_AHEAD: usize = 2;

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
    /// The recorded step's device state follows the host's: its token and position are the
    /// next step's (a replay keeps this true; an eager step or a dropped replay ends it).
    chained: bool,
    /// Replays enqueued whose tokens are not read yet, oldest first.
    in_flight: VecDeque<PendingVec<i64>>,
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
            chained: false,
            in_flight: VecDeque::new(),
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
                self.chained = false;
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
                self.chained = false;
                self.graph = match self.record(params)? {
                    Some(step) => GraphState::Ready(Box::new(step)),
                    None => GraphState::Off,
                };
            }
        }
        if !self.replays(params) {
            return Ok(None);
        }
        self.enqueue_replay(token, params)?;
        let next = self.collect_replay()?;
        self.steps += 1;
        Ok(Some(next))
    }

    /// Whether the recorded step runs with `params`.
    fn replays(&self, params: &SamplingParams) -> bool {
        matches!(&self.graph, GraphState::Ready(step) if step.params == *params)
            && params.repeat_penalty == 1.0
    }

    /// Enqueues a replay of the recorded step (which must run with `params`) on the token
    /// after the last one enqueued; that is `token` when no replay continues the host's state.
    fn enqueue_replay(&mut self, token: u32, params: &SamplingParams) -> Result<()> {
        let GraphState::Ready(step) = &self.graph else {
            return Err(LlmError::Tensor(tl_tensor::TensorError::bad_argument(
                "decode step",
                "no recorded step to replay",
            )));
        };
        if !self.chained {
            // Only here does the host write the step's state, with nothing in flight.
            let row = self.cache.len();
            step.token.write_slice(&[token as i64])?;
            step.position.write_slice(&[row as i32])?;
            let draws: Vec<f32> = (0..(self.cache.capacity() - row) as u64)
                .map(|i| uniform_draw(params.seed, self.steps + i))
                .collect();
            step.draws
                .narrow(0, row, draws.len())?
                .write_slice(&draws)?;
            self.chained = true;
        }
        step.recording.replay()?;
        self.in_flight.push_back(step.token.to_vec_later::<i64>()?);
        Ok(())
    }

    /// The token of the oldest replay in flight, whose input now counts as cached (the caller
    /// counts its draw as used when it uses the token).
    fn collect_replay(&mut self) -> Result<u32> {
        let pending = self.in_flight.pop_front().ok_or_else(|| {
            tl_tensor::TensorError::bad_argument("decode step", "no replay in flight")
        })?;
        let next = pending.wait()?[0] as u32;
        self.cache.advance(1);
        Ok(next)
    }

    /// Drops the replays in flight (after a stop): the device state no longer follows the
    /// host's.
    fn drop_replays(&mut self) {
        if !self.in_flight.is_empty() {
            self.in_flight.clear();
            self.chained = false;
        }
    }

    /// Records one decode step on device-resident state; `None` where the device cannot.
    fn record(&self, params: &SamplingParams) -> Result<Option<RecordedStep>> {
        let device = self.model.device();
        let token = device.zeros(&[1], DType::I64)?;
        let position = device.zeros(&[1], DType::I32)?;
        let draws = device.zeros(&[self.cache.capacity()], DType::F32)?;
        let one = device.from_slice(&[1i32], &[1])?;
        let at_first = device.from_slice(&[0i32], &[1])?;
        let recorded = device.capture(|| {
            let logits = self
                .model
                .head_logits_at(&token, &position, &self.cache, false)
                .map_err(|e| match e {
                    LlmError::Tensor(e) => e,
                    other => tl_tensor::TensorError::bad_argument("decode step", other.to_string()),
                })?;
            // Greedy sampling reads no draw: a view, where the draw's gather is a kernel.
            let uniform = if params.temperature <= 0.0 {
                draws.narrow(0, 0, 1)?
            } else {
                draws.index_select(0, &position)?
            };
            device.run_into(&sample_op(params), &[&logits, &uniform], &[&token])?;
            let next_position = position.add(&one)?;
            device.run_into(
                &Op::IndexCopy { axis: 0 },
                &[&position, &at_first, &next_position],
                &[&position],
            )
        })?;
        Ok(recorded.map(|(recording, ())| RecordedStep {
            token,
            position,
            draws,
            _constants: [one, at_first],
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
        if prompt.is_empty() {
            return Err(LlmError::EmptyPrompt);
        }
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
        self.drop_replays();
        self.chained = false;
        self.cache.truncate(reuse);
        self.tokens.truncate(reuse);
        let fresh = &prompt[reuse..];
        let started = Instant::now();
        let logits = self.model.forward(fresh, &mut self.cache, false)?;
        self.tokens.extend_from_slice(fresh);
        if max_tokens == 0 {
            // The prompt is read and cached; no token is asked for.
            return Ok(GenerationStats {
                prompt_tokens: fresh.len(),
                prefill_time: started.elapsed(),
                generated_tokens: 0,
                decode_time: Duration::ZERO,
                stop: StopReason::MaxTokens,
            });
        }
        let mut decoder = tokenizer.stream_decoder(true);
        let mut text = String::new();
        let mut generated = 0;
        let mut token = self.choose(&logits, params)?;
        let prefill_time = started.elapsed();
        let decode_start = started + prefill_time;
        let mut decode_time = None;
        let stop = loop {
            generated += 1;
            // Keep the device busy while the host handles this token: the steps after it,
            // up to the one that caches the last token, go ahead of the host.
            if self.replays(params) {
                while self.in_flight.len() < STEPS_AHEAD
                    && generated + self.in_flight.len() <= max_tokens
                {
                    self.cache.ensure_room(self.in_flight.len() + 1)?;
                    self.enqueue_replay(token, params)?;
                }
            }
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
                if self.in_flight.is_empty() {
                    self.cache_token(token)?;
                } else {
                    self.collect_replay()?;
                }
                self.tokens.push(token);
                break StopReason::MaxTokens;
            }
            token = if self.in_flight.is_empty() {
                self.step(token, params)?
            } else {
                let next = self.collect_replay()?;
                self.steps += 1;
                self.tokens.push(token);
                next
            };
        };
        self.drop_replays();
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

fn sample_op(params: &SamplingParams) -> Op {
    Op::Sample {
        temperature: params.temperature,
        top_k: params.top_k,
        top_p: params.top_p,
        min_p: params.min_p,
    }
}

/// `Op::Sample` of `logits [1, vocab]` with the uniform draw `uniform [1]`.
fn sample(
    logits: &Tensor,
    uniform: &Tensor,
    params: &SamplingParams,
) -> std::result::Result<Tensor, tl_tensor::TensorError> {
    logits.device().run1(&sample_op(params), &[logits, uniform])
}
