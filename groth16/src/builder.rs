//! The R1CS builder: signals (linear combinations with their values) and the gadgets every
//! lowering is made of (products, booleans, range checks by bits, decisions, one-hot vectors).

use ark_bn254::Fr;

use crate::r1cs::{field, Constraint, Lc, R1cs, Var};

/// A linear combination with the integer it evaluates to (0 without a trace).
#[derive(Clone, Debug)]
pub(crate) struct Sig {
    pub terms: Vec<(Var, i128)>,
    pub val: i128,
}

impl Sig {
    pub(crate) fn constant(v: i128) -> Self {
        Self {
            terms: if v == 0 { vec![] } else { vec![(Var::One, v)] },
            val: v,
        }
    }

    pub(crate) fn var(v: Var, val: i128) -> Self {
        Self {
            terms: vec![(v, 1)],
            val,
        }
    }

    /// Adds `c * s` in place.
    pub(crate) fn add(&mut self, s: &Sig, c: i128) {
        self.terms.extend(s.terms.iter().map(|&(v, k)| (v, k * c)));
        self.val += s.val * c;
    }

    /// The same signal with each variable once.
    pub(crate) fn merged(mut self) -> Self {
        self.terms = lc_terms(&self.terms);
        self
    }

    /// The constant this signal is, if it uses no variable.
    pub(crate) fn as_const(&self) -> Option<i128> {
        self.terms
            .iter()
            .all(|(v, _)| *v == Var::One)
            .then_some(self.val)
    }
}

/// Collects constraints and the values of instance and witness variables.
pub(crate) struct Builder {
    pub(crate) r1cs: R1cs,
    pub(crate) instance: Vec<Fr>,
    pub(crate) witness: Vec<Fr>,
    pub(crate) bits: u32,
    /// Whether input values are public (instance variables) or witnesses.
    pub(crate) public_inputs: bool,
    /// Whether parameters are witnesses (private or hashed) rather than constants.
    pub(crate) witness_params: bool,
}

pub(crate) fn lc(terms: &[(Var, i128)]) -> Lc {
    let mut sorted: Vec<(Var, i128)> = terms.to_vec();
    sorted.sort_by_key(|t| t.0);
    let mut out: Lc = Vec::with_capacity(sorted.len());
    let mut last: Option<(Var, i128)> = None;
    for (v, c) in sorted {
        match &mut last {
            Some((lv, lc)) if *lv == v => *lc += c,
            _ => {
                if let Some((lv, lc)) = last.take() {
                    if lc != 0 {
                        out.push((lv, field(lc)));
                    }
                }
                last = Some((v, c));
            }
        }
    }
    if let Some((lv, lc)) = last {
        if lc != 0 {
            out.push((lv, field(lc)));
        }
    }
    out
}

/// Bits needed for values up to `max` (at least 1).
pub(crate) fn bits_for(max: u128) -> u32 {
    (128 - max.leading_zeros()).max(1)
}

impl Builder {
    pub(crate) fn witness(&mut self, val: i128) -> Sig {
        let i = self.r1cs.num_witness as u32;
        self.r1cs.num_witness += 1;
        self.witness.push(field(val));
        Sig::var(Var::Witness(i), val)
    }

    /// A witness holding any field element (hash states).
    pub(crate) fn witness_fr(&mut self, val: Fr) -> Var {
        let i = self.r1cs.num_witness as u32;
        self.r1cs.num_witness += 1;
        self.witness.push(val);
        Var::Witness(i)
    }

    /// A public value holding any field element (hashes).
    pub(crate) fn instance_fr(&mut self, val: Fr) -> Var {
        let i = self.r1cs.num_instance as u32;
        self.r1cs.num_instance += 1;
        self.instance.push(val);
        Var::Instance(i)
    }

    /// `a * b = c` over linear combinations with field coefficients.
    pub(crate) fn enforce_lc(&mut self, a: Lc, b: Lc, c: Lc) {
        self.r1cs.constraints.push(Constraint { a, b, c });
    }

    pub(crate) fn instance(&mut self, val: i128) -> Sig {
        let i = self.r1cs.num_instance as u32;
        self.r1cs.num_instance += 1;
        self.instance.push(field(val));
        Sig::var(Var::Instance(i), val)
    }

    pub(crate) fn enforce(&mut self, a: &[(Var, i128)], b: &[(Var, i128)], c: &[(Var, i128)]) {
        self.r1cs.constraints.push(Constraint {
            a: lc(a),
            b: lc(b),
            c: lc(c),
        });
    }

    /// `sum coeff * sig + constant`.
    pub(crate) fn lin(&self, terms: &[(&Sig, i128)], constant: i128) -> Sig {
        let mut out = Sig::constant(constant);
        for &(s, c) in terms {
            if c != 0 {
                out.add(s, c);
            }
        }
        if out.terms.len() > 64 {
            out = out.merged();
        }
        out
    }

    /// A signal over at most one variable: long combinations become one witness (one
    /// constraint), so that signals used many times stay sparse.
    pub(crate) fn compact(&mut self, s: Sig) -> Sig {
        if s.terms.len() <= 64 {
            return s;
        }
        let w = self.witness(s.val);
        self.enforce(&s.terms, &[(Var::One, 1)], &w.terms);
        w
    }

    /// `a * b`: a constant factor is free, otherwise one constraint.
    pub(crate) fn mul(&mut self, a: &Sig, b: &Sig) -> Sig {
        if let Some(c) = a.as_const() {
            return self.lin(&[(b, c)], 0);
        }
        if let Some(c) = b.as_const() {
            return self.lin(&[(a, c)], 0);
        }
        let p = self.witness(a.val * b.val);
        self.enforce(&a.terms, &b.terms, &p.terms);
        p
    }

    /// A new witness constrained to 0 or 1.
    pub(crate) fn boolean(&mut self, val: i128) -> Sig {
        let b = self.witness(val);
        self.enforce_boolean(&b);
        b
    }

    pub(crate) fn enforce_boolean(&mut self, b: &Sig) {
        let mut minus_one = b.terms.clone();
        minus_one.push((Var::One, -1));
        self.enforce(&b.terms, &minus_one, &[]);
    }

    /// `0 <= s < 2^n`: `n` bits and their recomposition.
    pub(crate) fn unsigned(&mut self, s: &Sig, n: u32) {
        assert!(n <= 200, "range checks stay far below the field size");
        if let Some(c) = s.as_const() {
            assert!(c >= 0 && c < 1i128 << n, "constant {c} outside {n} bits");
            return;
        }
        let mut sum = Vec::with_capacity(n as usize);
        for i in 0..n {
            let bit = (s.val.max(0) >> i) & 1;
            let b = self.boolean(bit);
            sum.push((b.terms[0].0, 1i128 << i));
        }
        self.enforce(&sum, &[(Var::One, 1)], &s.terms);
    }

    /// `-2^(n-1) <= s < 2^(n-1)`.
    pub(crate) fn signed(&mut self, s: &Sig, n: u32) {
        let shifted = self.lin(&[(s, 1)], 1i128 << (n - 1));
        self.unsigned(&shifted, n);
    }

    /// `lo <= s <= hi`.
    pub(crate) fn bounded(&mut self, s: &Sig, lo: i64, hi: i64) {
        let span = (i128::from(hi) - i128::from(lo)) as u128;
        let n = bits_for(span);
        let low = self.lin(&[(s, 1)], -i128::from(lo));
        self.unsigned(&low, n);
        if span + 1 != 1u128 << n {
            let high = self.lin(&[(s, -1)], i128::from(hi));
            self.unsigned(&high, n);
        }
    }

    /// The decision of `p` against `q` with strictness constants `e1`, `e0` (the circuits'
    /// selection): `b = 1` forces `p - q >= e1`, `b = 0` forces `q - p >= e0`. Returns the
    /// bit and `m = b (p - q)`.
    pub(crate) fn decide(
        &mut self,
        p: &Sig,
        q: &Sig,
        bit: i128,
        e1: i128,
        e0: i128,
        diff: u64,
    ) -> (Sig, Sig) {
        let b = self.boolean(bit);
        let d = self.lin(&[(p, 1), (q, -1)], 0);
        let m = self.mul(&b, &d);
        // t = (2b - 1)(p - q) - b e1 - (1 - b) e0 = 2m - d - b e1 - (1 - b) e0 >= 0
        let t = self.lin(&[(&m, 2), (&d, -1), (&b, e0 - e1)], -e0);
        self.unsigned(&t, bits_for(u128::from(diff) + 1));
        (b, m)
    }

    /// `max(p, q)` (or the minimum).
    pub(crate) fn max(&mut self, p: &Sig, q: &Sig, min: bool, diff: u64) -> Sig {
        if let (Some(a), Some(b)) = (p.as_const(), q.as_const()) {
            return Sig::constant(if min { a.min(b) } else { a.max(b) });
        }
        let (_, m) = self.decide(p, q, i128::from(p.val >= q.val), 0, 0, diff);
        if min {
            self.lin(&[(p, 1), (&m, -1)], 0)
        } else {
            self.lin(&[(q, 1), (&m, 1)], 0)
        }
    }

    /// `max(v, 0)`.
    pub(crate) fn relu(&mut self, v: &Sig, bound: u64) -> Sig {
        if let Some(c) = v.as_const() {
            return Sig::constant(c.max(0));
        }
        let b = self.boolean(i128::from(v.val >= 0));
        let y = self.mul(&b, v);
        // (2b - 1) v = 2y - v >= 0
        let t = self.lin(&[(&y, 2), (v, -1)], 0);
        self.unsigned(&t, bits_for(u128::from(bound)));
        y
    }

    /// `|v|`.
    pub(crate) fn abs(&mut self, v: &Sig, bound: u64) -> Sig {
        if let Some(c) = v.as_const() {
            return Sig::constant(c.abs());
        }
        let b = self.boolean(i128::from(v.val >= 0));
        let y = self.mul(&b, v);
        let t = self.lin(&[(&y, 2), (v, -1)], 0);
        self.unsigned(&t, bits_for(u128::from(bound)));
        t
    }

    /// `[a > b]` (`strict`) or `[a >= b]`, exactly.
    pub(crate) fn compare(&mut self, a: &Sig, b: &Sig, strict: bool, diff: u64) -> Sig {
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            return Sig::constant(i128::from(if strict { x > y } else { x >= y }));
        }
        let holds = if strict {
            a.val > b.val
        } else {
            a.val >= b.val
        };
        let (e1, e0) = if strict { (1, 0) } else { (0, 1) };
        self.decide(a, b, i128::from(holds), e1, e0, diff).0
    }

    /// `dim` selectors, exactly one set, at `position` (which no constraint ties them to: the
    /// caller recomposes them).
    pub(crate) fn one_hot_free(&mut self, position: i128, dim: usize) -> Vec<Sig> {
        let bits: Vec<Sig> = (0..dim)
            .map(|t| self.boolean(i128::from(position == t as i128)))
            .collect();
        let count: Vec<(Var, i128)> = bits.iter().map(|b| (b.terms[0].0, 1)).collect();
        self.enforce(&count, &[(Var::One, 1)], &[(Var::One, 1)]);
        bits
    }

    /// `dim` selectors, exactly one set, at `index` (`lo + t` for selector `t`).
    pub(crate) fn one_hot(&mut self, index: &Sig, lo: i128, dim: usize) -> Vec<Sig> {
        let bits: Vec<Sig> = (0..dim)
            .map(|t| self.boolean(i128::from(index.val == lo + t as i128)))
            .collect();
        let count: Vec<(Var, i128)> = bits.iter().map(|b| (b.terms[0].0, 1)).collect();
        self.enforce(&count, &[(Var::One, 1)], &[(Var::One, 1)]);
        let weighted: Vec<(Var, i128)> = bits
            .iter()
            .enumerate()
            .map(|(t, b)| (b.terms[0].0, lo + t as i128))
            .collect();
        self.enforce(&weighted, &[(Var::One, 1)], &index.terms);
        bits
    }
}

pub(crate) fn lc_terms(terms: &[(Var, i128)]) -> Vec<(Var, i128)> {
    let mut sorted = terms.to_vec();
    sorted.sort_by_key(|t| t.0);
    let mut out: Vec<(Var, i128)> = Vec::with_capacity(sorted.len());
    for (v, c) in sorted {
        match out.last_mut() {
            Some((lv, lc)) if *lv == v => *lc += c,
            _ => out.push((v, c)),
        }
    }
    out.retain(|t| t.1 != 0);
    out
}
