//! The on-disk format of a compiled program.
//!
//! ```text
//! offset  size  content
//! 0       8     magic "ZKMLPROG"
//! 8       4     format version, little-endian u32 (currently 2)
//! 12      ...   the program, bincode (fixed-width integers, little-endian)
//! ```
//!
//! Reading checks the magic and the version, decodes with a size limit (a corrupt length can
//! never trigger a huge allocation), and validates the decoded program, so a damaged or
//! hand-edited file is an error, never a wrong result.

use std::path::Path;

use bincode::Options;

use crate::error::FormatError;
use crate::program::Program;

/// First bytes of every program file.
pub const PROGRAM_MAGIC: &[u8; 8] = b"ZKMLPROG";
/// The format version this build writes and reads.
pub const PROGRAM_FORMAT_VERSION: u32 = 2;

fn codec(limit: usize) -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(limit as u64)
}

/// Serializes a program with its header.
pub fn to_bytes(program: &Program) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(PROGRAM_MAGIC);
    out.extend_from_slice(&PROGRAM_FORMAT_VERSION.to_le_bytes());
    let body = codec(usize::MAX)
        .serialize(program)
        .expect("programs always serialize");
    out.extend_from_slice(&body);
    out
}

/// Whether `bytes` start with the program magic.
pub fn is_program(bytes: &[u8]) -> bool {
    bytes.starts_with(PROGRAM_MAGIC)
}

/// Decodes and validates a program.
pub fn from_bytes(bytes: &[u8]) -> Result<Program, FormatError> {
    if !is_program(bytes) {
        return Err(FormatError::NotAProgram);
    }
    let version = bytes
        .get(8..12)
        .map(|v| u32::from_le_bytes(v.try_into().expect("4 bytes")))
        .ok_or_else(|| FormatError::Corrupt("file ends inside the header".into()))?;
    if version != PROGRAM_FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: PROGRAM_FORMAT_VERSION,
        });
    }
    let body = &bytes[12..];
    let program: Program = codec(body.len())
        .deserialize(body)
        .map_err(|e| FormatError::Corrupt(e.to_string()))?;
    program.validate()?;
    Ok(program)
}

/// Reads a program file.
pub fn load(path: &Path) -> Result<Program, FormatError> {
    let bytes = std::fs::read(path).map_err(|source| FormatError::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_bytes(&bytes)
}

/// Writes a program file (through a temporary file, so a crash never leaves half a file).
pub fn save(program: &Program, path: &Path) -> Result<(), FormatError> {
    let io = |source| FormatError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("zkml.partial");
    std::fs::write(&tmp, to_bytes(program)).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::ProgramBuilder;

    #[test]
    fn oversized_tensors_and_products_are_refused_before_any_work() {
        // A few bytes of program may not ask its checker for unbounded memory or time.
        let mut b = ProgramBuilder::new(8).unwrap();
        let err = b.input("x", vec![1 << 14, 1 << 14], 0).unwrap_err();
        assert!(err.to_string().contains("2^27 elements"), "{err}");
        let x = b.input("x", vec![1 << 11, 1 << 16], 0).unwrap();
        let w = b.input("w", vec![1 << 16, 1 << 11], 0).unwrap();
        let err = b.push("y", crate::Op::MatMul, &[x, w]).unwrap_err();
        assert!(err.to_string().contains("multiply-adds"), "{err}");
    }

    fn tiny() -> Program {
        let mut b = ProgramBuilder::new(8).unwrap();
        let x = b.input("x", vec![2], 4).unwrap();
        let c = b.constant("c", vec![2], 4, vec![3, -5]).unwrap();
        let y = b.push("y", crate::Op::Add, &[x, c]).unwrap();
        b.output(y, "y");
        b.finish().unwrap()
    }

    #[test]
    fn round_trip() {
        let p = tiny();
        assert_eq!(from_bytes(&to_bytes(&p)).unwrap(), p);
    }

    #[test]
    fn wrong_magic_version_and_truncation_are_errors() {
        let bytes = to_bytes(&tiny());
        assert!(matches!(
            from_bytes(b"hello world!"),
            Err(FormatError::NotAProgram)
        ));
        for other in [1u8, 3] {
            let mut v = bytes.clone();
            v[8] = other;
            assert!(matches!(
                from_bytes(&v),
                Err(FormatError::UnsupportedVersion {
                    found,
                    supported: 2
                }) if found == u32::from(other)
            ));
        }
        for cut in [10, 12, bytes.len() / 2, bytes.len() - 1] {
            assert!(from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn tampered_program_is_rejected_by_validation() {
        let mut p = tiny();
        p.nodes[2].bound = 1; // claims a tighter bound than the ops imply
        let bytes = to_bytes(&p);
        assert!(matches!(from_bytes(&bytes), Err(FormatError::Invalid(_))));
    }

    #[test]
    fn every_single_byte_flip_is_an_error_or_a_valid_program() {
        // Flipping bytes must never panic; it either fails to decode/validate or yields a
        // program that validates on its own terms.
        let bytes = to_bytes(&tiny());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xff;
            if let Ok(p) = from_bytes(&b) {
                p.validate().unwrap();
            }
        }
    }
}
