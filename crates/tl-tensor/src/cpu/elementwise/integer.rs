//! Integer element types (`i32`, `i64`) and the wrapping arithmetic the ops define on them.

pub(crate) trait IntElement: bytemuck::Pod + Ord + Send + Sync + 'static {
    const MIN: Self;
    const MAX: Self;
    const ZERO: Self;
    fn wrapping_add(self, other: Self) -> Self;
    fn wrapping_sub(self, other: Self) -> Self;
    fn wrapping_mul(self, other: Self) -> Self;
    /// Truncating division; division by zero gives 0 (and `MIN / -1` wraps to `MIN`).
    fn division(self, other: Self) -> Self;
    fn wrapping_neg(self) -> Self;
    fn wrapping_abs(self) -> Self;
}

macro_rules! int_element {
    ($t:ty) => {
        impl IntElement for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            const ZERO: Self = 0;
            #[inline(always)]
            fn wrapping_add(self, other: Self) -> Self {
                <$t>::wrapping_add(self, other)
            }
            #[inline(always)]
            fn wrapping_sub(self, other: Self) -> Self {
                <$t>::wrapping_sub(self, other)
            }
            #[inline(always)]
            fn wrapping_mul(self, other: Self) -> Self {
                <$t>::wrapping_mul(self, other)
            }
            #[inline(always)]
            fn division(self, other: Self) -> Self {
                if other == 0 {
                    0
                } else {
                    <$t>::wrapping_div(self, other)
                }
            }
            #[inline(always)]
            fn wrapping_neg(self) -> Self {
                <$t>::wrapping_neg(self)
            }
            #[inline(always)]
            fn wrapping_abs(self) -> Self {
                <$t>::wrapping_abs(self)
            }
        }
    };
}

int_element!(i32);
int_element!(i64);
