//! GGUF metadata values: the thirteen value types, arrays included, and their names.

use std::fmt;

/// The value type codes GGUF writes before each metadata value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GgufValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl GgufValueType {
    pub fn from_code(code: u32) -> Option<GgufValueType> {
        use GgufValueType::*;
        Some(match code {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// The fewest bytes one value of this type occupies in a file; bounds pre-allocation.
    pub fn min_encoded_bytes(self) -> usize {
        use GgufValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 | String => 8,
            // element type (4) + count (8)
            Array => 12,
        }
    }

    pub fn name(self) -> &'static str {
        use GgufValueType::*;
        match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        }
    }
}

/// One metadata value. Arrays may nest and may hold strings.
#[derive(Clone, Debug, PartialEq)]
pub enum MetadataValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(MetadataArray),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// An array with its declared element type (kept so an empty array still says what it holds).
#[derive(Clone, Debug, PartialEq)]
pub struct MetadataArray {
    pub element_type: GgufValueType,
    pub values: Vec<MetadataValue>,
}

impl MetadataValue {
    pub fn value_type(&self) -> GgufValueType {
        use MetadataValue::*;
        match self {
            U8(_) => GgufValueType::U8,
            I8(_) => GgufValueType::I8,
            U16(_) => GgufValueType::U16,
            I16(_) => GgufValueType::I16,
            U32(_) => GgufValueType::U32,
            I32(_) => GgufValueType::I32,
            F32(_) => GgufValueType::F32,
            Bool(_) => GgufValueType::Bool,
            String(_) => GgufValueType::String,
            Array(_) => GgufValueType::Array,
            U64(_) => GgufValueType::U64,
            I64(_) => GgufValueType::I64,
            F64(_) => GgufValueType::F64,
        }
    }

    /// A description for error messages, such as `u32` or `array of 3 string`.
    pub fn type_description(&self) -> String {
        match self {
            MetadataValue::Array(array) => format!(
                "array of {} {}",
                array.values.len(),
                array.element_type.name()
            ),
            other => other.value_type().name().to_string(),
        }
    }

    /// The value as a signed integer when it is any integer type (never from floats or bools).
    pub fn as_i128(&self) -> Option<i128> {
        use MetadataValue::*;
        Some(match *self {
            U8(v) => v.into(),
            I8(v) => v.into(),
            U16(v) => v.into(),
            I16(v) => v.into(),
            U32(v) => v.into(),
            I32(v) => v.into(),
            U64(v) => v.into(),
            I64(v) => v.into(),
            _ => return None,
        })
    }

    /// The value as a float when it is a float or an integer.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetadataValue::F32(v) => Some(v.into()),
            MetadataValue::F64(v) => Some(v),
            _ => self.as_i128().map(|v| v as f64),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetadataValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&MetadataArray> {
        match self {
            MetadataValue::Array(a) => Some(a),
            _ => None,
        }
    }
}

impl fmt::Display for MetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MetadataValue::*;
        match self {
            U8(v) => write!(f, "{v}"),
            I8(v) => write!(f, "{v}"),
            U16(v) => write!(f, "{v}"),
            I16(v) => write!(f, "{v}"),
            U32(v) => write!(f, "{v}"),
            I32(v) => write!(f, "{v}"),
            F32(v) => write!(f, "{v}"),
            Bool(v) => write!(f, "{v}"),
            String(v) => write!(f, "{v:?}"),
            U64(v) => write!(f, "{v}"),
            I64(v) => write!(f, "{v}"),
            F64(v) => write!(f, "{v}"),
            Array(a) => {
                const SHOWN: usize = 8;
                write!(f, "[")?;
                for (i, v) in a.values.iter().take(SHOWN).enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                if a.values.len() > SHOWN {
                    write!(f, ", … ({} in all)", a.values.len())?;
                }
                write!(f, "]")
            }
        }
    }
}
