//! Strided views: a shape, element strides and an element offset into a buffer.
//!
//! Every movement op (reshape, permute, narrow, expand, squeeze, unsqueeze) is a pure function
//! from one `Layout` to another; none copies data. Broadcast dimensions have stride 0.

use crate::error::{Result, TensorError};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

/// Row-major strides of a dense tensor of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut step = 1usize;
    for (stride, &dim) in strides.iter_mut().zip(shape).rev() {
        *stride = step;
        step = step.saturating_mul(dim.max(1));
    }
    strides
}

/// Normalises a possibly negative axis (`-1` is the last axis) against `rank`.
pub fn normalize_axis(op: &str, axis: isize, rank: usize) -> Result<usize> {
    let resolved = if axis < 0 { axis + rank as isize } else { axis };
    if resolved < 0 || resolved as usize >= rank {
        return Err(TensorError::BadAxis {
            op: op.to_string(),
            axis,
            rank,
        });
    }
    Ok(resolved as usize)
}

/// The shape two operands broadcast to (numpy rules: align on the right, size 1 stretches).
pub fn broadcast_shapes(op: &str, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    let rank = lhs.len().max(rhs.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let l = if i + lhs.len() >= rank {
            lhs[i + lhs.len() - rank]
        } else {
            1
        };
        let r = if i + rhs.len() >= rank {
            rhs[i + rhs.len() - rank]
        } else {
            1
        };
        out[i] = match (l, r) {
            (a, b) if a == b => a,
            (1, b) => b,
            (a, 1) => a,
            _ => {
                return Err(TensorError::Broadcast {
                    op: op.to_string(),
                    lhs: lhs.to_vec(),
                    rhs: rhs.to_vec(),
                })
            }
        };
    }
    Ok(out)
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout::contiguous_at(shape, 0)
    }

    pub fn contiguous_at(shape: &[usize], offset: usize) -> Layout {
        Layout {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset,
        }
    }

    /// A layout from raw parts; the caller guarantees every element lies inside its buffer.
    pub fn from_parts(shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Result<Layout> {
        if shape.len() != strides.len() {
            return Err(TensorError::bad_shape(
                "layout",
                &shape,
                format!("{} strides for {} dimensions", strides.len(), shape.len()),
            ));
        }
        Ok(Layout {
            shape,
            strides,
            offset,
        })
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the elements are dense and in row-major order (offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1usize;
        for (&dim, &stride) in self.shape.iter().zip(&self.strides).rev() {
            if dim == 1 {
                continue;
            }
            if stride != expected {
                return self.numel() == 0;
            }
            expected *= dim;
        }
        true
    }

    /// One past the largest element offset this view touches (the buffer length it needs).
    pub fn span_end(&self) -> usize {
        if self.numel() == 0 {
            return self.offset;
        }
        self.offset
            + self
                .shape
                .iter()
                .zip(&self.strides)
                .map(|(&d, &s)| (d - 1) * s)
                .sum::<usize>()
            + 1
    }

    pub fn dim(&self, op: &str, axis: isize) -> Result<usize> {
        Ok(self.shape[normalize_axis(op, axis, self.rank())?])
    }

    /// A view with a new shape over the same elements. Only dense layouts can be reshaped
    /// without a copy; others return `None` and the caller must copy first.
    pub fn reshape(&self, shape: &[usize]) -> Result<Option<Layout>> {
        let numel: usize = shape.iter().product();
        if numel != self.numel() {
            return Err(TensorError::ShapeMismatch {
                op: "reshape".into(),
                lhs: self.shape.clone(),
                rhs: shape.to_vec(),
                detail: format!("{} elements cannot become {}", self.numel(), numel),
            });
        }
        if !self.is_contiguous() {
            return Ok(None);
        }
        Ok(Some(Layout::contiguous_at(shape, self.offset)))
    }

    pub fn permute(&self, dims: &[usize]) -> Result<Layout> {
        let rank = self.rank();
        let mut seen = vec![false; rank];
        if dims.len() != rank
            || dims
                .iter()
                .any(|&d| d >= rank || std::mem::replace(&mut seen[d], true))
        {
            return Err(TensorError::bad_shape(
                "permute",
                &self.shape,
                format!("{dims:?} is not a permutation of the {rank} axes"),
            ));
        }
        Ok(Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        })
    }

    pub fn transpose(&self, a: isize, b: isize) -> Result<Layout> {
        let a = normalize_axis("transpose", a, self.rank())?;
        let b = normalize_axis("transpose", b, self.rank())?;
        let mut dims: Vec<usize> = (0..self.rank()).collect();
        dims.swap(a, b);
        self.permute(&dims)
    }

    /// Elements `start .. start + len` of `axis`.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Layout> {
        let axis = normalize_axis("narrow", axis, self.rank())?;
        let size = self.shape[axis];
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(TensorError::bad_shape(
                "narrow",
                &self.shape,
                format!(
                    "range {start}..{} exceeds axis {axis} of size {size}",
                    start.saturating_add(len)
                ),
            ));
        }
        let mut out = self.clone();
        out.shape[axis] = len;
        // An empty view addresses nothing; keeping its offset keeps it inside the buffer.
        if out.numel() > 0 {
            out.offset += start * self.strides[axis];
        }
        Ok(out)
    }

    /// Broadcasts to `shape` (numpy rules); new and size-1 axes get stride 0.
    pub fn expand(&self, shape: &[usize]) -> Result<Layout> {
        let err = || TensorError::Broadcast {
            op: "expand".into(),
            lhs: self.shape.clone(),
            rhs: shape.to_vec(),
        };
        if shape.len() < self.rank() {
            return Err(err());
        }
        let lead = shape.len() - self.rank();
        let mut strides = vec![0; shape.len()];
        for (i, &target) in shape.iter().enumerate() {
            if i < lead {
                continue;
            }
            let (dim, stride) = (self.shape[i - lead], self.strides[i - lead]);
            strides[i] = if dim == target {
                stride
            } else if dim == 1 {
                0
            } else {
                return Err(err());
            };
        }
        Ok(Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        })
    }

    pub fn squeeze(&self, axis: isize) -> Result<Layout> {
        let axis = normalize_axis("squeeze", axis, self.rank())?;
        if self.shape[axis] != 1 {
            return Err(TensorError::bad_shape(
                "squeeze",
                &self.shape,
                format!("axis {axis} has size {}, not 1", self.shape[axis]),
            ));
        }
        let mut out = self.clone();
        out.shape.remove(axis);
        out.strides.remove(axis);
        Ok(out)
    }

    pub fn unsqueeze(&self, axis: isize) -> Result<Layout> {
        let axis = normalize_axis("unsqueeze", axis, self.rank() + 1)?;
        let mut out = self.clone();
        let stride = if axis < self.rank() {
            self.strides[axis] * self.shape[axis]
        } else {
            1
        };
        out.shape.insert(axis, 1);
        out.strides.insert(axis, stride);
        Ok(out)
    }

    /// The same elements with adjacent axes merged where they are laid out as one (the outer
    /// stride equals the inner extent) and size-1 axes dropped, so dense runs become long
    /// rows. Offsets in row-major order are unchanged. An empty view becomes `[0]`.
    pub fn coalesced(&self) -> Layout {
        if self.numel() == 0 {
            return Layout::contiguous_at(&[0], self.offset);
        }
        let mut shape: Vec<usize> = Vec::new();
        let mut strides: Vec<usize> = Vec::new();
        for (&dim, &stride) in self.shape.iter().zip(&self.strides) {
            if dim == 1 {
                continue;
            }
            match (shape.last_mut(), strides.last_mut()) {
                (Some(last_dim), Some(last_stride)) if *last_stride == stride * dim => {
                    *last_dim *= dim;
                    *last_stride = stride;
                }
                _ => {
                    shape.push(dim);
                    strides.push(stride);
                }
            }
        }
        Layout {
            shape,
            strides,
            offset: self.offset,
        }
    }

    /// The same view in bytes of `dtype`: one trailing axis holds the bytes of an element
    /// (of a block, for quantized dtypes, whose last axis then counts blocks).
    pub fn byte_view(&self, dtype: crate::DType) -> Layout {
        let (block, bytes) = (dtype.block_size(), dtype.block_bytes());
        let mut shape = self.shape.clone();
        let mut strides: Vec<usize> = self.strides.iter().map(|&s| s / block * bytes).collect();
        if let (Some(last), true) = (shape.last_mut(), block > 1) {
            *last /= block;
            *strides.last_mut().expect("rank > 0") = bytes;
        }
        shape.push(bytes);
        strides.push(1);
        Layout {
            shape,
            strides,
            offset: self.offset / block * bytes,
        }
    }

    /// Element offsets in row-major order of the logical index.
    pub fn offsets(&self) -> StridedOffsets<'_> {
        StridedOffsets::new(self)
    }

    /// The element offset of a logical multi-index.
    pub fn offset_of(&self, index: &[usize]) -> usize {
        self.offset
            + index
                .iter()
                .zip(&self.strides)
                .map(|(&i, &s)| i * s)
                .sum::<usize>()
    }
}

/// Iterates the buffer offsets of a strided view in logical row-major order.
pub struct StridedOffsets<'a> {
    layout: &'a Layout,
    index: Vec<usize>,
    next: Option<usize>,
}

impl<'a> StridedOffsets<'a> {
    fn new(layout: &'a Layout) -> Self {
        let next = (layout.numel() > 0).then_some(layout.offset);
        StridedOffsets {
            layout,
            index: vec![0; layout.rank()],
            next,
        }
    }
}

impl Iterator for StridedOffsets<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let current = self.next?;
        let mut offset = current;
        let mut axis = self.layout.rank();
        loop {
            if axis == 0 {
                self.next = None;
                break;
            }
            axis -= 1;
            self.index[axis] += 1;
            offset += self.layout.strides[axis];
            if self.index[axis] < self.layout.shape[axis] {
                self.next = Some(offset);
                break;
            }
            offset -= self.layout.strides[axis] * self.index[axis];
            self.index[axis] = 0;
        }
        Some(current)
    }
}
