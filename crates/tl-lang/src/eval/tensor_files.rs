//! `load` and `save`: tensors in `.npy`, `.safetensors`, `.gguf` and `.csv` files, chosen
//! by the file's extension. Every tensor enters the language as f32.

use super::csv_file::read_csv;
use super::npy_file::{npy_shape, read_npy, write_npy};
use std::path::{Path, PathBuf};
use tl_tensor::{DType, Device, Tensor};

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FileError {
    #[error("cannot read `{path}`: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot write `{path}`: {message}")]
    Write { path: PathBuf, message: String },
    #[error("`{path}` holds no tensor `{name}`{}", available_list(.available))]
    MissingTensor {
        path: PathBuf,
        name: String,
        available: Vec<String>,
    },
    #[error("`{path}` holds {count} tensors; say which: `load(\"…\", \"name\")`{}", available_list(.available))]
    WhichTensor {
        path: PathBuf,
        count: usize,
        available: Vec<String>,
    },
    #[error("`{path}`: files ending in `.{extension}` are not tensor files (use .npy, .safetensors, .gguf or .csv)")]
    UnknownFormat { path: PathBuf, extension: String },
}

fn available_list(names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
    let more = if names.len() > 8 { ", …" } else { "" };
    format!(" (it holds {}{more})", shown.join(", "))
}

impl FileError {
    /// Whether the file was read but lacks the tensor asked for.
    pub fn is_missing_tensor(&self) -> bool {
        matches!(
            self,
            FileError::MissingTensor { .. } | FileError::WhichTensor { .. }
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Npy,
    Safetensors,
    Gguf,
    Csv,
}

fn format_of(path: &Path) -> Result<Format, FileError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match extension.as_str() {
        "npy" => Ok(Format::Npy),
        "safetensors" => Ok(Format::Safetensors),
        "gguf" => Ok(Format::Gguf),
        "csv" => Ok(Format::Csv),
        _ => Err(FileError::UnknownFormat {
            path: path.to_path_buf(),
            extension,
        }),
    }
}

fn read_error(path: &Path, message: impl std::fmt::Display) -> FileError {
    FileError::Read {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|e| read_error(path, e))
}

/// Picks the stored tensor: by name, or the only one.
fn choose<'a>(path: &Path, names: Vec<&'a str>, name: Option<&str>) -> Result<&'a str, FileError> {
    let available = || names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    match name {
        Some(wanted) => names
            .iter()
            .find(|n| **n == wanted)
            .copied()
            .ok_or_else(|| FileError::MissingTensor {
                path: path.to_path_buf(),
                name: wanted.to_string(),
                available: available(),
            }),
        None if names.len() == 1 => Ok(names[0]),
        None => Err(FileError::WhichTensor {
            path: path.to_path_buf(),
            count: names.len(),
            available: available(),
        }),
    }
}

fn single_only(path: &Path, name: Option<&str>) -> Result<(), FileError> {
    match name {
        Some(name) => Err(FileError::MissingTensor {
            path: path.to_path_buf(),
            name: name.to_string(),
            available: Vec::new(),
        }),
        None => Ok(()),
    }
}

/// The shape `load(path, name)` will produce, reading only what is needed to know it.
pub fn peek_shape(path: &Path, name: Option<&str>) -> Result<Vec<usize>, FileError> {
    match format_of(path)? {
        Format::Npy => {
            single_only(path, name)?;
            npy_shape(&read_bytes(path)?).map_err(|e| read_error(path, e))
        }
        Format::Csv => {
            let text = std::fs::read_to_string(path).map_err(|e| read_error(path, e))?;
            let table = read_csv(&text).map_err(|e| read_error(path, e))?;
            let (shape, _) = table
                .tensor_data(name)
                .map_err(|e| missing_column(path, name, table.header.as_deref(), e))?;
            Ok(shape)
        }
        Format::Safetensors => {
            let file = tl_llm::SafetensorsFile::open(path).map_err(|e| read_error(path, e))?;
            let names: Vec<&str> = file.tensors().map(|t| t.name.as_str()).collect();
            let chosen = choose(path, names, name)?;
            Ok(file
                .tensor_info(chosen)
                .map(|t| t.shape.clone())
                .unwrap_or_default())
        }
        Format::Gguf => {
            let file = tl_llm::GgufFile::open(path).map_err(|e| read_error(path, e))?;
            let names: Vec<&str> = file.tensors().iter().map(|t| t.name.as_str()).collect();
            let chosen = choose(path, names, name)?;
            Ok(file
                .tensor_info(chosen)
                .map(|t| t.shape.clone())
                .unwrap_or_default())
        }
    }
}

fn missing_column(
    path: &Path,
    name: Option<&str>,
    columns: Option<&[String]>,
    message: String,
) -> FileError {
    match name {
        Some(name) => FileError::MissingTensor {
            path: path.to_path_buf(),
            name: name.to_string(),
            available: columns.map(<[String]>::to_vec).unwrap_or_default(),
        },
        None => read_error(path, message),
    }
}

/// Widens a stored tensor to f32 (dequantizing GGUF blocks).
fn to_f32(tensor: Tensor, path: &Path) -> Result<Tensor, FileError> {
    let result = if tensor.dtype() == DType::F32 {
        Ok(tensor)
    } else if tensor.dtype().is_quantized() {
        tensor.dequantize(DType::F32)
    } else {
        tensor.cast(DType::F32)
    };
    result.map_err(|e| read_error(path, e))
}

/// Reads `load(path, name)` onto `device` as f32.
pub fn load_tensor(device: &Device, path: &Path, name: Option<&str>) -> Result<Tensor, FileError> {
    let on_device = |shape: &[usize], data: &[f32]| {
        device
            .from_slice(data, shape)
            .map_err(|e| read_error(path, e))
    };
    match format_of(path)? {
        Format::Npy => {
            single_only(path, name)?;
            let array = read_npy(&read_bytes(path)?).map_err(|e| read_error(path, e))?;
            on_device(&array.shape, &array.data)
        }
        Format::Csv => {
            let text = std::fs::read_to_string(path).map_err(|e| read_error(path, e))?;
            let table = read_csv(&text).map_err(|e| read_error(path, e))?;
            let (shape, data) = table
                .tensor_data(name)
                .map_err(|e| missing_column(path, name, table.header.as_deref(), e))?;
            on_device(&shape, &data)
        }
        Format::Safetensors => {
            let file = tl_llm::SafetensorsFile::open(path).map_err(|e| read_error(path, e))?;
            let names: Vec<&str> = file.tensors().map(|t| t.name.as_str()).collect();
            let chosen = choose(path, names, name)?.to_string();
            let info = file
                .tensor_info(&chosen)
                .ok_or_else(|| read_error(path, "the index names a missing tensor"))?;
            let tensor = device
                .from_bytes(file.tensor_bytes(info), &info.shape, info.dtype)
                .map_err(|e| read_error(path, e))?;
            to_f32(tensor, path)
        }
        Format::Gguf => {
            let file = tl_llm::GgufFile::open(path).map_err(|e| read_error(path, e))?;
            let names: Vec<&str> = file.tensors().iter().map(|t| t.name.as_str()).collect();
            let chosen = choose(path, names, name)?.to_string();
            let info = file
                .tensor_info(&chosen)
                .ok_or_else(|| read_error(path, "the index names a missing tensor"))?;
            let tensor = device
                .from_bytes(file.tensor_bytes(info), &info.shape, info.dtype)
                .map_err(|e| read_error(path, e))?;
            to_f32(tensor, path)
        }
    }
}

/// Writes `tensor` to `path` (`.npy`, or `.safetensors` under `name`).
pub fn save_tensor(path: &Path, name: &str, tensor: &Tensor) -> Result<(), FileError> {
    let write_error = |message: String| FileError::Write {
        path: path.to_path_buf(),
        message,
    };
    let data: Vec<f32> = tensor
        .cast(DType::F32)
        .and_then(|t| t.to_vec::<f32>())
        .map_err(|e| write_error(e.to_string()))?;
    let bytes = match format_of(path)? {
        Format::Npy => write_npy(tensor.shape(), &data),
        Format::Safetensors => {
            let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            let view = safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                tensor.shape().to_vec(),
                &raw,
            )
            .map_err(|e| write_error(e.to_string()))?;
            safetensors::serialize([(name.to_string(), view)], None)
                .map_err(|e| write_error(e.to_string()))?
        }
        Format::Gguf | Format::Csv => {
            return Err(write_error(
                "`save` writes .npy and .safetensors files".to_string(),
            ))
        }
    };
    std::fs::write(path, bytes).map_err(|e| write_error(e.to_string()))
}

/// Every tensor of a file by its stored name (one, unnamed, for .npy and .csv).
pub fn load_all(device: &Device, path: &Path) -> Result<Vec<(String, Tensor)>, FileError> {
    let names: Vec<String> = match format_of(path)? {
        Format::Npy | Format::Csv => {
            return Ok(vec![(String::new(), load_tensor(device, path, None)?)])
        }
        Format::Safetensors => tl_llm::SafetensorsFile::open(path)
            .map_err(|e| read_error(path, e))?
            .tensors()
            .map(|t| t.name.clone())
            .collect(),
        Format::Gguf => tl_llm::GgufFile::open(path)
            .map_err(|e| read_error(path, e))?
            .tensors()
            .iter()
            .map(|t| t.name.clone())
            .collect(),
    };
    names
        .into_iter()
        .map(|name| {
            let tensor = load_tensor(device, path, Some(&name))?;
            Ok((name, tensor))
        })
        .collect()
}
