//! Gate and lookup expressions as Yul: evaluations read from the proof's copy in memory, deep
//! or shared subexpressions spilled into temporaries.

use std::collections::HashMap;
use std::fmt::Write;

use zkml_verifier::vk::Expr;

use super::yul::{fr_hex, m, word};
use crate::plan::{ColumnEval, Plan};
use crate::GenerateError;

/// Expressions nested deeper than this are computed into a memory temporary first.
const MAX_INLINE_DEPTH: usize = 4;

/// Evaluations at the challenge point, as Yul expressions.
pub(super) struct Evals<'a> {
    pub(super) plan: &'a Plan,
    /// Where the proof is copied in memory.
    pub(super) proof_mem: usize,
    pub(super) instance_eval: usize,
    /// Challenge `i` is the word at `challenges + 32 i`.
    pub(super) challenges: usize,
}

impl Evals<'_> {
    /// A proof word, read from the proof's copy in memory.
    pub(super) fn proof(&self, off: usize) -> String {
        m(self.proof_mem + off)
    }

    pub(super) fn advice(&self, i: usize) -> String {
        self.proof(self.plan.layout.advice_evals + 32 * i)
    }

    pub(super) fn fixed(&self, i: usize) -> String {
        self.proof(self.plan.layout.fixed_evals + 32 * i)
    }

    pub(super) fn column(&self, c: ColumnEval) -> String {
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
pub(super) struct ExprWriter<'a> {
    pub(super) evals: &'a Evals<'a>,
    pub(super) temps: usize,
    pub(super) used: usize,
    pub(super) capacity: usize,
    /// Occurrences of each compound subexpression, by its debug form.
    pub(super) counts: HashMap<String, usize>,
    /// Subexpressions already held in a temporary.
    pub(super) memo: HashMap<String, usize>,
}

pub(super) fn count_subexpressions(e: &Expr, counts: &mut HashMap<String, usize>) {
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
    pub(super) fn expr(
        &mut self,
        e: &Expr,
        out: &mut String,
    ) -> Result<(String, usize), GenerateError> {
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
