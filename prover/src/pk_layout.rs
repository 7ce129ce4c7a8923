//! A walk over the serialized halo2 proving key that checks every count and length it holds
//! against the bytes that follow, before halo2 decodes it.
//!
//! halo2's decoder allocates what a length prefix asks for before it reads the values, and
//! aborts on a short read, so a key whose lengths were edited (the checksum is recomputed as
//! easily) could make it allocate gigabytes or abort. After this walk every allocation the
//! decoder makes is bounded by the size of the file.
//!
//! ```text
//! halo2 proving key, raw bytes (halo2-axiom 0.5)
//! verifying key:
//!   u8       version 0x02
//!   u32 LE   k (must be the header's)
//!   u8       selector compression (0 or 1)
//!   u32 LE   number of fixed commitments F, then F points of 64 bytes
//!            one 64-byte point per permutation column (from the circuit's configuration)
//!            if compressed: one bit per row per selector, ceil(2^k / 8) bytes each
//! then: l0, l_last, l_active_row (polynomials), fixed values, fixed polynomials, permutation
//! values and permutation polynomials (vectors of polynomials)
//! polynomial:            u32 BE length n, then n field elements of 32 bytes
//! vector of polynomials: u32 BE count, then that many polynomials
//! ```

use std::io::Read;

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem};
use zkml_circuits::{CircuitParams, ModelCircuit};

/// Bytes of a field element and of a curve point in the raw format.
const SCALAR: usize = 32;
const POINT: usize = 64;

/// A reader of the key's bytes that knows how many there are and where it is.
struct Walk<R: Read> {
    bytes: R,
    len: usize,
    at: usize,
}

impl<R: Read> Walk<R> {
    /// Consumes `n` bytes (read through, never held), or fails naming `what` when the key
    /// ends first.
    fn skip(&mut self, n: usize, what: &str) -> Result<(), String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| {
                format!(
                    "{what} ({n} bytes at offset {}) runs past the end of the key ({} bytes)",
                    self.at, self.len
                )
            })?;
        let copied = std::io::copy(&mut (&mut self.bytes).take(n as u64), &mut std::io::sink())
            .map_err(|e| format!("{what}: {e}"))?;
        if copied != n as u64 {
            return Err(format!(
                "{what}: the key ends after {} bytes",
                self.at + copied as usize
            ));
        }
        self.at = end;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        if self.at + N > self.len {
            return Err(format!(
                "{what} ({N} bytes at offset {}) runs past the end of the key ({} bytes)",
                self.at, self.len
            ));
        }
        let mut b = [0u8; N];
        self.bytes
            .read_exact(&mut b)
            .map_err(|e| format!("{what}: {e}"))?;
        self.at += N;
        Ok(b)
    }

    fn u32(&mut self, big_endian: bool, what: &str) -> Result<usize, String> {
        let b: [u8; 4] = self.array(what)?;
        let v = if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        Ok(v as usize)
    }

    fn polynomial(&mut self, what: &str) -> Result<(), String> {
        let n = self.u32(true, what)?;
        let size = n
            .checked_mul(SCALAR)
            .ok_or_else(|| format!("{what}: a length of {n} values overflows"))?;
        self.skip(size, what)
    }

    fn polynomials(&mut self, what: &str) -> Result<(), String> {
        let count = self.u32(true, what)?;
        // Each polynomial takes at least its 4-byte length.
        if count > (self.len - self.at) / 4 {
            return Err(format!(
                "{what}: {count} polynomials cannot fit in the rest of the key"
            ));
        }
        for _ in 0..count {
            self.polynomial(what)?;
        }
        Ok(())
    }
}

/// Checks that `body` (the halo2 proving key of a circuit of shape `params`) has the layout
/// above with every length inside it, and nothing after it.
pub(crate) fn check(body: &[u8], params: CircuitParams) -> Result<(), String> {
    check_stream(body, body.len(), params)
}

/// [`check`] of a key read from `body`, which holds `len` bytes: the key is read through
/// once, in order, and never held.
pub(crate) fn check_stream(
    body: impl Read,
    len: usize,
    params: CircuitParams,
) -> Result<(), String> {
    let mut cs = ConstraintSystem::<Fr>::default();
    let _ = ModelCircuit::configure_with_params(&mut cs, params);
    let mut w = Walk {
        bytes: body,
        len,
        at: 0,
    };
    if w.array::<1>("the version byte")? != [0x02] {
        return Err("unexpected halo2 key version".into());
    }
    let k = w.u32(false, "k")?;
    if k != params.k as usize {
        return Err(format!(
            "the key is for 2^{k} rows, its header says 2^{}",
            params.k
        ));
    }
    let compressed = match w.array::<1>("the selector flag")? {
        [0] => false,
        [1] => true,
        _ => return Err("the selector flag is not 0 or 1".into()),
    };
    let fixed = w.u32(false, "the fixed commitment count")?;
    let size = fixed
        .checked_mul(POINT)
        .ok_or("the fixed commitment count overflows")?;
    w.skip(size, "the fixed commitments")?;
    w.skip(
        cs.permutation().get_columns().len() * POINT,
        "the permutation commitments",
    )?;
    if compressed {
        let per_selector = (1usize << k).div_ceil(8);
        w.skip(cs.num_selectors() * per_selector, "the selectors")?;
    }
    for what in ["l0", "l_last", "l_active_row"] {
        w.polynomial(what)?;
    }
    for what in [
        "the fixed values",
        "the fixed polynomials",
        "the permutation values",
        "the permutation polynomials",
    ] {
        w.polynomials(what)?;
    }
    if w.at != w.len {
        return Err(format!("{} bytes follow the end of the key", w.len - w.at));
    }
    Ok(())
}
