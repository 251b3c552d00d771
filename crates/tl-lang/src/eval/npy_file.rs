//! The `.npy` format (numpy's single-array file): reading any little-endian numeric array
//! as f32 and writing f32 arrays (format version 1.0).

/// A decoded `.npy` array, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// The header: element type, order and shape, and where the data start.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
    data_start: usize,
}

fn header_value<'a>(header: &'a str, key: &str) -> Result<&'a str, String> {
    let start = header
        .find(&format!("'{key}'"))
        .ok_or_else(|| format!("the header has no '{key}'"))?;
    let rest = &header[start + key.len() + 2..];
    let colon = rest.find(':').ok_or("a malformed header")?;
    Ok(rest[colon + 1..].trim_start())
}

fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let major = bytes[6];
    let (length, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("a truncated header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        other => return Err(format!("unsupported .npy version {other}")),
    };
    let end = start
        .checked_add(length)
        .filter(|&e| e <= bytes.len())
        .ok_or("a truncated header")?;
    let header =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| "a header that is not text")?;
    let descr_text = header_value(header, "descr")?;
    let descr = descr_text
        .strip_prefix('\'')
        .and_then(|s| s.split('\'').next())
        .ok_or("a malformed 'descr'")?
        .to_string();
    let fortran_order = header_value(header, "fortran_order")?.starts_with("True");
    let shape_text = header_value(header, "shape")?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("a malformed 'shape'")?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("a bad dimension `{s}`"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Header {
        descr,
        fortran_order,
        shape,
        data_start: end,
    })
}

/// The shape stored in a `.npy` file's header.
pub fn npy_shape(bytes: &[u8]) -> Result<Vec<usize>, String> {
    Ok(parse_header(bytes)?.shape)
}

fn decode<const N: usize>(data: &[u8], count: usize, f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
    data.chunks_exact(N)
        .take(count)
        .map(|c| f(c.try_into().unwrap_or([0; N])))
        .collect()
}

/// Decodes a whole `.npy` file into f32 (integers and booleans are converted).
pub fn read_npy(bytes: &[u8]) -> Result<NpyArray, String> {
    let header = parse_header(bytes)?;
    let count: usize = header.shape.iter().product();
    let data = &bytes[header.data_start..];
    let descr = header.descr.as_str();
    if descr.starts_with('>') {
        return Err(format!("big-endian arrays ({descr}) are not supported"));
    }
    let kind = descr.trim_start_matches(['<', '|', '=']);
    let width = match kind {
        "f4" | "i4" | "u4" => 4,
        "f8" | "i8" | "u8" => 8,
        "f2" | "i2" | "u2" => 2,
        "i1" | "u1" | "b1" => 1,
        _ => return Err(format!("unsupported element type `{descr}`")),
    };
    if data.len() < count * width {
        return Err(format!(
            "the data hold {} bytes but shape {:?} of {descr} needs {}",
            data.len(),
            header.shape,
            count * width
        ));
    }
    let values = match kind {
        "f4" => decode(data, count, f32::from_le_bytes),
        "f8" => decode(data, count, |b| f64::from_le_bytes(b) as f32),
        "f2" => decode(data, count, |b| half::f16::from_le_bytes(b).to_f32()),
        "i4" => decode(data, count, |b| i32::from_le_bytes(b) as f32),
        "u4" => decode(data, count, |b| u32::from_le_bytes(b) as f32),
        "i8" => decode(data, count, |b| i64::from_le_bytes(b) as f32),
        "u8" => decode(data, count, |b| u64::from_le_bytes(b) as f32),
        "i2" => decode(data, count, |b| i16::from_le_bytes(b) as f32),
        "u2" => decode(data, count, |b| u16::from_le_bytes(b) as f32),
        "i1" => decode(data, count, |b: [u8; 1]| b[0] as i8 as f32),
        _ => decode(data, count, |b: [u8; 1]| b[0] as f32),
    };
    let data = if header.fortran_order && header.shape.len() > 1 {
        transpose_fortran(&values, &header.shape)
    } else {
        values
    };
    Ok(NpyArray {
        shape: header.shape,
        data,
    })
}

/// Reorders column-major data into row-major (a file operation, once per load).
fn transpose_fortran(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let rank = shape.len();
    let mut out = vec![0f32; values.len()];
    let mut index = vec![0usize; rank];
    for value in out.iter_mut() {
        let mut fortran_offset = 0;
        for axis in (0..rank).rev() {
            fortran_offset = fortran_offset * shape[axis] + index[axis];
        }
        *value = values[fortran_offset];
        for axis in (0..rank).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// Encodes f32 data of `shape` as a version 1.0 `.npy` file.
pub fn write_npy(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let shape_text = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // numpy aligns the data to 64 bytes and ends the header with a newline.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + header.len() + data.len() * 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for value in data {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let bytes = write_npy(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(bytes.len(), 128 + 24);
        let array = read_npy(&bytes).expect("readable");
        assert_eq!(array.shape, vec![2, 3]);
        assert_eq!(array.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn rejects_garbage() {
        assert!(read_npy(b"hello").is_err());
        assert!(read_npy(b"\x93NUMPY\x01\x00\xff\xff{").is_err());
    }
}
