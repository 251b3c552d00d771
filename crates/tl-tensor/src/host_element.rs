//! Rust element types that map to a plain `DType`, for moving data between host and device.

use half::{bf16, f16};

use crate::DType;

/// A host type whose bytes are exactly the device representation of `DTYPE`.
pub trait HostElement: bytemuck::Pod + Send + Sync + 'static {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(value: f64) -> Self;
}

macro_rules! host_element {
    ($t:ty, $dtype:expr, |$v:ident| $to:expr, |$w:ident| $from:expr) => {
        impl HostElement for $t {
            const DTYPE: DType = $dtype;
            fn to_f64(self) -> f64 {
                let $v = self;
                $to
            }
            fn from_f64(value: f64) -> Self {
                let $w = value;
                $from
            }
        }
    };
}

host_element!(f32, DType::F32, |v| v as f64, |w| w as f32);
host_element!(f16, DType::F16, |v| v.to_f64(), |w| f16::from_f64(w));
host_element!(bf16, DType::BF16, |v| v.to_f64(), |w| bf16::from_f64(w));
host_element!(i32, DType::I32, |v| v as f64, |w| w as i32);
host_element!(i64, DType::I64, |v| v as f64, |w| w as i64);
host_element!(u8, DType::U8, |v| v as f64, |w| w as u8);

/// Decodes little-endian element bytes of a plain dtype into f64 values.
pub fn bytes_to_f64(dtype: DType, bytes: &[u8]) -> Option<Vec<f64>> {
    fn decode<T: HostElement>(bytes: &[u8]) -> Vec<f64> {
        bytes
            .chunks_exact(std::mem::size_of::<T>())
            .map(|c| bytemuck::pod_read_unaligned::<T>(c).to_f64())
            .collect()
    }
    Some(match dtype {
        DType::F32 => decode::<f32>(bytes),
        DType::F16 => decode::<f16>(bytes),
        DType::BF16 => decode::<bf16>(bytes),
        DType::I32 => decode::<i32>(bytes),
        DType::I64 => decode::<i64>(bytes),
        DType::U8 => decode::<u8>(bytes),
        DType::Bool => bytes.iter().map(|&b| (b != 0) as u8 as f64).collect(),
        _ => return None,
    })
}

/// Encodes f64 values as little-endian bytes of a plain dtype (rounding to nearest for
/// floats, truncating toward zero and saturating for integers, `x != 0` for `Bool`).
pub fn f64_to_bytes(dtype: DType, values: &[f64]) -> Option<Vec<u8>> {
    fn encode<T: HostElement>(values: &[f64]) -> Vec<u8> {
        let typed: Vec<T> = values.iter().map(|&v| T::from_f64(v)).collect();
        bytemuck::cast_slice(&typed).to_vec()
    }
    Some(match dtype {
        DType::F32 => encode::<f32>(values),
        DType::F16 => encode::<f16>(values),
        DType::BF16 => encode::<bf16>(values),
        DType::I32 => encode::<i32>(values),
        DType::I64 => encode::<i64>(values),
        DType::U8 => encode::<u8>(values),
        DType::Bool => values.iter().map(|&v| (v != 0.0) as u8).collect(),
        _ => return None,
    })
}
