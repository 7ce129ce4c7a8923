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

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem};
use zkml_circuits::{CircuitParams, ModelCircuit};

/// Bytes of a field element and of a curve point in the raw format.
const SCALAR: usize = 32;
const POINT: usize = 64;

struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Walk<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "{what} ({n} bytes at offset {}) runs past the end of the key ({} bytes)",
                    self.at,
                    self.bytes.len()
                )
            })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self, big_endian: bool, what: &str) -> Result<usize, String> {
        let b: [u8; 4] = self.take(4, what)?.try_into().expect("4 bytes");
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
        self.take(size, what).map(|_| ())
    }

    fn polynomials(&mut self, what: &str) -> Result<(), String> {
        let count = self.u32(true, what)?;
        // Each polynomial takes at least its 4-byte length.
        if count > (self.bytes.len() - self.at) / 4 {
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
    let mut cs = ConstraintSystem::<Fr>::default();
    let _ = ModelCircuit::configure_with_params(&mut cs, params);
    let mut w = Walk { bytes: body, at: 0 };
    if w.take(1, "the version byte")? != [0x02] {
        return Err("unexpected halo2 key version".into());
    }
    let k = w.u32(false, "k")?;
    if k != params.k as usize {
        return Err(format!(
            "the key is for 2^{k} rows, its header says 2^{}",
            params.k
        ));
    }
    let compressed = match w.take(1, "the selector flag")? {
        [0] => false,
        [1] => true,
        _ => return Err("the selector flag is not 0 or 1".into()),
    };
    let fixed = w.u32(false, "the fixed commitment count")?;
    let size = fixed
        .checked_mul(POINT)
        .ok_or("the fixed commitment count overflows")?;
    w.take(size, "the fixed commitments")?;
    w.take(
        cs.permutation().get_columns().len() * POINT,
        "the permutation commitments",
    )?;
    if compressed {
        let per_selector = (1usize << k).div_ceil(8);
        w.take(cs.num_selectors() * per_selector, "the selectors")?;
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
    if w.at != body.len() {
        return Err(format!(
            "{} bytes follow the end of the key",
            body.len() - w.at
        ));
    }
    Ok(())
}
