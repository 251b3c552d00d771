//! `WeightSource`: hands out a model's weights by canonical name as tensors on a device,
//! still in their stored dtype (quantized blocks stay quantized).

use std::sync::Arc;

use memmap2::Mmap;
use tl_tensor::cpu::CpuBuffer;
use tl_tensor::{Buffer, DType, Device, DeviceKind, Layout, Tensor};

use crate::error::{LlmError, Result};
use crate::gguf_file::GgufFile;
use crate::safetensors_file::SafetensorsSet;
use crate::weight_name::WeightName;

/// Where a model's weights live.
#[derive(Clone, Debug)]
pub enum WeightSource {
    Gguf(Arc<GgufFile>),
    Safetensors {
        label: String,
        set: Arc<SafetensorsSet>,
    },
}

/// What a weight is, without loading it.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightInfo {
    pub stored_name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub byte_len: usize,
}

struct Located<'a> {
    info: WeightInfo,
    map: &'a Arc<Mmap>,
    file_offset: usize,
}

impl WeightSource {
    pub fn label(&self) -> String {
        match self {
            WeightSource::Gguf(file) => file.label(),
            WeightSource::Safetensors { label, .. } => label.clone(),
        }
    }

    fn stored_name(&self, name: &WeightName) -> Option<String> {
        match self {
            WeightSource::Gguf(_) => Some(name.gguf_name()),
            WeightSource::Safetensors { .. } => name.hf_name(),
        }
    }

    fn locate(&self, name: &WeightName) -> Option<Located<'_>> {
        let stored_name = self.stored_name(name)?;
        match self {
            WeightSource::Gguf(file) => {
                let info = file.tensor_info(&stored_name)?;
                Some(Located {
                    info: WeightInfo {
                        stored_name,
                        shape: info.shape.clone(),
                        dtype: info.dtype,
                        byte_len: info.byte_len,
                    },
                    map: file.map(),
                    file_offset: info.file_offset,
                })
            }
            WeightSource::Safetensors { set, .. } => {
                let (file, info) = set.find(&stored_name)?;
                Some(Located {
                    info: WeightInfo {
                        stored_name,
                        shape: info.shape.clone(),
                        dtype: info.dtype,
                        byte_len: info.byte_len,
                    },
                    map: file.map(),
                    file_offset: info.file_offset,
                })
            }
        }
    }

    pub fn contains(&self, name: &WeightName) -> bool {
        self.locate(name).is_some()
    }

    pub fn info(&self, name: &WeightName) -> Option<WeightInfo> {
        self.locate(name).map(|l| l.info)
    }

    /// Every stored tensor name that maps to a canonical weight, with its info.
    pub fn weights(&self) -> Vec<(WeightName, WeightInfo)> {
        let names: Vec<String> = match self {
            WeightSource::Gguf(file) => file.tensors().iter().map(|t| t.name.clone()).collect(),
            WeightSource::Safetensors { set, .. } => {
                set.tensors().map(|t| t.name.clone()).collect()
            }
        };
        let mut out: Vec<(WeightName, WeightInfo)> = names
            .iter()
            .filter_map(|n| WeightName::parse(n))
            .filter_map(|w| self.info(&w).map(|i| (w, i)))
            .collect();
        out.sort_by_key(|a| a.0);
        out
    }

    /// The weight as a tensor on `device`. On the CPU it is a zero-copy window of the mapped
    /// file when the bytes are aligned for their dtype; elsewhere the bytes are uploaded.
    pub fn tensor(&self, name: &WeightName, device: &Device) -> Result<Tensor> {
        let located = self.locate(name).ok_or_else(|| LlmError::MissingTensor {
            source_name: self.label(),
            name: name.canonical(),
            stored_name: self
                .stored_name(name)
                .unwrap_or_else(|| "(not stored in this format)".into()),
        })?;
        let Located {
            info,
            map,
            file_offset,
        } = located;
        let bytes = &map[file_offset..file_offset + info.byte_len];
        let aligned = (bytes.as_ptr() as usize).is_multiple_of(element_alignment(info.dtype));
        if device.kind() == DeviceKind::Cpu && aligned {
            let buffer = CpuBuffer::mapped(Arc::clone(map), file_offset, info.byte_len)?;
            Ok(Tensor::try_from_parts(
                Buffer::new(buffer),
                Layout::contiguous(&info.shape),
                info.dtype,
                device.clone(),
            )?)
        } else {
            Ok(device.from_bytes(bytes, &info.shape, info.dtype)?)
        }
    }
}

/// The alignment CPU kernels assume when they view bytes as elements (quantized blocks start
/// with f16 fields).
fn element_alignment(dtype: DType) -> usize {
    match dtype {
        DType::F32 | DType::I32 => 4,
        DType::I64 => 8,
        DType::U8 | DType::Bool => 1,
        _ => 2,
    }
}
