//! Fitting a prompt into the context before generation: by default a prompt that leaves no
//! room is an error; on request ([`PromptOverflow::KeepLast`]) only its last tokens are kept.

use crate::error::{LlmError, Result};

/// What to do with a prompt that does not leave room for the tokens to generate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PromptOverflow {
    /// Fail with [`LlmError::PromptTooLong`] (the prompt alone is too long) or
    /// [`LlmError::ContextFull`] (the prompt fits, but not with `max_tokens` more).
    #[default]
    Error,
    /// Keep the first `keep_first` tokens (a BOS token, say) and as many of the last tokens
    /// as leave room for `max_tokens`; drop the middle.
    KeepLast { keep_first: usize },
}

/// The tokens of `prompt` to run in a context of `context` tokens so that `max_tokens` more
/// fit after them.
pub fn fit_prompt(
    prompt: &[u32],
    context: usize,
    max_tokens: usize,
    overflow: PromptOverflow,
) -> Result<Vec<u32>> {
    if prompt.len() + max_tokens <= context {
        return Ok(prompt.to_vec());
    }
    let keep_first = match overflow {
        PromptOverflow::Error if prompt.len() > context => {
            return Err(LlmError::PromptTooLong {
                prompt_tokens: prompt.len(),
                context,
            })
        }
        PromptOverflow::Error => {
            return Err(LlmError::ContextFull {
                prompt_tokens: prompt.len(),
                requested: max_tokens,
                context,
            })
        }
        PromptOverflow::KeepLast { keep_first } => keep_first.min(prompt.len()),
    };
    // At least one prompt token beyond the kept head must remain to continue from.
    let room = context.saturating_sub(max_tokens);
    if room <= keep_first {
        return Err(LlmError::ContextFull {
            prompt_tokens: keep_first + 1,
            requested: max_tokens,
            context,
        });
    }
    let tail = room - keep_first;
    let mut kept = prompt[..keep_first].to_vec();
    kept.extend_from_slice(&prompt[prompt.len() - tail..]);
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_that_fits_is_kept_whole() {
        let prompt = [1, 2, 3];
        assert_eq!(
            fit_prompt(&prompt, 8, 5, PromptOverflow::Error).unwrap(),
            prompt
        );
    }

    #[test]
    fn a_prompt_longer_than_the_context_is_an_error_naming_both_sizes() {
        let prompt: Vec<u32> = (0..10).collect();
        let error = fit_prompt(&prompt, 8, 2, PromptOverflow::Error).unwrap_err();
        assert!(matches!(
            error,
            LlmError::PromptTooLong {
                prompt_tokens: 10,
                context: 8
            }
        ));
        let message = error.to_string();
        assert!(
            message.contains("10 tokens") && message.contains("holds 8"),
            "{message}"
        );
        assert!(message.contains("--truncate-prompt"), "{message}");
    }

    #[test]
    fn a_prompt_without_room_to_generate_is_a_context_error() {
        let prompt: Vec<u32> = (0..6).collect();
        assert!(matches!(
            fit_prompt(&prompt, 8, 4, PromptOverflow::Error),
            Err(LlmError::ContextFull {
                prompt_tokens: 6,
                requested: 4,
                context: 8
            })
        ));
    }

    #[test]
    fn truncation_keeps_the_head_and_the_last_tokens() {
        let prompt: Vec<u32> = (0..20).collect();
        let kept = fit_prompt(&prompt, 8, 3, PromptOverflow::KeepLast { keep_first: 1 }).unwrap();
        assert_eq!(kept, vec![0, 16, 17, 18, 19]);
        let kept = fit_prompt(&prompt, 8, 3, PromptOverflow::KeepLast { keep_first: 0 }).unwrap();
        assert_eq!(kept, vec![15, 16, 17, 18, 19]);
    }

    #[test]
    fn truncation_cannot_make_room_that_the_context_lacks() {
        let prompt: Vec<u32> = (0..20).collect();
        assert!(matches!(
            fit_prompt(&prompt, 8, 8, PromptOverflow::KeepLast { keep_first: 0 }),
            Err(LlmError::ContextFull { .. })
        ));
        assert!(matches!(
            fit_prompt(&prompt, 8, 7, PromptOverflow::KeepLast { keep_first: 1 }),
            Err(LlmError::ContextFull { .. })
        ));
    }
}
