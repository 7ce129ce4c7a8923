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

use std::collections::HashMap;
use std::fmt::Write;

use ark_bn254::Fr;
use ark_ff::{Field, One, PrimeField};
use sha3::Digest;
use zkml_verifier::encoding::{fr_from_be, fr_to_be};
use zkml_verifier::vk::{Expr, G1Bytes, VerifyingKey};

use crate::gates::{GateCode, GateProgram, Operand, INSTRUCTION_BYTES, OP_ADD, OP_MUL, OP_NEG};
use crate::plan::{column_eval, ColumnEval, EvalSource, Plan, Poly};
use crate::GenerateError;

/// Batch inversions of at most this many values are unrolled (larger ones loop, keeping the
/// code small).
const MAX_UNROLLED_INVERSIONS: usize = 64;

/// Expressions nested deeper than this are computed into a memory temporary first.
const MAX_INLINE_DEPTH: usize = 4;

fn hex(w: &[u8; 32]) -> String {
    let s = ::hex::encode(w);
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        "0".into()
    } else {
        format!("0x{t}")
    }
}

fn fr_hex(f: &Fr) -> String {
    hex(&fr_to_be(f))
}

pub(crate) fn word(w: &[u8; 32]) -> Result<Fr, GenerateError> {
    fr_from_be(w).ok_or_else(|| GenerateError::Unsupported("a non-canonical scalar".into()))
}

fn rotate(omega: Fr, rotation: i32) -> Fr {
    if rotation >= 0 {
        omega.pow([rotation as u64])
    } else {
        omega
            .inverse()
            .expect("omega is a unit")
            .pow([u64::from(rotation.unsigned_abs())])
    }
}

/// Yul that inverts the `count` words at `arr` in place (Montgomery's trick, `tmp` holding
/// the prefix products), failing the verification if any is zero: straight-line code for a
/// few words, the `batchInvert` loop for many.
fn batch_inversion(arr: usize, count: usize, tmp: usize) -> String {
    if count > MAX_UNROLLED_INVERSIONS {
        return format!(
            "            if iszero(batchInvert({arr:#x}, {count}, {tmp:#x}, r)) {{ fail() }}"
        );
    }
    let mut code = "            {\n                let prefix := 1\n".to_string();
    for i in 0..count {
        writeln!(
            code,
            "                mstore({:#x}, prefix)\n                prefix := mulmod(prefix, mload({:#x}), r)",
            tmp + 32 * i,
            arr + 32 * i
        )
        .expect("string");
    }
    code.push_str(
        "                if iszero(prefix) { fail() }\n                let inv := invert(prefix, r)\n",
    );
    for i in (0..count).rev() {
        let at = arr + 32 * i;
        writeln!(
            code,
            "                {{ let v := mload({at:#x}) mstore({at:#x}, mulmod(inv, mload({:#x}), r)) inv := mulmod(inv, v, r) }}",
            tmp + 32 * i
        )
        .expect("string");
    }
    code.push_str("            }");
    code
}

/// Memory allocator for named 32-byte slots.
struct Mem {
    next: usize,
}

impl Mem {
    fn word(&mut self) -> usize {
        self.words(1)
    }

    fn words(&mut self, n: usize) -> usize {
        let at = self.next;
        self.next += 32 * n;
        at
    }
}

fn m(addr: usize) -> String {
    format!("mload({addr:#x})")
}

/// Evaluations at the challenge point, as Yul expressions.
struct Evals<'a> {
    plan: &'a Plan,
    /// Where the proof is copied in memory.
    proof_mem: usize,
    instance_eval: usize,
    /// Challenge `i` is the word at `challenges + 32 i`.
    challenges: usize,
}

impl Evals<'_> {
    /// A proof word, read from the proof's copy in memory.
    fn proof(&self, off: usize) -> String {
        m(self.proof_mem + off)
    }

    fn advice(&self, i: usize) -> String {
        self.proof(self.plan.layout.advice_evals + 32 * i)
    }

    fn fixed(&self, i: usize) -> String {
        self.proof(self.plan.layout.fixed_evals + 32 * i)
    }

    fn column(&self, c: ColumnEval) -> String {
        match c {
            ColumnEval::Advice(i) => self.advice(i),
            ColumnEval::Fixed(i) => self.fixed(i),
            ColumnEval::Instance => m(self.instance_eval),
        }
    }
}

/// Emits gate expressions, spilling deep subtrees into temporaries. Every evaluation is a
/// constant of the whole verification, so a subexpression that occurs more than once (across
/// all gates and lookups) is computed once into a temporary and reused.
struct ExprWriter<'a> {
    evals: &'a Evals<'a>,
    temps: usize,
    used: usize,
    capacity: usize,
    /// Occurrences of each compound subexpression, by its debug form.
    counts: HashMap<String, usize>,
    /// Subexpressions already held in a temporary.
    memo: HashMap<String, usize>,
}

fn count_subexpressions(e: &Expr, counts: &mut HashMap<String, usize>) {
    let children: Vec<&Expr> = match e {
        Expr::Constant(_)
        | Expr::Fixed(_)
        | Expr::Advice(_)
        | Expr::Instance(_)
        | Expr::Challenge(_) => return,
        Expr::Negated(a) | Expr::Scaled(a, _) => vec![a],
        Expr::Sum(a, b) | Expr::Product(a, b) => vec![a, b],
    };
    *counts.entry(format!("{e:?}")).or_default() += 1;
    for c in children {
        count_subexpressions(c, counts);
    }
}

impl ExprWriter<'_> {
    /// Returns a Yul expression and its nesting depth, emitting spills into `out`.
    fn expr(&mut self, e: &Expr, out: &mut String) -> Result<(String, usize), GenerateError> {
        let key = match e {
            Expr::Constant(_)
            | Expr::Fixed(_)
            | Expr::Advice(_)
            | Expr::Instance(_)
            | Expr::Challenge(_) => None,
            _ => Some(format!("{e:?}")),
        };
        if let Some(&t) = key.as_ref().and_then(|k| self.memo.get(k)) {
            return Ok((m(t), 1));
        }
        let (code, depth) = match e {
            Expr::Constant(w) => (fr_hex(&word(w)?), 0),
            Expr::Fixed(i) => (self.evals.fixed(*i as usize), 1),
            Expr::Advice(i) => (self.evals.advice(*i as usize), 1),
            Expr::Instance(_) => (m(self.evals.instance_eval), 1),
            Expr::Challenge(i) => (m(self.evals.challenges + 32 * *i as usize), 1),
            Expr::Negated(a) => {
                let (a, d) = self.expr(a, out)?;
                (format!("sub(r, {a})"), d + 1)
            }
            Expr::Sum(a, b) => {
                let (a, da) = self.expr(a, out)?;
                let (b, db) = self.expr(b, out)?;
                (format!("addmod({a}, {b}, r)"), da.max(db) + 1)
            }
            Expr::Product(a, b) => {
                let (a, da) = self.expr(a, out)?;
                let (b, db) = self.expr(b, out)?;
                (format!("mulmod({a}, {b}, r)"), da.max(db) + 1)
            }
            Expr::Scaled(a, w) => {
                let (a, d) = self.expr(a, out)?;
                (format!("mulmod({a}, {}, r)", fr_hex(&word(w)?)), d + 1)
            }
        };
        let shared = key
            .as_ref()
            .is_some_and(|k| self.counts.get(k).copied().unwrap_or(0) > 1);
        if depth >= MAX_INLINE_DEPTH || (shared && depth >= 2) {
            if self.used == self.capacity {
                return Err(GenerateError::Unsupported(
                    "a gate expression too large for the verifier".into(),
                ));
            }
            let t = self.temps + 32 * self.used;
            self.used += 1;
            writeln!(out, "            mstore({t:#x}, {code})").expect("string");
            if let Some(k) = key {
                self.memo.insert(k, t);
            }
            return Ok((m(t), 1));
        }
        Ok((code, depth))
    }
}

fn point_literals(p: &G1Bytes) -> (String, String) {
    (hex(&p.x), hex(&p.y))
}

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

/// Generates the verifier for `vk`, with the gate polynomials evaluated as `gates` says.
pub fn solidity_with(
    vk: &VerifyingKey,
    contract: &str,
    gates: GateCode,
) -> Result<GeneratedVerifier, GenerateError> {
    let plan = Plan::new(vk)?;
    let l = &plan.layout;
    let n_inst = vk.num_instance_values as usize;
    let k = vk.k;
    let n = 1u64 << k;
    let omega = word(&vk.omega)?;
    let delta = word(&vk.delta)?;
    let b = vk.blinding_factors as i32;
    let digest = vk.digest();
    let q_hex = "0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47";

    let mut mem = Mem { next: 0x200 };
    let s_theta = mem.word();
    let s_beta = mem.word();
    let s_gamma = mem.word();
    let s_y = mem.word();
    let s_x = mem.word();
    let s_sy = mem.word();
    let s_v = mem.word();
    let s_u = mem.word();
    let s_xn = mem.word();
    let s_inst = mem.word();
    // The challenges follow the instance evaluation (gate programs address them from it).
    let s_chal = mem.words(vk.challenges as usize);
    let s_lagr = mem.words(b as usize + 2); // l_r(x) for r = -(b+1)..=0
    let s_xinv = mem.word();
    let s_vanish_inv = mem.word();
    let s_folded = mem.word();
    let s_quot = mem.word();
    let s_pts = mem.words(plan.super_rotations.len());
    let s_z0 = mem.word();
    let s_zdiff0_inv = mem.word();
    let s_router = mem.word();
    let s_acc = mem.words(2);
    let s_left = mem.word();
    let s_right = mem.word();
    let s_tmp = mem.word();
    let s_common = mem.word();
    let s_lblind = mem.word();
    let s_active = mem.word();
    let s_factor = mem.word();
    let s_vpow = mem.word();
    let s_rin = mem.word();
    let s_p = mem.word();
    let s_van = mem.word();
    let max_rotations = plan
        .rotation_sets
        .iter()
        .map(|s| s.rotations.len())
        .max()
        .unwrap_or(1);
    let s_xinv_pows = mem.words(max_rotations);
    // u - x w^rot for every rotation, and their inverses (the last slot: the product of those
    // outside the first opening set, inverted in the same batch).
    let n_super = plan.super_rotations.len();
    let s_d = mem.words(n_super);
    let s_dinv = mem.words(n_super + 1);
    let s_dtmp = mem.words(n_super + 1);
    let basis_total: usize = plan.rotation_sets.iter().map(|s| s.rotations.len()).sum();
    let mut basis_next = mem.words(basis_total);
    // Batch inversion: x - w^i for the instance rows, x - w^r for the blinding rows, x, x^n - 1.
    let inv_count = n_inst + b as usize + 2 + 2;
    let inv_arr = mem.words(inv_count);
    let inv_tmp = mem.words(inv_count);
    let tbuf = mem.next;
    let longest = plan.segments.iter().map(|(s, e)| e - s).max().unwrap_or(0);
    let tbuf_len = (64 + 32 * n_inst + longest).div_ceil(32) * 32 + 32;
    // The key blob, copied from the key contract.
    let key_points: Vec<&G1Bytes> = vk
        .fixed_commitments
        .iter()
        .chain(&vk.permutation_commitments)
        .collect();
    let key_mem = tbuf + tbuf_len;
    let table_words: usize = plan
        .rotation_sets
        .iter()
        .map(|s| s.polys.len() * (1 + s.rotations.len()))
        .sum();
    let tables_end = 64 * key_points.len() + 4 * table_words;
    let mut program = GateProgram::default();
    if gates == GateCode::Interpreted {
        for g in &vk.gates {
            program.gate(g, &plan, s_inst)?;
        }
    }
    // The constant pool starts on a word boundary; the program follows it.
    let pool_at = tables_end.div_ceil(32) * 32;
    let key_len = if gates == GateCode::Interpreted {
        pool_at + program.data_len()
    } else {
        tables_end
    };
    if key_len > MAX_KEY_DATA {
        return Err(GenerateError::Unsupported(format!(
            "the key data ({key_len} bytes) exceeds the {MAX_KEY_DATA} bytes the verifier addresses ({MAX_KEY_PARTS} key contracts); run setup with --optimize evm-gas for a narrower circuit"
        )));
    }
    // A copy of the proof: evaluations are read from memory, which takes less code.
    let proof_mem = key_mem + key_len.div_ceil(32) * 32 + 32;
    // Gate temporaries come last, so that memory grows only as far as they are used.
    let temps = proof_mem + l.len.div_ceil(32) * 32 + 32;
    let temp_capacity = 1 << 16;

    let evals = Evals {
        plan: &plan,
        proof_mem,
        instance_eval: s_inst,
        challenges: s_chal,
    };
    let mut body = String::new();
    let w = &mut body;
    macro_rules! emit {
        ($($t:tt)*) => { writeln!(w, $($t)*).expect("string") };
    }

    // ---- input checks ----
    emit!(
        "            if iszero(eq(proof.length, {:#x})) {{ fail() }}",
        l.len
    );
    emit!("            if iszero(eq(instances.length, {n_inst})) {{ fail() }}");
    emit!("            let p := proof.offset");
    emit!("            mstore({s_p:#x}, p)");
    emit!("            let ip := instances.offset");
    emit!("            for {{ let i := 0 }} lt(i, {n_inst}) {{ i := add(i, 1) }} {{");
    emit!("                if iszero(lt(calldataload(add(ip, shl(5, i))), r)) {{ fail() }}");
    emit!("            }}");
    emit!(
        "            for {{ let o := 0 }} lt(o, {:#x}) {{ o := add(o, 0x40) }} {{",
        l.points_end
    );
    emit!("                if iszero(onCurve(calldataload(add(p, o)), calldataload(add(p, add(o, 0x20))))) {{ fail() }}");
    emit!("            }}");
    emit!(
        "            for {{ let o := {:#x} }} lt(o, {:#x}) {{ o := add(o, 0x20) }} {{",
        l.points_end,
        l.h1
    );
    emit!("                if iszero(lt(calldataload(add(p, o)), r)) {{ fail() }}");
    emit!("            }}");
    for off in [l.h1, l.h2] {
        emit!("            if iszero(onCurve(calldataload(add(p, {off:#x})), calldataload(add(p, {:#x})))) {{ fail() }}", off + 32);
    }

    emit!("            calldatacopy({proof_mem:#x}, p, {:#x})", l.len);

    // ---- transcript ----
    emit!("            // Transcript: key digest, constraint-system digest, public values, then the proof.");
    emit!("            mstore({tbuf:#x}, {})", fr_hex(&digest));
    emit!(
        "            mstore({:#x}, {})",
        tbuf + 32,
        hex(&vk.transcript_repr)
    );
    emit!(
        "            calldatacopy({:#x}, ip, {:#x})",
        tbuf + 64,
        32 * n_inst
    );
    let (s0, e0) = plan.segments[0];
    emit!(
        "            calldatacopy({:#x}, add(p, {s0:#x}), {:#x})",
        tbuf + 64 + 32 * n_inst,
        e0 - s0
    );
    emit!(
        "            let h := keccak256({tbuf:#x}, {:#x})",
        64 + 32 * n_inst + e0 - s0
    );
    let slots: Vec<usize> = (0..vk.challenges as usize)
        .map(|i| s_chal + 32 * i)
        .chain([s_theta, s_beta, s_gamma, s_y, s_x, s_sy, s_v, s_u])
        .collect();
    emit!("            mstore({:#x}, mod(h, r))", slots[0]);
    debug_assert_eq!(plan.segments.len(), slots.len());
    for (&(s, e), &slot) in plan.segments[1..].iter().zip(&slots[1..]) {
        emit!("            mstore({tbuf:#x}, h)");
        if s == e {
            emit!("            mstore8({:#x}, 1)", tbuf + 32);
            emit!("            h := keccak256({tbuf:#x}, 0x21)");
        } else {
            emit!(
                "            calldatacopy({:#x}, add(p, {s:#x}), {:#x})",
                tbuf + 32,
                e - s
            );
            emit!("            h := keccak256({tbuf:#x}, {:#x})", 32 + e - s);
        }
        emit!("            mstore({slot:#x}, mod(h, r))");
    }

    // ---- x^n, inverses, Lagrange values ----
    let x = m(s_x);
    let xn = m(s_xn);
    emit!("            mstore({s_xn:#x}, {x})");
    emit!("            for {{ let i := 0 }} lt(i, {k}) {{ i := add(i, 1) }} {{ mstore({s_xn:#x}, mulmod({xn}, {xn}, r)) }}");
    emit!("            {{");
    emit!("                let wi := 1");
    emit!("                for {{ let i := 0 }} lt(i, {n_inst}) {{ i := add(i, 1) }} {{");
    emit!("                    mstore(add({inv_arr:#x}, shl(5, i)), addmod({x}, sub(r, wi), r))");
    emit!(
        "                    wi := mulmod(wi, {}, r)",
        fr_hex(&omega)
    );
    emit!("                }}");
    emit!("            }}");
    for (j, rot) in (-(b + 1)..=0).enumerate() {
        emit!(
            "            mstore({:#x}, addmod({x}, {}, r))",
            inv_arr + 32 * (n_inst + j),
            fr_hex(&-rotate(omega, rot))
        );
    }
    let i_x = inv_arr + 32 * (n_inst + b as usize + 2);
    emit!("            mstore({i_x:#x}, {x})");
    emit!(
        "            mstore({:#x}, addmod({xn}, sub(r, 1), r))",
        i_x + 32
    );
    emit!("{}", batch_inversion(inv_arr, inv_count, inv_tmp));
    emit!("            mstore({s_xinv:#x}, {})", m(i_x));
    emit!("            mstore({s_vanish_inv:#x}, {})", m(i_x + 32));
    let n_inv = Fr::from(n).inverse().expect("n is a unit");
    emit!(
        "            mstore({s_common:#x}, mulmod(addmod({xn}, sub(r, 1), r), {}, r))",
        fr_hex(&n_inv)
    );
    let common = m(s_common);
    for (j, rot) in (-(b + 1)..=0).enumerate() {
        emit!(
            "            mstore({:#x}, mulmod(mulmod({common}, {}, r), {}, r))",
            s_lagr + 32 * j,
            fr_hex(&rotate(omega, rot)),
            m(inv_arr + 32 * (n_inst + j))
        );
    }
    emit!("            {{");
    emit!("                let sum := 0");
    emit!("                let wi := 1");
    emit!("                for {{ let i := 0 }} lt(i, {n_inst}) {{ i := add(i, 1) }} {{");
    emit!("                    sum := addmod(sum, mulmod(mulmod(calldataload(add(ip, shl(5, i))), wi, r), mload(add({inv_arr:#x}, shl(5, i))), r), r)");
    emit!(
        "                    wi := mulmod(wi, {}, r)",
        fr_hex(&omega)
    );
    emit!("                }}");
    emit!("                mstore({s_inst:#x}, mulmod(sum, {common}, r))");
    emit!("            }}");

    // ---- the quotient evaluation ----
    let l_last = m(s_lagr);
    let l_0 = m(s_lagr + 32 * (b as usize + 1));
    emit!("            mstore({s_lblind:#x}, 0)");
    for j in 1..=b as usize {
        emit!(
            "            mstore({s_lblind:#x}, addmod({}, {}, r))",
            m(s_lblind),
            m(s_lagr + 32 * j)
        );
    }
    emit!(
        "            mstore({s_active:#x}, addmod(1, sub(r, addmod({l_last}, {}, r)), r))",
        m(s_lblind)
    );
    let active = m(s_active);
    let y = m(s_y);
    emit!("            let acc := 0");
    let mut counts = HashMap::new();
    for e in vk.gates.iter().chain(
        vk.lookups
            .iter()
            .flat_map(|a| a.inputs.iter().chain(&a.tables)),
    ) {
        count_subexpressions(e, &mut counts);
    }
    let mut ew = ExprWriter {
        evals: &evals,
        temps,
        used: 0,
        capacity: temp_capacity,
        counts,
        memo: HashMap::new(),
    };
    let push = |w: &mut String, code: &str| {
        writeln!(
            w,
            "            acc := addmod(mulmod(acc, {y}, r), {code}, r)"
        )
        .expect("string")
    };
    if gates == GateCode::Inline {
        for g in &vk.gates {
            let (code, _) = ew.expr(g, w)?;
            push(w, &code);
        }
    } else if !program.ops.is_empty() {
        // The interpreter's temporaries come first; inline spills (lookups) follow them.
        ew.used = program.depth;
        let prog_at = key_mem + pool_at + 32 * program.consts.len();
        let prog_end = prog_at + INSTRUCTION_BYTES * program.ops.len();
        emit!("            {{");
        emit!("                let yv := {y}");
        emit!("                for {{ let at := {prog_at:#x} }} lt(at, {prog_end:#x}) {{ at := add(at, {INSTRUCTION_BYTES}) }} {{");
        emit!("                    let ins := shr(192, mload(at))");
        emit!("                    let a := mload(shl(5, and(shr(16, ins), 0xffff)))");
        emit!("                    let d := shl(5, and(shr(32, ins), 0xffff))");
        emit!("                    switch shr(48, ins)");
        emit!("                    case {OP_ADD} {{ mstore(d, addmod(a, mload(shl(5, and(ins, 0xffff))), r)) }}");
        emit!("                    case {OP_MUL} {{ mstore(d, mulmod(a, mload(shl(5, and(ins, 0xffff))), r)) }}");
        emit!("                    case {OP_NEG} {{ mstore(d, sub(r, a)) }}");
        emit!("                    default {{ acc := addmod(mulmod(acc, yv, r), a, r) }}");
        emit!("                }}");
        emit!("            }}");
    }
    let pe = |s: usize, j: usize| evals.proof(l.perm_evals + 32 * (3 * s + j));
    if plan.sets > 0 {
        push(
            w,
            &format!("mulmod({l_0}, addmod(1, sub(r, {}), r), r)", pe(0, 0)),
        );
        let last = pe(plan.sets - 1, 0);
        push(
            w,
            &format!("mulmod(addmod(mulmod({last}, {last}, r), sub(r, {last}), r), {l_last}, r)"),
        );
        for s in 1..plan.sets {
            push(
                w,
                &format!(
                    "mulmod(addmod({}, sub(r, {}), r), {l_0}, r)",
                    pe(s, 0),
                    pe(s - 1, 2)
                ),
            );
        }
    }
    let beta = m(s_beta);
    let gamma = m(s_gamma);
    for (s, cols) in vk.permutation_columns.chunks(plan.chunk).enumerate() {
        emit!("            mstore({s_left:#x}, {})", pe(s, 1));
        emit!("            mstore({s_right:#x}, {})", pe(s, 0));
        emit!("            mstore({s_tmp:#x}, mulmod({beta}, {x}, r))");
        for (j, &c) in cols.iter().enumerate() {
            let idx = s * plan.chunk + j;
            let e = evals.column(column_eval(vk, c)?);
            let sigma = evals.proof(l.sigma_evals + 32 * idx);
            emit!("            mstore({s_left:#x}, mulmod({}, addmod(addmod({e}, mulmod({beta}, {sigma}, r), r), {gamma}, r), r))", m(s_left));
            emit!(
                "            mstore({s_right:#x}, mulmod({}, addmod(addmod({e}, mulmod({}, {}, r), r), {gamma}, r), r))",
                m(s_right),
                m(s_tmp),
                fr_hex(&delta.pow([idx as u64]))
            );
        }
        push(
            w,
            &format!(
                "mulmod(addmod({}, sub(r, {}), r), {active}, r)",
                m(s_left),
                m(s_right)
            ),
        );
    }
    let theta = m(s_theta);
    for (li, arg) in vk.lookups.iter().enumerate() {
        let le = |j: usize| evals.proof(l.lookup_evals + 32 * (5 * li + j));
        let (z, z_next, a, a_inv, s) = (le(0), le(1), le(2), le(3), le(4));
        for (slot, exprs) in [(s_left, &arg.inputs), (s_right, &arg.tables)] {
            emit!("            mstore({slot:#x}, 0)");
            for e in exprs.iter() {
                let (code, _) = ew.expr(e, w)?;
                emit!(
                    "            mstore({slot:#x}, addmod(mulmod({}, {theta}, r), {code}, r))",
                    m(slot)
                );
            }
        }
        push(w, &format!("mulmod({l_0}, addmod(1, sub(r, {z}), r), r)"));
        push(
            w,
            &format!("mulmod({l_last}, addmod(mulmod({z}, {z}, r), sub(r, {z}), r), r)"),
        );
        push(
            w,
            &format!(
                "mulmod(addmod(mulmod(mulmod({z_next}, addmod({a}, {beta}, r), r), addmod({s}, {gamma}, r), r), sub(r, mulmod(mulmod({z}, addmod({}, {beta}, r), r), addmod({}, {gamma}, r), r)), r), {active}, r)",
                m(s_left),
                m(s_right)
            ),
        );
        push(w, &format!("mulmod({l_0}, addmod({a}, sub(r, {s}), r), r)"));
        push(
            w,
            &format!("mulmod(mulmod(addmod({a}, sub(r, {s}), r), addmod({a}, sub(r, {a_inv}), r), r), {active}, r)"),
        );
    }
    emit!("            mstore({s_folded:#x}, acc)");
    emit!(
        "            mstore({s_quot:#x}, mulmod(acc, {}, r))",
        m(s_vanish_inv)
    );

    // ---- SHPLONK ----
    let u = m(s_u);
    for (i, &rot) in plan.super_rotations.iter().enumerate() {
        emit!(
            "            mstore({:#x}, mulmod({x}, {}, r))",
            s_pts + 32 * i,
            fr_hex(&rotate(omega, rot))
        );
    }
    let d = |rot: i32| {
        let i = plan
            .super_rotations
            .iter()
            .position(|&r| r == rot)
            .expect("a super rotation");
        m(s_d + 32 * i)
    };
    for i in 0..n_super {
        emit!(
            "            mstore({:#x}, addmod({u}, sub(r, {}), r))",
            s_d + 32 * i,
            m(s_pts + 32 * i)
        );
        emit!(
            "            mstore({:#x}, {})",
            s_dinv + 32 * i,
            m(s_d + 32 * i)
        );
    }
    // prod (u - x w^rot) over `rots`, into `slot`, one statement per factor.
    let vanishing = |slot: usize, rots: &mut dyn Iterator<Item = i32>| {
        let mut code = "            {\n                let t := 1\n".to_string();
        for rot in rots {
            writeln!(code, "                t := mulmod(t, {}, r)", d(rot)).expect("string");
        }
        write!(code, "                mstore({slot:#x}, t)\n            }}").expect("string");
        code
    };
    let first = &plan.rotation_sets[0];
    let diffs0: Vec<i32> = plan
        .super_rotations
        .iter()
        .copied()
        .filter(|r| !first.rotations.contains(r))
        .collect();
    emit!("{}", vanishing(s_z0, &mut first.rotations.iter().copied()));
    emit!(
        "{}",
        vanishing(s_dinv + 32 * n_super, &mut diffs0.iter().copied())
    );
    emit!("{}", batch_inversion(s_dinv, n_super + 1, s_dtmp));
    emit!(
        "            mstore({s_zdiff0_inv:#x}, {})",
        m(s_dinv + 32 * n_super)
    );
    // x^-1, x^-2, ...: the interpolation bases' normalisation.
    emit!("            mstore({s_xinv_pows:#x}, {})", m(s_xinv));
    for i in 1..max_rotations.saturating_sub(1) {
        emit!(
            "            mstore({:#x}, mulmod({}, {}, r))",
            s_xinv_pows + 32 * i,
            m(s_xinv_pows + 32 * (i - 1)),
            m(s_xinv)
        );
    }
    emit!("            mstore({s_router:#x}, 0)");
    emit!("            mstore({s_acc:#x}, 0)");
    emit!("            mstore({:#x}, 0)", s_acc + 32);
    emit!("            let ok := 1");
    emit!("            mstore({s_factor:#x}, 1)");
    emit!("            mstore({s_vpow:#x}, 1)");
    let factor = m(s_factor);
    let vpow = m(s_vpow);
    // Each set's polynomials are opened by `openSet`, driven by a table in the key blob: per
    // polynomial one entry for its commitment, then one per rotation for its evaluations.
    let key_point = |i: usize| KIND_MEMORY | (key_mem + 64 * i) as u32;
    let commitment = |poly: Poly| -> u32 {
        let proof = |off: usize| KIND_CALLDATA | off as u32;
        match poly {
            Poly::Advice(i) => proof(l.advice + 64 * i),
            Poly::Fixed(i) => key_point(i),
            Poly::Sigma(i) => key_point(vk.fixed_commitments.len() + i),
            Poly::PermutationProduct(i) => proof(l.perm_products + 64 * i),
            Poly::LookupInput(i) => proof(l.lookup_permuted + 128 * i),
            Poly::LookupTable(i) => proof(l.lookup_permuted + 128 * i + 64),
            Poly::LookupProduct(i) => proof(l.lookup_products + 64 * i),
            Poly::Random => proof(l.random),
            Poly::Quotient => KIND_QUOTIENT | l.quotient as u32,
        }
    };
    let eval_entry = |e: EvalSource| -> u32 {
        match e {
            EvalSource::Proof(off) => KIND_CALLDATA | off as u32,
            EvalSource::Quotient => KIND_MEMORY | s_quot as u32,
        }
    };
    let mut tables = Vec::new();
    for set in &plan.rotation_sets {
        let mut t = Vec::new();
        for (poly, srcs) in &set.polys {
            t.push(commitment(*poly));
            t.extend(srcs.iter().map(|&e| eval_entry(e)));
        }
        tables.push(t);
    }
    let mut table_at = key_mem + 64 * key_points.len();
    for (si, set) in plan.rotation_sets.iter().enumerate() {
        emit!(
            "            // opening set {si}: rotations {:?}",
            set.rotations
        );
        if si > 0 {
            let diffs: Vec<i32> = plan
                .super_rotations
                .iter()
                .copied()
                .filter(|r| !set.rotations.contains(r))
                .collect();
            emit!("{}", vanishing(s_van, &mut diffs.iter().copied()));
            emit!(
                "            mstore({s_factor:#x}, mulmod(mulmod({vpow}, {}, r), {}, r))",
                m(s_van),
                m(s_zdiff0_inv)
            );
        }
        // Interpolation basis at u: L_j(u) = prod_{l != j} (u - p_l) * c_j * x^-(m-1), that is
        // Z_set(u) / (u - p_j) * c_j * x^-(m-1).
        let mrot = set.rotations.len();
        let basis_slots = basis_next;
        basis_next += 32 * mrot;
        if mrot == 1 {
            emit!("            mstore({basis_slots:#x}, 1)");
        } else {
            emit!("{}", vanishing(s_van, &mut set.rotations.iter().copied()));
        }
        for j in 0..mrot {
            if mrot == 1 {
                break;
            }
            let wj = rotate(omega, set.rotations[j]);
            let mut c = Fr::one();
            for (li, &rl) in set.rotations.iter().enumerate() {
                if li != j {
                    c *= wj - rotate(omega, rl);
                }
            }
            let c = c.inverse().expect("distinct rotations");
            let idx = plan
                .super_rotations
                .iter()
                .position(|&r| r == set.rotations[j])
                .expect("a super rotation");
            emit!(
                "            mstore({:#x}, mulmod(mulmod(mulmod({}, {}, r), {}, r), {}, r))",
                basis_slots + 32 * j,
                m(s_van),
                m(s_dinv + 32 * idx),
                fr_hex(&c),
                m(s_xinv_pows + 32 * (mrot - 2))
            );
        }
        emit!(
            "            ok := and(ok, openSet({table_at:#x}, {}, {mrot}, {basis_slots:#x}))",
            set.polys.len()
        );
        emit!("            mstore({s_router:#x}, addmod({}, mulmod({factor}, mload({s_rin:#x}), r), r))", m(s_router));
        emit!(
            "            mstore({s_vpow:#x}, mulmod({vpow}, {}, r))",
            m(s_v)
        );
        table_at += 4 * tables[si].len();
    }
    let (g1x, g1y) = point_literals(&vk.g1);
    emit!(
        "            ok := and(ok, mulAcc({g1x}, {g1y}, sub(r, {}), {s_acc:#x}))",
        m(s_router)
    );
    emit!(
        "            ok := and(ok, mulAcc(calldataload(add(p, {:#x})), calldataload(add(p, {:#x})), sub(r, {}), {s_acc:#x}))",
        l.h1,
        l.h1 + 32,
        m(s_z0)
    );
    emit!(
        "            ok := and(ok, mulAcc(calldataload(add(p, {:#x})), calldataload(add(p, {:#x})), {u}, {s_acc:#x}))",
        l.h2,
        l.h2 + 32
    );
    // e(h2, s G2) * e(-right, G2) == 1
    let g2 = [&vk.s_g2, &vk.g2];
    emit!(
        "            mstore(0x00, calldataload(add(p, {:#x})))",
        l.h2
    );
    emit!(
        "            mstore(0x20, calldataload(add(p, {:#x})))",
        l.h2 + 32
    );
    for (i, wd) in [g2[0].x1, g2[0].x0, g2[0].y1, g2[0].y0].iter().enumerate() {
        emit!("            mstore({:#x}, {})", 0x40 + 32 * i, hex(wd));
    }
    emit!("            mstore(0xc0, {})", m(s_acc));
    emit!(
        "            mstore(0xe0, mod(sub({q_hex}, {}), {q_hex}))",
        m(s_acc + 32)
    );
    for (i, wd) in [g2[1].x1, g2[1].x0, g2[1].y1, g2[1].y0].iter().enumerate() {
        emit!("            mstore({:#x}, {})", 0x100 + 32 * i, hex(wd));
    }
    emit!("            ok := and(ok, staticcall(gas(), 8, 0x00, 0x180, 0x00, 0x20))");
    emit!("            ok := and(ok, mload(0x00))");
    emit!("            mstore(0x00, ok)");
    emit!("            return(0x00, 0x20)");

    let r_word = hex(&{
        let mut out = [0u8; 32];
        let limbs = Fr::MODULUS.0;
        for i in 0..4 {
            out[i * 8..i * 8 + 8].copy_from_slice(&limbs[3 - i].to_be_bytes());
        }
        out
    });
    let mut key_blob = Vec::with_capacity(key_len);
    for pt in &key_points {
        key_blob.extend_from_slice(&pt.x);
        key_blob.extend_from_slice(&pt.y);
    }
    for t in &tables {
        for e in t {
            key_blob.extend_from_slice(&e.to_be_bytes());
        }
    }
    if gates == GateCode::Interpreted {
        key_blob.resize(pool_at, 0);
        for c in &program.consts {
            key_blob.extend_from_slice(&fr_to_be(c));
        }
        let index = |o: Operand| -> Result<u64, GenerateError> {
            let at = match o {
                Operand::Proof(off) => proof_mem + off,
                Operand::At(at) => at,
                Operand::Const(i) => key_mem + pool_at + 32 * i,
                Operand::Temp(d) => temps + 32 * d,
            };
            if at % 32 != 0 || at / 32 > 0xffff {
                return Err(GenerateError::Unsupported(format!(
                    "gate operand at memory address {at:#x} cannot be encoded"
                )));
            }
            Ok((at / 32) as u64)
        };
        for &(op, d, a, b) in &program.ops {
            let ins = (u64::from(op) << 48) | (index(d)? << 32) | (index(a)? << 16) | index(b)?;
            key_blob.extend_from_slice(&ins.to_be_bytes());
        }
    }
    debug_assert_eq!(key_blob.len(), key_len);
    let parts: Vec<&[u8]> = key_blob.chunks(MAX_KEY_PART).collect();
    // A bytes32 literal must keep all 64 digits.
    let code_hash = |part: &[u8]| {
        let mut code = vec![0u8];
        code.extend_from_slice(part);
        format!("0x{}", ::hex::encode(sha3::Keccak256::digest(&code)))
    };
    let mut key_decls = String::new();
    let mut key_params = Vec::new();
    let mut key_checks = String::new();
    let mut key_copies = String::new();
    for (i, part) in parts.iter().enumerate() {
        let at = key_mem + i * MAX_KEY_PART;
        writeln!(
            key_decls,
            "    /// @notice Key contract {i}: bytes {}..{} of the key data.
    address public immutable key{i};
    /// @notice Keccak-256 of key contract {i}'s runtime code.
    bytes32 public constant KEY{i}_CODEHASH = {};",
            i * MAX_KEY_PART,
            i * MAX_KEY_PART + part.len(),
            code_hash(part)
        )
        .expect("string");
        key_params.push(format!("address keyPart{i}"));
        writeln!(
            key_checks,
            "        require(keyPart{i}.codehash == KEY{i}_CODEHASH, \"zkml: wrong key contract {i}\");
        key{i} = keyPart{i};"
        )
        .expect("string");
        writeln!(
            key_copies,
            "        {{
            address k = key{i};
            assembly {{ extcodecopy(k, {at:#x}, 1, {:#x}) }}
        }}",
            part.len()
        )
        .expect("string");
    }
    let key_params = key_params.join(", ");
    let n_parts = parts.len();
    let pieces = vk.degree as usize - 1;
    let source = format!(
        r#"// SPDX-License-Identifier: MIT
// {marker}: regenerate it rather than edit it.
pragma solidity ^0.8.19;

/// @title zkml verifier
/// @notice Verifies halo2 (KZG on BN254, SHPLONK, Keccak transcript) proofs for one compiled
/// model. Generated by `zkml create-evm-verifier` from a verifying key whose digest is
/// {digest}; the model program digest is {program}.
/// @dev The proof layout, transcript and circuit are fixed at generation time. The public
/// instance holds {n_inst} values (see the verifying key's model description).
contract {contract} {{
    // The key data (fixed and permutation commitments, opening tables; {key_len} bytes) lives
    // in {n_parts} key contract(s), deployed first, each with runtime code `0x00 || part`.
{key_decls}
    /// @param keyPart0 The deployed key contracts, in order; each one's code must hash to
    /// its `KEY<i>_CODEHASH`.
    constructor({key_params}) {{
{key_checks}    }}

    /// @notice Returns true when `proof` is a valid proof for the public `instances`; false
    /// for any malformed or invalid proof. Never reverts on bad input.
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external view returns (bool) {{
        // The key data, from the key contracts into memory.
{key_copies}        assembly {{
            function fail() {{
                mstore(0x00, 0)
                return(0x00, 0x20)
            }}
            // y^2 = x^3 + 3 over the base field, coordinates canonical; (0, 0) is infinity.
            function onCurve(x, y) -> ok {{
                let q := {q_hex}
                ok := and(lt(x, q), lt(y, q))
                if and(ok, or(x, y)) {{
                    ok := eq(mulmod(y, y, q), addmod(mulmod(mulmod(x, x, q), x, q), 3, q))
                }}
            }}
            // a^(r-2) mod r by the modexp precompile (0 for a = 0).
            function invert(a, r) -> out {{
                mstore(0x00, 0x20)
                mstore(0x20, 0x20)
                mstore(0x40, 0x20)
                mstore(0x60, a)
                mstore(0x80, sub(r, 2))
                mstore(0xa0, r)
                if iszero(staticcall(gas(), 5, 0x00, 0xc0, 0x00, 0x20)) {{ fail() }}
                out := mload(0x00)
            }}
            // Inverts `count` words at `ptr` in place (Montgomery's trick); 0 if any is 0.
            function batchInvert(ptr, count, tmp, r) -> ok {{
                let acc := 1
                for {{ let i := 0 }} lt(i, count) {{ i := add(i, 1) }} {{
                    mstore(add(tmp, shl(5, i)), acc)
                    acc := mulmod(acc, mload(add(ptr, shl(5, i))), r)
                }}
                ok := iszero(iszero(acc))
                let a := invert(acc, r)
                for {{ let i := count }} gt(i, 0) {{ }} {{
                    i := sub(i, 1)
                    let at := add(ptr, shl(5, i))
                    let v := mload(at)
                    mstore(at, mulmod(a, mload(add(tmp, shl(5, i))), r))
                    a := mulmod(a, v, r)
                }}
            }}
            // acc += s * (x, y), by the ecMul and ecAdd precompiles.
            function mulAcc(x, y, s, acc) -> ok {{
                mstore(0x00, x)
                mstore(0x20, y)
                mstore(0x40, s)
                ok := staticcall(gas(), 7, 0x00, 0x60, 0x00, 0x40)
                mstore(0x40, mload(acc))
                mstore(0x60, mload(add(acc, 0x20)))
                ok := and(ok, staticcall(gas(), 6, 0x00, 0x80, acc, 0x40))
            }}
            // Opens one set's polynomials from its table (see the generator): accumulates
            // y^i * factor * C_i into the MSM and returns r_inner = sum_i y^i * r_i(u).
            function openSet(tab, count, m, basis) -> ok {{
                ok := 1
                let ypow := 1
                mstore({s_rin:#x}, 0)
                for {{ let i := 0 }} lt(i, count) {{ i := add(i, 1) }} {{
                    let e := shr(224, mload(tab))
                    tab := add(tab, 4)
                    let interp := 0
                    for {{ let j := 0 }} lt(j, m) {{ j := add(j, 1) }} {{
                        let ev := shr(224, mload(tab))
                        tab := add(tab, 4)
                        switch shr(24, ev)
                        case 0 {{ ev := calldataload(add(mload({s_p:#x}), ev)) }}
                        default {{ ev := mload(and(ev, 0xffffff)) }}
                        interp := addmod(interp, mulmod(ev, mload(add(basis, shl(5, j))), {r_word}), {r_word})
                    }}
                    mstore({s_rin:#x}, addmod(mload({s_rin:#x}), mulmod(ypow, interp, {r_word}), {r_word}))
                    let s := mulmod(ypow, mload({s_factor:#x}), {r_word})
                    switch shr(24, e)
                    case 0 {{
                        e := add(mload({s_p:#x}), e)
                        ok := and(ok, mulAcc(calldataload(e), calldataload(add(e, 0x20)), s, {s_acc:#x}))
                    }}
                    case 1 {{
                        e := and(e, 0xffffff)
                        ok := and(ok, mulAcc(mload(e), mload(add(e, 0x20)), s, {s_acc:#x}))
                    }}
                    default {{
                        // The quotient: pieces h_j with scalars s * x^(n j).
                        e := add(mload({s_p:#x}), and(e, 0xffffff))
                        for {{ let j := 0 }} lt(j, {pieces}) {{ j := add(j, 1) }} {{
                            ok := and(ok, mulAcc(calldataload(e), calldataload(add(e, 0x20)), s, {s_acc:#x}))
                            s := mulmod(s, mload({s_xn:#x}), {r_word})
                            e := add(e, 0x40)
                        }}
                    }}
                    ypow := mulmod(ypow, mload({s_sy:#x}), {r_word})
                }}
            }}
            let r := {r_word}
{body}        }}
    }}
}}
"#,
        marker = crate::GENERATED_MARKER,
        digest = fr_hex(&digest),
        program = hex(&vk.model.program_digest),
    );
    Ok(GeneratedVerifier { source, key_blob })
}
