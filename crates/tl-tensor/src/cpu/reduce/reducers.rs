//! What each reduction accumulates: per output along runs of its reduced elements
//! ([`Reducer`]), or for a block of neighbouring outputs at once ([`ColumnReducer`]).

use std::marker::PhantomData;

use super::super::element::FloatElement;
use super::super::elementwise::integer::IntElement;
use super::super::elementwise::math;
use super::super::elementwise::widen::{Widen, BLOCK};

/// Independent f32 accumulators per vectorised loop (four SSE or two AVX registers).
const LANES: usize = 16;

/// A reduction of one output's elements, fed as runs in their fixed order; partial results
/// of consecutive pieces are merged with `combine` (earlier piece first).
pub(super) trait Reducer: Sync {
    type In: bytemuck::Pod + Sync;
    type Out: bytemuck::Pod + Send;
    type Acc: Copy + Send + Sync;
    fn start(&self, output: usize) -> Self::Acc;
    /// Adds element `x`, whose index along the reduced elements is `index`.
    fn step(&self, acc: &mut Self::Acc, x: Self::In, index: usize);
    /// Adds a contiguous run whose first element has index `first`.
    fn run(&self, acc: &mut Self::Acc, xs: &[Self::In], first: usize) {
        for (i, &x) in xs.iter().enumerate() {
            self.step(acc, x, first + i);
        }
    }
    fn combine(&self, earlier: Self::Acc, later: Self::Acc) -> Self::Acc;
    fn finish(&self, acc: Self::Acc, n: usize) -> Self::Out;
}

/// A reduction accumulated for many outputs side by side (one accumulator per output), so
/// the loop runs across contiguous outputs and vectorises.
pub(super) trait ColumnReducer: Sync {
    type In: bytemuck::Pod + Sync;
    type Out: bytemuck::Pod + Send;
    type Acc: Copy + Send + Sync;
    fn start(&self) -> Self::Acc;
    fn step(&self, acc: Self::Acc, x: Self::In) -> Self::Acc;
    /// Merges the accumulators of two consecutive ranges of reduced elements.
    fn merge(&self, earlier: Self::Acc, later: Self::Acc) -> Self::Acc;
    fn finish(&self, acc: Self::Acc, n: usize) -> Self::Out;
}

/// `f64` sum of `f(x)` over a run: each block of `BLOCK` elements is widened to f32 and
/// summed in f32 lanes (each lane adds only `BLOCK / LANES` values, so long sums keep
/// f64-like accuracy), and the block sums are added in f64.
#[inline(always)]
fn blocked_sum<T: Widen>(xs: &[T], f: impl Fn(f32) -> f32) -> f64 {
    let mut buf = [0.0f32; BLOCK];
    let mut total = 0.0f64;
    for block in xs.chunks(BLOCK) {
        let block = T::widen(block, &mut buf);
        let mut lanes = [0.0f32; LANES];
        let mut groups = block.chunks_exact(LANES);
        for group in &mut groups {
            for (lane, &x) in lanes.iter_mut().zip(group) {
                *lane += f(x);
            }
        }
        let tail: f32 = groups.remainder().iter().map(|&x| f(x)).sum();
        total += lanes.iter().map(|&l| l as f64).sum::<f64>() + tail as f64;
    }
    total
}

/// The larger (`MAX`) or smaller of two values; NaN wins from either side and then sticks.
#[inline(always)]
fn extreme<const MAX: bool>(kept: f32, x: f32) -> f32 {
    let keep = if MAX { kept > x } else { kept < x };
    if keep || kept.is_nan() {
        kept
    } else {
        x
    }
}

/// Sum (or mean) of floats, accumulated in f64 (f32 lanes within short blocks).
pub(super) struct FloatSum<T, O> {
    mean: bool,
    types: PhantomData<fn() -> (T, O)>,
}

impl<T, O> FloatSum<T, O> {
    pub(super) fn new(mean: bool) -> Self {
        FloatSum {
            mean,
            types: PhantomData,
        }
    }

    fn result(&self, sum: f64, n: usize) -> f32 {
        // The mean of nothing is 0/0 = NaN.
        (if self.mean { sum / n as f64 } else { sum }) as f32
    }
}

impl<T: Widen, O: FloatElement> Reducer for FloatSum<T, O> {
    type In = T;
    type Out = O;
    type Acc = f64;
    fn start(&self, _output: usize) -> f64 {
        0.0
    }
    #[inline(always)]
    fn step(&self, acc: &mut f64, x: T, _index: usize) {
        *acc += x.to_f32() as f64;
    }
    fn run(&self, acc: &mut f64, xs: &[T], _first: usize) {
        *acc += blocked_sum(xs, |x| x);
    }
    fn combine(&self, earlier: f64, later: f64) -> f64 {
        earlier + later
    }
    fn finish(&self, acc: f64, n: usize) -> O {
        O::from_f32(self.result(acc, n))
    }
}

impl<T: FloatElement, O: FloatElement> ColumnReducer for FloatSum<T, O> {
    type In = T;
    type Out = O;
    type Acc = f64;
    fn start(&self) -> f64 {
        0.0
    }
    #[inline(always)]
    fn step(&self, acc: f64, x: T) -> f64 {
        acc + x.to_f32() as f64
    }
    fn merge(&self, earlier: f64, later: f64) -> f64 {
        earlier + later
    }
    fn finish(&self, acc: f64, n: usize) -> O {
        O::from_f32(self.result(acc, n))
    }
}

/// Maximum (`MAX`) or minimum of floats; NaN if any element is NaN.
pub(super) struct FloatExtreme<T, O, const MAX: bool>(PhantomData<fn() -> (T, O)>);

impl<T, O, const MAX: bool> FloatExtreme<T, O, MAX> {
    pub(super) fn new() -> Self {
        FloatExtreme(PhantomData)
    }

    fn identity() -> f32 {
        if MAX {
            f32::NEG_INFINITY
        } else {
            f32::INFINITY
        }
    }
}

impl<T: Widen, O: FloatElement, const MAX: bool> Reducer for FloatExtreme<T, O, MAX> {
    type In = T;
    type Out = O;
    type Acc = f32;
    fn start(&self, _output: usize) -> f32 {
        Self::identity()
    }
    #[inline(always)]
    fn step(&self, acc: &mut f32, x: T, _index: usize) {
        *acc = extreme::<MAX>(*acc, x.to_f32());
    }
    fn run(&self, acc: &mut f32, xs: &[T], _first: usize) {
        let mut buf = [0.0f32; BLOCK];
        let mut lanes = [*acc; LANES];
        let mut rest = *acc;
        for block in xs.chunks(BLOCK) {
            let block = T::widen(block, &mut buf);
            let mut groups = block.chunks_exact(LANES);
            for group in &mut groups {
                for (lane, &x) in lanes.iter_mut().zip(group) {
                    *lane = extreme::<MAX>(*lane, x);
                }
            }
            rest = groups
                .remainder()
                .iter()
                .fold(rest, |m, &x| extreme::<MAX>(m, x));
        }
        *acc = lanes.into_iter().fold(rest, extreme::<MAX>);
    }
    fn combine(&self, earlier: f32, later: f32) -> f32 {
        extreme::<MAX>(earlier, later)
    }
    fn finish(&self, acc: f32, _n: usize) -> O {
        O::from_f32(acc)
    }
}

impl<T: FloatElement, O: FloatElement, const MAX: bool> ColumnReducer for FloatExtreme<T, O, MAX> {
    type In = T;
    type Out = O;
    type Acc = f32;
    fn start(&self) -> f32 {
        Self::identity()
    }
    #[inline(always)]
    fn step(&self, acc: f32, x: T) -> f32 {
        extreme::<MAX>(acc, x.to_f32())
    }
    fn merge(&self, earlier: f32, later: f32) -> f32 {
        extreme::<MAX>(earlier, later)
    }
    fn finish(&self, acc: f32, _n: usize) -> O {
        O::from_f32(acc)
    }
}

/// The second pass of log-sum-exp: `Σ exp(x − m)` with each output's maximum `m` from the
/// first pass, then `m + ln Σ`.
pub(super) struct SumExp<'a, T> {
    shifts: &'a [f32],
    types: PhantomData<fn() -> T>,
}

impl<'a, T> SumExp<'a, T> {
    pub(super) fn new(shifts: &'a [f32]) -> Self {
        SumExp {
            shifts,
            types: PhantomData,
        }
    }
}

impl<T: Widen> Reducer for SumExp<'_, T> {
    type In = T;
    type Out = T;
    /// The output's shift and the running sum.
    type Acc = (f32, f64);
    fn start(&self, output: usize) -> (f32, f64) {
        (self.shifts.get(output).copied().unwrap_or(f32::NAN), 0.0)
    }
    #[inline(always)]
    fn step(&self, acc: &mut (f32, f64), x: T, _index: usize) {
        acc.1 += math::exp(x.to_f32() - acc.0) as f64;
    }
    fn run(&self, acc: &mut (f32, f64), xs: &[T], _first: usize) {
        let shift = acc.0;
        acc.1 += blocked_sum(xs, |x| math::exp(x - shift));
    }
    fn combine(&self, earlier: (f32, f64), later: (f32, f64)) -> (f32, f64) {
        (earlier.0, earlier.1 + later.1)
    }
    fn finish(&self, (shift, sum): (f32, f64), _n: usize) -> T {
        // An empty or all −∞ input has maximum −∞ (result −∞); a +∞ or NaN maximum is the
        // result itself (the shifted sum would be NaN).
        if !shift.is_finite() {
            return T::from_f32(shift);
        }
        T::from_f32((shift as f64 + sum.ln()) as f32)
    }
}

/// Wrapping sum of integers.
pub(super) struct IntSum<I>(PhantomData<fn() -> I>);

impl<I> IntSum<I> {
    pub(super) fn new() -> Self {
        IntSum(PhantomData)
    }
}

impl<I: IntElement> Reducer for IntSum<I> {
    type In = I;
    type Out = I;
    type Acc = I;
    fn start(&self, _output: usize) -> I {
        I::ZERO
    }
    #[inline(always)]
    fn step(&self, acc: &mut I, x: I, _index: usize) {
        *acc = acc.wrapping_add(x);
    }
    fn run(&self, acc: &mut I, xs: &[I], _first: usize) {
        *acc = xs.iter().fold(*acc, |s, &x| s.wrapping_add(x));
    }
    fn combine(&self, earlier: I, later: I) -> I {
        earlier.wrapping_add(later)
    }
    fn finish(&self, acc: I, _n: usize) -> I {
        acc
    }
}

impl<I: IntElement> ColumnReducer for IntSum<I> {
    type In = I;
    type Out = I;
    type Acc = I;
    fn start(&self) -> I {
        I::ZERO
    }
    #[inline(always)]
    fn step(&self, acc: I, x: I) -> I {
        acc.wrapping_add(x)
    }
    fn merge(&self, earlier: I, later: I) -> I {
        earlier.wrapping_add(later)
    }
    fn finish(&self, acc: I, _n: usize) -> I {
        acc
    }
}

/// Maximum (`MAX`) or minimum of integers.
pub(super) struct IntExtreme<I, const MAX: bool>(PhantomData<fn() -> I>);

impl<I: IntElement, const MAX: bool> IntExtreme<I, MAX> {
    pub(super) fn new() -> Self {
        IntExtreme(PhantomData)
    }

    #[inline(always)]
    fn pick(a: I, b: I) -> I {
        if MAX {
            a.max(b)
        } else {
            a.min(b)
        }
    }

    fn identity() -> I {
        if MAX {
            I::MIN
        } else {
            I::MAX
        }
    }
}

impl<I: IntElement, const MAX: bool> Reducer for IntExtreme<I, MAX> {
    type In = I;
    type Out = I;
    type Acc = I;
    fn start(&self, _output: usize) -> I {
        Self::identity()
    }
    #[inline(always)]
    fn step(&self, acc: &mut I, x: I, _index: usize) {
        *acc = Self::pick(*acc, x);
    }
    fn run(&self, acc: &mut I, xs: &[I], _first: usize) {
        *acc = xs.iter().fold(*acc, |m, &x| Self::pick(m, x));
    }
    fn combine(&self, earlier: I, later: I) -> I {
        Self::pick(earlier, later)
    }
    fn finish(&self, acc: I, _n: usize) -> I {
        acc
    }
}

impl<I: IntElement, const MAX: bool> ColumnReducer for IntExtreme<I, MAX> {
    type In = I;
    type Out = I;
    type Acc = I;
    fn start(&self) -> I {
        Self::identity()
    }
    #[inline(always)]
    fn step(&self, acc: I, x: I) -> I {
        Self::pick(acc, x)
    }
    fn merge(&self, earlier: I, later: I) -> I {
        Self::pick(earlier, later)
    }
    fn finish(&self, acc: I, _n: usize) -> I {
        acc
    }
}

/// The best value seen so far and its index (`None` before the first element).
type Best<K> = Option<(K, usize)>;

/// Index of the first maximum (`MAX`) or minimum of floats; a NaN beats every number (as
/// in numpy and PyTorch), so the first NaN's index is the answer when there is one.
pub(super) struct FloatArg<T, const MAX: bool>(PhantomData<fn() -> T>);

impl<T, const MAX: bool> FloatArg<T, MAX> {
    pub(super) fn new() -> Self {
        FloatArg(PhantomData)
    }

    #[inline(always)]
    fn beats(x: f32, best: f32) -> bool {
        let better = if MAX { x > best } else { x < best };
        better || (x.is_nan() && !best.is_nan())
    }
}

impl<T: FloatElement, const MAX: bool> Reducer for FloatArg<T, MAX> {
    type In = T;
    type Out = i64;
    type Acc = Best<f32>;
    fn start(&self, _output: usize) -> Best<f32> {
        None
    }
    #[inline(always)]
    fn step(&self, acc: &mut Best<f32>, x: T, index: usize) {
        let x = x.to_f32();
        match acc {
            Some((best, _)) if !Self::beats(x, *best) => {}
            _ => *acc = Some((x, index)),
        }
    }
    fn combine(&self, earlier: Best<f32>, later: Best<f32>) -> Best<f32> {
        match (earlier, later) {
            (Some((a, _)), Some((b, _))) if Self::beats(b, a) => later,
            (None, _) => later,
            _ => earlier,
        }
    }
    fn finish(&self, acc: Best<f32>, _n: usize) -> i64 {
        acc.map_or(-1, |(_, index)| index as i64)
    }
}

/// Index of the first maximum (`MAX`) or minimum of integers.
pub(super) struct IntArg<I, const MAX: bool>(PhantomData<fn() -> I>);

impl<I, const MAX: bool> IntArg<I, MAX> {
    pub(super) fn new() -> Self {
        IntArg(PhantomData)
    }
}

impl<I: IntElement, const MAX: bool> IntArg<I, MAX> {
    #[inline(always)]
    fn beats(x: I, best: I) -> bool {
        if MAX {
            x > best
        } else {
            x < best
        }
    }
}

impl<I: IntElement, const MAX: bool> Reducer for IntArg<I, MAX> {
    type In = I;
    type Out = i64;
    type Acc = Best<I>;
    fn start(&self, _output: usize) -> Best<I> {
        None
    }
    #[inline(always)]
    fn step(&self, acc: &mut Best<I>, x: I, index: usize) {
        match acc {
            Some((best, _)) if !Self::beats(x, *best) => {}
            _ => *acc = Some((x, index)),
        }
    }
    fn combine(&self, earlier: Best<I>, later: Best<I>) -> Best<I> {
        match (earlier, later) {
            (Some((a, _)), Some((b, _))) if Self::beats(b, a) => later,
            (None, _) => later,
            _ => earlier,
        }
    }
    fn finish(&self, acc: Best<I>, _n: usize) -> i64 {
        acc.map_or(-1, |(_, index)| index as i64)
    }
}
