//! Poseidon round gates: a row of full or partial rounds (equations in the parent module's
//! documentation).

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{ConstraintSystem, Expression};

use super::ModelConfig;
use crate::layout::{AdviceCol, Gate};

impl ModelConfig {
    pub(super) fn poseidon_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let mds = crate::poseidon::constants().mds;
        for (kind, spec) in crate::poseidon::row_kinds(self.params.lanes)
            .into_iter()
            .enumerate()
        {
            meta.create_gate("poseidon rounds", |v| {
                let s = self.on(v, Gate::Poseidon(kind as u8));
                let x: Vec<Expression<Fr>> = (0..spec.lanes()).map(|i| self.xq(v, i)).collect();
                let next: Vec<Expression<Fr>> =
                    (0..3).map(|i| self.cell(v, AdviceCol::X(i), 1)).collect();
                let rc: Vec<Expression<Fr>> =
                    (0..3 * spec.rounds).map(|f| self.wflat(v, f)).collect();
                let constraints = if spec.full {
                    full_round_constraints(&spec, &x, &next, &rc, &mds)
                } else {
                    partial_round_constraints(&spec, &x, &next, &rc, &mds)
                };
                constraints
                    .into_iter()
                    .map(|c| s.clone() * c)
                    .collect::<Vec<_>>()
            });
        }
    }
}

/// Constraints of a row of full rounds (see the module documentation).
fn full_round_constraints(
    spec: &crate::poseidon::RowSpec,
    x: &[Expression<Fr>],
    next: &[Expression<Fr>],
    rc: &[Expression<Fr>],
    mds: &[[Fr; 3]; 3],
) -> Vec<Expression<Fr>> {
    let n = spec.rounds;
    let mut out = Vec::new();
    for i in 0..n {
        let t: Vec<Expression<Fr>> = (0..3)
            .map(|k| {
                let t = x[6 * i + k].clone() + rc[3 * i + k].clone();
                if spec.absorb && i == 0 && k > 0 {
                    t + x[6 * n + k - 1].clone()
                } else {
                    t
                }
            })
            .collect();
        let q: Vec<Expression<Fr>> = (0..3).map(|k| x[6 * i + 3 + k].clone()).collect();
        for k in 0..3 {
            out.push(q[k].clone() - t[k].clone() * t[k].clone());
        }
        let u: Vec<Expression<Fr>> = (0..3)
            .map(|k| q[k].clone() * q[k].clone() * t[k].clone())
            .collect();
        for k in 0..3 {
            let mixed = (0..3).fold(Expression::Constant(Fr::zero()), |acc, j| {
                acc + Expression::Constant(mds[k][j]) * u[j].clone()
            });
            let target = if i + 1 < n {
                x[6 * (i + 1) + k].clone()
            } else {
                next[k].clone()
            };
            out.push(target - mixed);
        }
    }
    out
}

/// A linear combination over a row's atoms (cells, S-box outputs, round constants), kept as
/// coefficients so that chaining partial rounds does not grow expressions.
#[derive(Clone)]
struct Lin(Vec<Fr>);

impl Lin {
    fn atom(n: usize, i: usize) -> Self {
        let mut v = vec![Fr::zero(); n];
        v[i] = Fr::one();
        Lin(v)
    }

    fn axpy(&mut self, a: Fr, other: &Lin) {
        for (s, o) in self.0.iter_mut().zip(&other.0) {
            *s += a * o;
        }
    }

    fn expr(&self, atoms: &[Expression<Fr>]) -> Expression<Fr> {
        self.0
            .iter()
            .zip(atoms)
            .filter(|(c, _)| **c != Fr::zero())
            .fold(Expression::Constant(Fr::zero()), |acc, (c, a)| {
                if *c == Fr::one() {
                    acc + a.clone()
                } else {
                    acc + Expression::Constant(*c) * a.clone()
                }
            })
    }
}

/// Constraints of a row of partial rounds (see the module documentation).
fn partial_round_constraints(
    spec: &crate::poseidon::RowSpec,
    x: &[Expression<Fr>],
    next: &[Expression<Fr>],
    rc: &[Expression<Fr>],
    mds: &[[Fr; 3]; 3],
) -> Vec<Expression<Fr>> {
    let n = spec.rounds;
    // Atoms: x[1], x[2], then per round u_i (S-box output), rc_i1, rc_i2.
    let mut atoms = vec![x[1].clone(), x[2].clone()];
    let first = |i: usize| {
        if i == 0 {
            x[0].clone()
        } else {
            x[2 * i + 2].clone()
        }
    };
    for i in 0..n {
        let t0 = first(i) + rc[3 * i].clone();
        let q = x[2 * i + 3].clone();
        atoms.push(q.clone() * q * t0);
        atoms.push(rc[3 * i + 1].clone());
        atoms.push(rc[3 * i + 2].clone());
    }
    let size = atoms.len();
    let mut out = Vec::new();
    let (mut w1, mut w2) = (Lin::atom(size, 0), Lin::atom(size, 1));
    for i in 0..n {
        let t0 = first(i) + rc[3 * i].clone();
        let q = x[2 * i + 3].clone();
        out.push(q - t0.clone() * t0);
        let u = Lin::atom(size, 2 + 3 * i);
        let mut t1 = w1.clone();
        t1.axpy(Fr::one(), &Lin::atom(size, 3 + 3 * i));
        let mut t2 = w2.clone();
        t2.axpy(Fr::one(), &Lin::atom(size, 4 + 3 * i));
        let mix = |k: usize| {
            let mut m = Lin(vec![Fr::zero(); size]);
            m.axpy(mds[k][0], &u);
            m.axpy(mds[k][1], &t1);
            m.axpy(mds[k][2], &t2);
            m
        };
        let (n0, n1, n2) = (mix(0), mix(1), mix(2));
        if i + 1 < n {
            out.push(first(i + 1) - n0.expr(&atoms));
            w1 = n1;
            w2 = n2;
        } else {
            out.push(next[0].clone() - n0.expr(&atoms));
            out.push(next[1].clone() - n1.expr(&atoms));
            out.push(next[2].clone() - n2.expr(&atoms));
        }
    }
    out
}
