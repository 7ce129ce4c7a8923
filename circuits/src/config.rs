//! The constraint system: columns, gates and lookups of a model circuit.
//!
//! Gates (each enabled by its own selector; `S_j = sum_i w[j][i] x[i]`, `prev` the row above):
//!
//! ```text
//! LinFirst   z[j] - c[j] - S_j = 0                                    j < M
//! LinNext    z[j] - z[j](prev) - c[j] - S_j = 0                       j < M
//! MulFirst   z[j] - c[j] - x[2j] x[2j+1] = 0                          j < M
//! MulNext    z[j] - z[j](prev) - c[j] - x[2j] x[2j+1] = 0             j < M
//! Div        c[g] a + b - 2 b y - r = 0,  c[g] (z[g] - 2b + 1 + r) = 0
//!            with (a, b, y, r) = x[4g..4g+4]                          g < G4
//! Sqrt       c[g] v - y^2 - t1 = 0,  y^2 + 2y - c[g] v - z[g] = 0
//!            with (v, y, t1) = x[3g..3g+3]                            g < G3
//! Select     b^2 - b = 0,
//!            w[g][3] (t - (2b-1)(p-q) + b w[g][0] + (1-b) w[g][1]) = 0,
//!            z[g] - b (p + w[g][2](q-p)) - (1-b)(q + w[g][2](p-q)) = 0
//!            with (p, q, b, t) = x[4g..4g+4]                          g < G4
//! ```
//!
//! Poseidon rounds (only in circuits that hash; `t_i = x[i] + w[0][i]` with the round constant
//! in `w[0][i]`, plus the message words `x[6], x[7]` added to `t_1, t_2` in the absorbing round;
//! the round's output state is the next row's `x[0..3]`; `MDS` is the Poseidon matrix):
//!
//! ```text
//! PoseidonAbsorb, PoseidonFull    x[3+i] - t_i^2 = 0
//!                                 x[i](next) - sum_j MDS[i][j] x[3+j]^2 t_j = 0      i < 3
//! PoseidonPartial                 x[3] - t_0^2 = 0
//!                                 x[i](next) - MDS[i][0] x[3]^2 t_0
//!                                            - MDS[i][1] t_1 - MDS[i][2] t_2 = 0     i < 3
//! ```
//!
//! Lookups: every range stream row `(rtag, rs)` lies in the range table `{(0,0)} u {(t, v) :
//! 1 <= t <= R, 0 <= v < 2^t}`; every function stream row `(ttag, ti, to)` lies in the function
//! table `{(0,0,0)} u {(tag, x, f(x))}`.

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Expression, Fixed, Instance, Selector, TableColumn,
};
use halo2_proofs::poly::Rotation;

use crate::layout::Gate;
use crate::params::CircuitParams;

/// Columns and selectors of a configured model circuit.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// The shape this configuration was built for.
    pub params: CircuitParams,
    /// Operand lanes.
    pub x: Vec<Column<Advice>>,
    /// Result lanes.
    pub z: Vec<Column<Advice>>,
    /// Range streams.
    pub range: Vec<Column<Advice>>,
    /// Function stream inputs.
    pub table_in: Vec<Column<Advice>>,
    /// Function stream outputs.
    pub table_out: Vec<Column<Advice>>,
    /// Weights `w[j][i]` at `j * W + i`.
    pub w: Vec<Column<Fixed>>,
    /// Row constants.
    pub c: Vec<Column<Fixed>>,
    /// Range stream tags.
    pub range_tag: Vec<Column<Fixed>>,
    /// Function stream tags.
    pub table_tag: Vec<Column<Fixed>>,
    /// One selector per [`Gate`], in [`Gate::ALL`] order (`None`: gate not configured).
    pub selectors: Vec<Option<Selector>>,
    /// Range table `(tag, value)`.
    pub range_table: [TableColumn; 2],
    /// Function table `(tag, input, output)`.
    pub function_table: [TableColumn; 3],
    /// Public values.
    pub instance: Column<Instance>,
}

impl ModelConfig {
    /// Declares the columns, gates and lookups.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, p: CircuitParams) -> Self {
        let (w_lanes, m) = (p.lanes, p.results);
        let advice = |meta: &mut ConstraintSystem<Fr>, n: usize| -> Vec<Column<Advice>> {
            (0..n)
                .map(|_| {
                    let c = meta.advice_column();
                    meta.enable_equality(c);
                    c
                })
                .collect()
        };
        let x = advice(meta, w_lanes);
        let z = advice(meta, m);
        let range = advice(meta, p.range_streams);
        let table_in = advice(meta, p.table_streams);
        let table_out = advice(meta, p.table_streams);
        let fixed = |meta: &mut ConstraintSystem<Fr>, n: usize| -> Vec<Column<Fixed>> {
            (0..n).map(|_| meta.fixed_column()).collect()
        };
        let w = fixed(meta, m * w_lanes);
        let c = fixed(meta, m);
        let range_tag = fixed(meta, p.range_streams);
        let table_tag = fixed(meta, p.table_streams);
        let selectors: Vec<Option<Selector>> = Gate::ALL
            .iter()
            .map(|g| (p.poseidon || !g.is_poseidon()).then(|| meta.selector()))
            .collect();
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let range_table = [meta.lookup_table_column(), meta.lookup_table_column()];
        let function_table = [
            meta.lookup_table_column(),
            meta.lookup_table_column(),
            meta.lookup_table_column(),
        ];

        let config = Self {
            params: p,
            x,
            z,
            range,
            table_in,
            table_out,
            w,
            c,
            range_tag,
            table_tag,
            selectors,
            range_table,
            function_table,
            instance,
        };
        config.linear_gates(meta);
        config.product_gates(meta);
        config.div_sqrt_gates(meta);
        config.select_gate(meta);
        if p.poseidon {
            config.poseidon_gates(meta);
        }
        config.lookups(meta);
        meta.set_minimum_degree(p.degree);
        config
    }

    fn selector(&self, gate: Gate) -> Selector {
        self.selectors[gate.index()].expect("gates query configured selectors")
    }

    fn poseidon_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let mds = crate::poseidon::constants().mds;
        let constant = |f: Fr| Expression::Constant(f);
        for gate in [
            Gate::PoseidonAbsorb,
            Gate::PoseidonFull,
            Gate::PoseidonPartial,
        ] {
            meta.create_gate("poseidon round", |v| {
                let s = v.query_selector(self.selector(gate));
                let x: Vec<Expression<Fr>> = (0..8)
                    .map(|i| v.query_advice(self.x[i], Rotation::cur()))
                    .collect();
                let next: Vec<Expression<Fr>> = (0..3)
                    .map(|i| v.query_advice(self.x[i], Rotation::next()))
                    .collect();
                let rc: Vec<Expression<Fr>> = (0..3)
                    .map(|i| v.query_fixed(self.w[i], Rotation::cur()))
                    .collect();
                let t: Vec<Expression<Fr>> = (0..3)
                    .map(|i| {
                        let t = x[i].clone() + rc[i].clone();
                        if gate == Gate::PoseidonAbsorb && i > 0 {
                            t + x[5 + i].clone()
                        } else {
                            t
                        }
                    })
                    .collect();
                let sboxed = if gate == Gate::PoseidonPartial { 1 } else { 3 };
                let mut constraints = Vec::new();
                let mut u = t.clone();
                for i in 0..sboxed {
                    let q = x[3 + i].clone();
                    constraints.push(s.clone() * (q.clone() - t[i].clone() * t[i].clone()));
                    u[i] = q.clone() * q * t[i].clone();
                }
                for (i, n) in next.iter().enumerate() {
                    let mixed = (0..3).fold(Expression::Constant(Fr::zero()), |acc, j| {
                        acc + constant(mds[i][j]) * u[j].clone()
                    });
                    constraints.push(s.clone() * (n.clone() - mixed));
                }
                constraints
            });
        }
    }

    fn linear_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let p = self.params;
        meta.create_gate("linear", |v| {
            let first = v.query_selector(self.selector(Gate::LinFirst));
            let next = v.query_selector(self.selector(Gate::LinNext));
            let xs: Vec<Expression<Fr>> = self
                .x
                .iter()
                .map(|&c| v.query_advice(c, Rotation::cur()))
                .collect();
            (0..p.results)
                .flat_map(|j| {
                    let z = v.query_advice(self.z[j], Rotation::cur());
                    let prev = v.query_advice(self.z[j], Rotation::prev());
                    let c = v.query_fixed(self.c[j], Rotation::cur());
                    let sum = xs.iter().enumerate().fold(c, |acc, (i, x)| {
                        acc + v.query_fixed(self.w[j * p.lanes + i], Rotation::cur()) * x.clone()
                    });
                    [
                        first.clone() * (z.clone() - sum.clone()),
                        next.clone() * (z - prev - sum),
                    ]
                })
                .collect::<Vec<_>>()
        });
    }

    fn product_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let p = self.params;
        meta.create_gate("product", |v| {
            let first = v.query_selector(self.selector(Gate::MulFirst));
            let next = v.query_selector(self.selector(Gate::MulNext));
            (0..p.results)
                .flat_map(|j| {
                    let a = v.query_advice(self.x[2 * j], Rotation::cur());
                    let b = v.query_advice(self.x[2 * j + 1], Rotation::cur());
                    let z = v.query_advice(self.z[j], Rotation::cur());
                    let prev = v.query_advice(self.z[j], Rotation::prev());
                    let c = v.query_fixed(self.c[j], Rotation::cur());
                    let step = c + a * b;
                    [
                        first.clone() * (z.clone() - step.clone()),
                        next.clone() * (z - prev - step),
                    ]
                })
                .collect::<Vec<_>>()
        });
    }

    fn div_sqrt_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let p = self.params;
        meta.create_gate("div", |v| {
            let q = v.query_selector(self.selector(Gate::Div));
            let two = Expression::Constant(Fr::from(2));
            let one = Expression::Constant(Fr::one());
            (0..p.quad_groups())
                .flat_map(|g| {
                    let [a, b, y, r] =
                        [0, 1, 2, 3].map(|k| v.query_advice(self.x[4 * g + k], Rotation::cur()));
                    let z = v.query_advice(self.z[g], Rotation::cur());
                    let c = v.query_fixed(self.c[g], Rotation::cur());
                    [
                        q.clone()
                            * (c.clone() * a + b.clone() - two.clone() * b.clone() * y - r.clone()),
                        q.clone() * c * (z - two.clone() * b + one.clone() + r),
                    ]
                })
                .collect::<Vec<_>>()
        });
        meta.create_gate("sqrt", |v| {
            let q = v.query_selector(self.selector(Gate::Sqrt));
            let two = Expression::Constant(Fr::from(2));
            (0..p.triple_groups())
                .flat_map(|g| {
                    let [val, y, t1] =
                        [0, 1, 2].map(|k| v.query_advice(self.x[3 * g + k], Rotation::cur()));
                    let t2 = v.query_advice(self.z[g], Rotation::cur());
                    let c = v.query_fixed(self.c[g], Rotation::cur());
                    [
                        q.clone() * (c.clone() * val.clone() - y.clone() * y.clone() - t1),
                        q.clone() * (y.clone() * y.clone() + two.clone() * y - c * val - t2),
                    ]
                })
                .collect::<Vec<_>>()
        });
    }

    fn select_gate(&self, meta: &mut ConstraintSystem<Fr>) {
        let p = self.params;
        meta.create_gate("select", |v| {
            let s = v.query_selector(self.selector(Gate::Select));
            let one = Expression::Constant(Fr::one());
            let two = Expression::Constant(Fr::from(2));
            (0..p.quad_groups())
                .flat_map(|g| {
                    let [pp, qq, b, t] =
                        [0, 1, 2, 3].map(|k| v.query_advice(self.x[4 * g + k], Rotation::cur()));
                    let out = v.query_advice(self.z[g], Rotation::cur());
                    let [e1, e0, min, check] = [0, 1, 2, 3]
                        .map(|k| v.query_fixed(self.w[g * p.lanes + k], Rotation::cur()));
                    let not_b = one.clone() - b.clone();
                    let diff = pp.clone() - qq.clone();
                    [
                        s.clone() * (b.clone() * b.clone() - b.clone()),
                        s.clone()
                            * check
                            * (t - (two.clone() * b.clone() - one.clone()) * diff
                                + b.clone() * e1
                                + not_b.clone() * e0),
                        s.clone()
                            * (out
                                - b * (pp.clone() + min.clone() * (qq.clone() - pp.clone()))
                                - not_b * (qq.clone() + min * (pp - qq))),
                    ]
                })
                .collect::<Vec<_>>()
        });
    }

    fn lookups(&self, meta: &mut ConstraintSystem<Fr>) {
        for l in 0..self.params.range_streams {
            meta.lookup("range", |v| {
                let tag = v.query_fixed(self.range_tag[l], Rotation::cur());
                let val = v.query_advice(self.range[l], Rotation::cur());
                vec![(tag, self.range_table[0]), (val, self.range_table[1])]
            });
        }
        for l in 0..self.params.table_streams {
            meta.lookup("function", |v| {
                let tag = v.query_fixed(self.table_tag[l], Rotation::cur());
                let input = v.query_advice(self.table_in[l], Rotation::cur());
                let output = v.query_advice(self.table_out[l], Rotation::cur());
                vec![
                    (tag, self.function_table[0]),
                    (input, self.function_table[1]),
                    (output, self.function_table[2]),
                ]
            });
        }
    }
}
