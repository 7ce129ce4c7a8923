//! Solidity source for one verifying key.
//!
//! The contract is straight-line Yul inside one Solidity function: every structural decision
//! (proof offsets, transcript segments, gate polynomials, opening sets) is made here, at
//! generation time, from the key; the contract only does field arithmetic, Keccak and the
//! BN254 precompiles. Values live at fixed memory addresses, so there is no stack pressure.
//!
//! Gate polynomials are either inline Yul ([`GateCode::Inline`]) or, for circuits too wide
//! for that code to fit one contract, a register program stored after the key data and run by
//! a loop of a dozen instructions ([`GateCode::Interpreted`]). An instruction is 8 bytes:
//! opcode, destination and two operands, 16 bits each, addresses as word indices.
//!
//! Memory map: `0x00..0x200` precompile scratch; `0x200..` named field elements; then the
//! batch-inversion arrays; the transcript buffer; the key data (copied from the key
//! contracts); the proof's copy; last the gate temporaries, so memory grows only as far as
//! they are used.

use ark_bn254::Fr;
use zkml_verifier::vk::{G1Bytes, VerifyingKey};

use crate::gates::{GateCode, GateProgram};
use crate::plan::Plan;
use crate::GenerateError;

/// Appends one line of Yul to a `String`.
macro_rules! emit {
    ($w:expr, $($t:tt)*) => {
        writeln!($w, $($t)*).expect("writing to a String")
    };
}

mod expr;
mod lagrange;
mod memory;
mod quotient;
mod shplonk;
mod template;
mod transcript;
pub(crate) mod yul;

use expr::Evals;
use memory::Memory;
pub(crate) use yul::word;

/// The base field's modulus (coordinates of BN254 points).
/// The base field modulus `q`.
pub(crate) const Q_HEX: &str = "0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";
/// The scalar field modulus `r`.
pub(crate) const R_HEX: &str = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

/// Key-blob table entries: the high byte says where a value lives, the low three bytes where.
const KIND_CALLDATA: u32 = 0;
const KIND_MEMORY: u32 = 1 << 24;
const KIND_QUOTIENT: u32 = 2 << 24;

/// The largest part of the key data one data contract holds (EIP-170, less the leading STOP
/// byte).
pub const MAX_KEY_PART: usize = crate::MAX_RUNTIME_SIZE - 1;

/// The most key contracts one verifier reads.
pub const MAX_KEY_PARTS: usize = 16;

/// The most key data one verifier reads.
const MAX_KEY_DATA: usize = MAX_KEY_PART * MAX_KEY_PARTS;

/// A generated verifier: the contract's source and the data its key contract holds.
#[derive(Clone, Debug)]
pub struct GeneratedVerifier {
    /// Solidity source of the verifier contract.
    pub source: String,
    /// The key data: the fixed and permutation commitments (`x || y`, 32-byte big-endian
    /// each), then the opening tables. It is split over [`GeneratedVerifier::key_parts`].
    pub key_blob: Vec<u8>,
}

impl GeneratedVerifier {
    /// The key data as the key contracts hold it, in order: consecutive pieces of at most
    /// [`MAX_KEY_PART`] bytes.
    pub fn key_parts(&self) -> impl Iterator<Item = &[u8]> {
        self.key_blob.chunks(MAX_KEY_PART)
    }
}

/// Creation code of a data contract whose runtime code is `0x00 || blob` (a leading STOP, so
/// that calling it does nothing).
pub fn key_contract_creation(blob: &[u8]) -> Vec<u8> {
    let len = blob.len() + 1;
    let mut code = vec![0x61, (len >> 8) as u8, len as u8]; // PUSH2 len
    code.extend([0x80, 0x60, 0x0c, 0x60, 0x00, 0x39]); // DUP1 PUSH1 12 PUSH1 0 CODECOPY
    code.extend([0x60, 0x00, 0xf3]); // PUSH1 0 RETURN
    code.push(0x00);
    code.extend_from_slice(blob);
    code
}

/// The Solidity source of the verifier contract for `vk`, and its key contract's data.
pub fn solidity(vk: &VerifyingKey, contract: &str) -> Result<GeneratedVerifier, GenerateError> {
    solidity_with(vk, contract, GateCode::Inline)
}

/// What every part of the generation reads: the key, its plan, the memory map and the gate
/// program.
struct Gen<'a> {
    vk: &'a VerifyingKey,
    plan: &'a Plan,
    gates: GateCode,
    n_inst: usize,
    k: u32,
    n: u64,
    omega: Fr,
    delta: Fr,
    b: i32,
    digest: Fr,
    program: GateProgram,
    key_points: Vec<&'a G1Bytes>,
    evals: Evals<'a>,
    mem: Memory,
}

/// Generates the verifier for `vk`, with the gate polynomials evaluated as `gates` says.
pub fn solidity_with(
    vk: &VerifyingKey,
    contract: &str,
    gates: GateCode,
) -> Result<GeneratedVerifier, GenerateError> {
    let plan = Plan::new(vk)?;
    let mut program = GateProgram::default();
    let mem = Memory::new(vk, &plan, gates, &mut program)?;
    let g = Gen {
        vk,
        plan: &plan,
        gates,
        n_inst: vk.num_instance_values as usize,
        k: vk.k,
        n: 1u64 << vk.k,
        omega: word(&vk.omega)?,
        delta: word(&vk.delta)?,
        b: vk.blinding_factors as i32,
        digest: vk.digest(),
        program,
        // The key data starts with the fixed and permutation commitments.
        key_points: vk
            .fixed_commitments
            .iter()
            .chain(&vk.permutation_commitments)
            .collect(),
        evals: Evals {
            plan: &plan,
            proof_mem: mem.proof_mem,
            instance_eval: mem.s_inst,
            challenges: mem.s_chal,
        },
        mem,
    };
    let mut body = String::new();
    transcript::checks_and_transcript(&g, &mut body);
    lagrange::lagrange(&g, &mut body);
    quotient::quotient(&g, &mut body)?;
    let tables = shplonk::shplonk(&g, &mut body);
    template::assemble(&g, contract, body, tables)
}
