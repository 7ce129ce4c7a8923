//! The gate polynomials as a register program, for verifiers whose inline gate code would
//! not fit one contract: the generator stores it after the key data and the verifier runs it
//! in a loop (see [`GateCode::Interpreted`]).

use std::collections::HashMap;

use ark_bn254::Fr;
use zkml_verifier::encoding::fr_to_be;
use zkml_verifier::vk::Expr;

use crate::generate::word;
use crate::plan::Plan;
use crate::GenerateError;

/// How the verifier evaluates the gate polynomials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateCode {
    /// Straight-line Yul: the least gas, but code that grows with the circuit's width.
    Inline,
    /// A compact program stored with the key data and run by a small interpreter in the
    /// verifier: code of constant size for wide circuits, at some extra gas per operation.
    Interpreted,
}

/// An operand of a gate-program instruction: a memory word, named before the memory map is
/// fixed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Operand {
    /// A word of the proof's copy in memory, by its offset in the proof.
    Proof(usize),
    /// An absolute address.
    At(usize),
    /// An entry of the constant pool.
    Const(usize),
    /// A temporary, by its depth.
    Temp(usize),
}

/// Gate-program opcodes (the interpreter's `switch`).
pub(crate) const OP_ADD: u16 = 0;
pub(crate) const OP_MUL: u16 = 1;
pub(crate) const OP_NEG: u16 = 2;
/// Folds an operand into the quotient accumulator: `acc = acc * y + a`.
pub(crate) const OP_PUSH: u16 = 3;

/// Bytes per encoded instruction: opcode, destination, two operands (16 bits each; addresses
/// as word indices).
pub(crate) const INSTRUCTION_BYTES: usize = 8;

/// The gate polynomials as a register program: every compound node writes the temporary of
/// its depth, so the left operand's temporary is free again once the node is computed.
#[derive(Default)]
pub(crate) struct GateProgram {
    pub(crate) ops: Vec<(u16, Operand, Operand, Operand)>,
    pub(crate) consts: Vec<Fr>,
    const_index: HashMap<[u8; 32], usize>,
    pub(crate) depth: usize,
}

impl GateProgram {
    fn constant(&mut self, f: Fr) -> Operand {
        let bytes = fr_to_be(&f);
        let next = self.consts.len();
        let i = *self.const_index.entry(bytes).or_insert(next);
        if i == next {
            self.consts.push(f);
        }
        Operand::Const(i)
    }

    fn operand(
        &mut self,
        e: &Expr,
        level: usize,
        plan: &Plan,
        inst: usize,
    ) -> Result<Operand, GenerateError> {
        let l = &plan.layout;
        let dst = Operand::Temp(level);
        let op = match e {
            Expr::Constant(w) => return Ok(self.constant(word(w)?)),
            Expr::Fixed(i) => return Ok(Operand::Proof(l.fixed_evals + 32 * *i as usize)),
            Expr::Advice(i) => return Ok(Operand::Proof(l.advice_evals + 32 * *i as usize)),
            Expr::Instance(_) => return Ok(Operand::At(inst)),
            // The challenges follow the instance evaluation in memory.
            Expr::Challenge(i) => return Ok(Operand::At(inst + 32 * (1 + *i as usize))),
            Expr::Negated(a) => {
                let a = self.operand(a, level, plan, inst)?;
                (OP_NEG, a, a)
            }
            Expr::Scaled(a, w) => {
                let a = self.operand(a, level, plan, inst)?;
                (OP_MUL, a, self.constant(word(w)?))
            }
            Expr::Sum(a, b) | Expr::Product(a, b) => {
                let a = self.operand(a, level, plan, inst)?;
                let b = self.operand(b, level + 1, plan, inst)?;
                let op = if matches!(e, Expr::Sum(..)) {
                    OP_ADD
                } else {
                    OP_MUL
                };
                (op, a, b)
            }
        };
        self.depth = self.depth.max(level + 1);
        self.ops.push((op.0, dst, op.1, op.2));
        Ok(dst)
    }

    pub(crate) fn gate(&mut self, e: &Expr, plan: &Plan, inst: usize) -> Result<(), GenerateError> {
        let a = self.operand(e, 0, plan, inst)?;
        self.ops.push((OP_PUSH, a, a, a));
        Ok(())
    }

    /// Bytes of the constant pool and the program, which follow the key's other data.
    pub(crate) fn data_len(&self) -> usize {
        32 * self.consts.len() + INSTRUCTION_BYTES * self.ops.len()
    }
}
