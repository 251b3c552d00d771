//! Conformance cases: quant ops (to be written by the owner of this group).

use crate::case::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
