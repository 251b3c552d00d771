//! The KV cache: per layer, keys and values preallocated for the whole context as
//! `[capacity, n_kv_heads, head_dim]` and written in place at positions held on the device,
//! so a decode step does the same work whatever its position (and can be replayed as a
//! recorded graph).

use tl_tensor::{DType, Device, Op, RopeStyle, Tensor};

use crate::error::{LlmError, Result};
use crate::model_config::ModelConfig;

pub struct KvCache {
    keys: Vec<Tensor>,
    values: Vec<Tensor>,
    len: usize,
    capacity: usize,
}

impl KvCache {
    pub fn new(
        config: &ModelConfig,
        device: &Device,
        dtype: DType,
        capacity: usize,
    ) -> Result<KvCache> {
        let shape = [capacity, config.n_kv_heads, config.head_dim];
        let layer = || device.zeros(&shape, dtype);
        Ok(KvCache {
            keys: (0..config.n_layers)
                .map(|_| layer())
                .collect::<Result<_, _>>()?,
            values: (0..config.n_layers)
                .map(|_| layer())
                .collect::<Result<_, _>>()?,
            len: 0,
            capacity,
        })
    }

    /// Tokens cached so far (the position of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forgets everything after the first `len` tokens (the next write starts there).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Fails unless `extra` more tokens fit.
    pub fn ensure_room(&self, extra: usize) -> Result<()> {
        if self.len + extra > self.capacity {
            return Err(LlmError::ContextFull {
                prompt_tokens: self.len,
                requested: extra,
                context: self.capacity,
            });
        }
        Ok(())
    }

    /// Writes this step's `[n, n_kv_heads, head_dim]` keys and values of `layer` at rows
    /// `positions [n]` and returns the whole cache of the layer, `[capacity, n_kv, head_dim]`
    /// (attention reads it only up to the positions).
    pub fn write(
        &self,
        layer: usize,
        positions: &Tensor,
        keys: &Tensor,
        values: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        for (cache, new) in [(&self.keys[layer], keys), (&self.values[layer], values)] {
            let new = new.cast(cache.dtype())?;
            cache.device().run_into(
                &Op::IndexCopy { axis: 0 },
                &[cache, positions, &new],
                &[cache],
            )?;
        }
        Ok((self.keys[layer].clone(), self.values[layer].clone()))
    }

    /// One attention step of `layer` (`Op::RopeAttention`, the caches updated in place):
    /// `q [n, heads, dim]` and `k [n, kv_heads, dim]` rotated by `rope` (style, base,
    /// position scale) at `positions`, their keys and values `v` written at those rows, and
    /// the attention of the queries over the cache up to their positions, `[n, heads, dim]`.
    #[allow(clippy::too_many_arguments)]
    pub fn attend(
        &self,
        layer: usize,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        positions: &Tensor,
        (style, base, position_scale): (RopeStyle, f64, f64),
        scale: f64,
    ) -> Result<Tensor> {
        let (keys, values) = (&self.keys[layer], &self.values[layer]);
        let dtype = keys.dtype();
        let (q, k, v) = (q.cast(dtype)?, k.cast(dtype)?, v.cast(dtype)?);
        let device = keys.device();
        let out = device.empty(&[q.shape()[0], q.shape()[1], v.shape()[2]], dtype)?;
        device.run_into(
            &Op::RopeAttention {
                style,
                base,
                position_scale,
                scale,
            },
            &[&q, &k, &v, keys, values, positions],
            &[&out, keys, values],
        )?;
        Ok(out)
    }

    /// Marks `n` more tokens as cached, after every layer appended them.
    pub fn advance(&mut self, n: usize) {
        self.len += n;
    }
}
