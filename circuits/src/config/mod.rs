//! The constraint system: columns, gates and lookups of a model circuit.
//!
//! Gates (each enabled by its own selector; `S_j = sum_i w[j][i] x[i]`, `prev` the row above):
//!
//! ```text
//! LinFirst   z[j] - c[j] - S_j = 0                                    j < M
//! LinNext    z[j] - z[j](prev) - c[j] - S_j = 0                       j < M
//!            (unfolded: the weight columns hold w[j][i] + WEIGHT_BIAS on linear rows, every
//!            lane of them written, and S_j = sum_i (w'[j][i] - WEIGHT_BIAS) x[i])
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
//! Relu       b^2 - b = 0,  (2b - 1)(v - c[g]) - lo - 2^R hi = 0,
//!            z[g] - c[g] - (b + m - 2 b m)(v - c[g]) = 0
//!            with (v, b, lo, hi) = x[4g..4g+4], m = w[g][0]           g < G4, unfolded only
//! RescaleRelu  n^2 - n = 0,  q - t + n (2t + 1) = 0,  z[g] - (1 - n) t = 0,
//!            x + c[g] / 2 - q c[g] - rlo - w[g][0] rhi = 0,  t = lo + w[g][1] hi
//!            with (x, q, n, lo, hi, rlo, rhi) = x[7g..7g+7]           g < G7, unfolded only
//! BitsFirst  x[i]^2 - x[i] = 0,  z[0] - S_0 = 0                       folded circuits only
//! BitsNext   x[i]^2 - x[i] = 0,  z[0] - z[0](prev) - S_0 = 0          folded circuits only
//! ```
//!
//! Circuits that check products by Freivalds' test ([`crate::layout::freivalds`]) add the
//! second-phase columns `v[0..W)` and `h`, committed after the challenge `r` is drawn:
//!
//! ```text
//! HornerFirst  v[i] - w[0][i] = 0                                     i < W
//! HornerNext   v[i] - r v[i](prev) - w[0][i] = 0                      i < W
//! FdotFirst    h - sum_i x[i] v[i] = 0
//! FdotNext     h - h(prev) - sum_i x[i] v[i] = 0
//! ```
//!
//! In a folded circuit ([`crate::fold`]) a "row" is a logical row of `stride` physical rows,
//! and a gate is enabled by the row selector times the gate's flag among the coefficients.
//!
//! Poseidon rounds (only in circuits that hash). A permutation's 65 rounds run over a few rows,
//! several rounds per row ([`crate::poseidon::schedule`]); one gate per row kind. Round `i` of a
//! row reads its constants from `w[3i..3i+3]` (flat weight columns), and the row's output state
//! is the next row's `x[0..3]`:
//!
//! ```text
//! full rounds (6 lanes each)     state s^i = x[6i..6i+3], squares q^i = x[6i+3..6i+6]
//!                                t_k = s^i_k + rc_ik  (+ message x[6n], x[6n+1] on words 1, 2 of
//!                                the first round of an absorbing row)
//!                                q^i_k - t_k^2 = 0,  s^(i+1)_k - sum_j MDS[k][j] (q^i_j)^2 t_j = 0
//! partial rounds (2 lanes each)  state x[0..3]; round i: first word f_i (x[0], then x[2i+2]),
//!                                square q_i = x[2i+3]; words 1, 2 stay linear combinations
//!                                t_0 = f_i + rc_i0,  q_i - t_0^2 = 0,
//!                                f_(i+1) - (MDS[0][0] q_i^2 t_0 + MDS[0][1] t_1 + MDS[0][2] t_2) = 0
//! ```
//!
//! Lookups: every range stream row `(rtag, rs)` lies in the range table `{(0,0)} u {(t, v) :
//! 1 <= t <= R, 0 <= v < 2^t}`; every function stream row `(ttag, ti, to)` lies in the function
//! table `{(0,0,0)} u {(tag, x, f(x))}`. Folded circuits check ranges with the bit rows instead
//! and scale the function lookup by its tag (see [`crate::fold`]).

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::PrimeField;
use halo2_proofs::plonk::{
    Advice, Challenge, Column, ConstraintSystem, Expression, FirstPhase, Fixed, Instance,
    SecondPhase, Selector, TableColumn, VirtualCells,
};
use halo2_proofs::poly::Rotation;

mod poseidon_rounds;

use crate::layout::{AdviceCol, Gate};
use crate::params::CircuitParams;

/// What an unfolded circuit adds to every weight of a linear row in its fixed columns.
///
/// Committing a fixed column is a multi-scalar multiplication whose cost follows the scalars'
/// width: a negative weight is a field element near the modulus, as wide as any, while a
/// non-negative one of 16 bits takes two windows of Pippenger's algorithm instead of about
/// twenty. Quantized weights (`--weight-bits`, 16 by default) are about half negative, so the
/// key generator commits to the weight columns much faster when each is written shifted by
/// this bias into `[0, 2^16)`. Every lane of a linear row is written, unused ones as the bias
/// alone (weight 0), so that a lane the row does not use cannot add to it.
pub const WEIGHT_BIAS: u64 = 1 << 15;

/// Columns and selectors of a configured model circuit.
///
/// In a folded circuit ([`crate::fold`]) every advice field holds the one advice column and
/// `w`, `c` the fold column of each coefficient; the gates query them at the cell's rotation.
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
    /// Range stream tags (none in folded circuits, which check ranges by bits).
    pub range_tag: Vec<Column<Fixed>>,
    /// Function stream tags (folded: one column for every stream, tags on the inputs' rows).
    pub table_tag: Vec<Column<Fixed>>,
    /// One selector per gate of [`Gate::ALL`], in order.
    pub selectors: Vec<Selector>,
    /// One selector per Poseidon row kind (empty when the circuit does not hash).
    pub poseidon_selectors: Vec<Selector>,
    /// Folded circuits: the selector `B` of every logical row's first row; gates are enabled
    /// by `B` times their flag among the row's coefficients (the unfolded selectors are empty).
    pub gate_row: Option<Selector>,
    /// Folded circuits: the fixed columns holding every row's coefficients.
    pub fold_columns: Vec<Column<Fixed>>,
    /// Range table `(tag, value)`.
    pub range_table: Option<[TableColumn; 2]>,
    /// Function table `(tag, input, output)`, one set of columns per bank (empty when the
    /// circuit has none).
    pub function_table: Vec<[TableColumn; 3]>,
    /// Public values.
    pub instance: Column<Instance>,
    /// Second-phase operand lanes of Freivalds checks (empty without them).
    pub v: Vec<Column<Advice>>,
    /// Second-phase accumulator of Freivalds checks.
    pub h: Option<Column<Advice>>,
    /// The challenge `r`, drawn after every first-phase column is committed.
    pub challenge: Option<Challenge>,
    /// One selector per gate of [`Gate::FREIVALDS`] (empty without Freivalds checks).
    pub freivalds_selectors: Vec<Selector>,
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
        let fixed = |meta: &mut ConstraintSystem<Fr>, n: usize| -> Vec<Column<Fixed>> {
            (0..n).map(|_| meta.fixed_column()).collect()
        };
        let (x, z, range, table_in, table_out, w, c, range_tag, table_tag, fold_columns);
        if p.fold == 0 {
            x = advice(meta, w_lanes);
            z = advice(meta, m);
            range = advice(meta, p.range_streams);
            table_in = advice(meta, p.table_streams);
            table_out = advice(meta, p.table_streams);
            w = fixed(meta, m * w_lanes);
            c = fixed(meta, m);
            range_tag = fixed(meta, p.range_streams);
            table_tag = fixed(meta, p.table_streams);
            fold_columns = Vec::new();
        } else {
            let a = advice(meta, 1)[0];
            x = vec![a; w_lanes];
            z = vec![a; m];
            range = vec![a; p.range_streams];
            table_in = vec![a; p.table_streams];
            table_out = vec![a; p.table_streams];
            let f = fixed(meta, p.fold);
            let place = |q: usize| f[crate::fold::coefficient_place(&p, q).0];
            w = (0..m * w_lanes).map(place).collect();
            c = (0..m)
                .map(|j| place(crate::fold::constant_index(&p, j)))
                .collect();
            range_tag = Vec::new();
            table_tag = if p.table_streams > 0 {
                vec![meta.fixed_column(); p.table_streams]
            } else {
                Vec::new()
            };
            fold_columns = f;
        }
        let (selectors, poseidon_selectors, gate_row) = if p.fold > 0 {
            (Vec::new(), Vec::new(), Some(meta.complex_selector()))
        } else {
            let selectors: Vec<Selector> = Gate::ALL.iter().map(|_| meta.selector()).collect();
            let poseidon_selectors: Vec<Selector> = if p.poseidon {
                crate::poseidon::row_kinds(p.lanes)
                    .iter()
                    .map(|_| meta.selector())
                    .collect()
            } else {
                Vec::new()
            };
            (selectors, poseidon_selectors, None)
        };
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        // Second-phase columns come after every first-phase one, so the proof lists the
        // commitments in column order.
        let (v, h, challenge, freivalds_selectors) = if p.freivalds {
            let second = |meta: &mut ConstraintSystem<Fr>| {
                let c = meta.advice_column_in(SecondPhase);
                meta.enable_equality(c);
                c
            };
            let v: Vec<Column<Advice>> = (0..w_lanes).map(|_| second(meta)).collect();
            let h = second(meta);
            let challenge = meta.challenge_usable_after(FirstPhase);
            let sel = Gate::FREIVALDS.iter().map(|_| meta.selector()).collect();
            (v, Some(h), Some(challenge), sel)
        } else {
            (Vec::new(), None, None, Vec::new())
        };
        // Folded circuits have no range table, and a function table only when they look up.
        let range_table = p
            .range_lookups()
            .then(|| [meta.lookup_table_column(), meta.lookup_table_column()]);
        let banks = if p.fold == 0 || p.table_streams > 0 {
            p.banks()
        } else {
            0
        };
        let function_table = (0..banks)
            .map(|_| {
                [
                    meta.lookup_table_column(),
                    meta.lookup_table_column(),
                    meta.lookup_table_column(),
                ]
            })
            .collect();

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
            poseidon_selectors,
            gate_row,
            fold_columns,
            range_table,
            function_table,
            instance,
            v,
            h,
            challenge,
            freivalds_selectors,
        };
        config.linear_gates(meta);
        config.product_gates(meta);
        config.div_sqrt_gates(meta);
        config.select_gate(meta);
        if p.fold == 0 {
            config.relu_gate(meta);
            if p.septet_groups() > 0 {
                config.rescale_relu_gate(meta);
            }
        }
        if p.fold > 0 {
            config.bits_gates(meta);
        }
        if p.poseidon {
            config.poseidon_gates(meta);
        }
        if p.freivalds {
            config.freivalds_gates(meta);
        }
        if p.fold == 0 {
            config.lookups(meta);
        } else {
            config.folded_lookups(meta);
        }
        meta.set_minimum_degree(p.degree);
        config
    }

    /// An advice cell of the logical row at rotation `rot` (in logical rows).
    fn cell(&self, v: &mut VirtualCells<'_, Fr>, col: AdviceCol, rot: i32) -> Expression<Fr> {
        let column = match col {
            AdviceCol::X(i) => self.x[i],
            AdviceCol::Z(j) => self.z[j],
            AdviceCol::Range(l) => self.range[l],
            AdviceCol::TableIn(l) => self.table_in[l],
            AdviceCol::TableOut(l) => self.table_out[l],
            AdviceCol::V(i) => self.v[i],
            AdviceCol::H => self.h.expect("configured with Freivalds columns"),
        };
        let offset = if self.params.fold == 0 {
            0
        } else {
            crate::fold::advice_offset(&self.params, col)
        };
        v.query_advice(
            column,
            Rotation(crate::fold::rotation(&self.params, rot, offset)),
        )
    }

    /// Operand lane `i` of the current logical row.
    fn xq(&self, v: &mut VirtualCells<'_, Fr>, i: usize) -> Expression<Fr> {
        self.cell(v, AdviceCol::X(i), 0)
    }

    /// Result lane `j` of the logical row at rotation `rot`.
    fn zq(&self, v: &mut VirtualCells<'_, Fr>, j: usize, rot: i32) -> Expression<Fr> {
        self.cell(v, AdviceCol::Z(j), rot)
    }

    /// Coefficient `q` of the current logical row.
    fn coefficient(&self, v: &mut VirtualCells<'_, Fr>, q: usize) -> Expression<Fr> {
        let (col, offset) = crate::fold::coefficient_place(&self.params, q);
        let column = if self.params.fold > 0 {
            self.fold_columns[col]
        } else if q < self.params.results * self.params.lanes {
            self.w[q]
        } else {
            self.c[q - self.params.results * self.params.lanes]
        };
        v.query_fixed(column, Rotation(offset as i32))
    }

    /// Weight `w[j][i]` of the current logical row.
    fn wq(&self, v: &mut VirtualCells<'_, Fr>, j: usize, i: usize) -> Expression<Fr> {
        self.coefficient(v, crate::fold::weight_index(&self.params, j, i))
    }

    /// Flat weight `w[f]` of the current logical row (Poseidon round constants).
    fn wflat(&self, v: &mut VirtualCells<'_, Fr>, f: usize) -> Expression<Fr> {
        self.coefficient(v, f)
    }

    /// Constant `c[j]` of the current logical row.
    fn cq(&self, v: &mut VirtualCells<'_, Fr>, j: usize) -> Expression<Fr> {
        self.coefficient(v, crate::fold::constant_index(&self.params, j))
    }

    /// The expression enabling `gate` on the current (logical) row: its selector, or in a
    /// folded circuit `B` times the gate's flag.
    fn on(&self, v: &mut VirtualCells<'_, Fr>, gate: Gate) -> Expression<Fr> {
        match self.gate_row {
            Some(b) => {
                let flag =
                    crate::fold::gate_index(&self.params, gate).expect("folded gates have flags");
                v.query_selector(b) * self.coefficient(v, flag)
            }
            None => v.query_selector(
                self.selector_of(gate)
                    .expect("gates query configured selectors"),
            ),
        }
    }

    /// The selector enabling `gate` in an unfolded circuit, if the circuit has it.
    pub fn selector_of(&self, gate: Gate) -> Option<Selector> {
        match gate {
            Gate::Poseidon(kind) => self.poseidon_selectors.get(usize::from(kind)).copied(),
            Gate::HornerFirst | Gate::HornerNext | Gate::FdotFirst | Gate::FdotNext => {
                Gate::FREIVALDS
                    .iter()
                    .position(|&a| a == gate)
                    .and_then(|i| self.freivalds_selectors.get(i).copied())
            }
            g => Gate::ALL
                .iter()
                .position(|&a| a == g)
                .map(|i| self.selectors[i]),
        }
    }

    fn linear_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let p = self.params;
        meta.create_gate("linear", |v| {
            let first = self.on(v, Gate::LinFirst);
            let next = self.on(v, Gate::LinNext);
            let xs: Vec<Expression<Fr>> = (0..p.lanes).map(|i| self.xq(v, i)).collect();
            // Unfolded circuits hold every weight of a linear row as `w + WEIGHT_BIAS`
            // ([`WEIGHT_BIAS`]); the sum takes the bias back off once per lane sum.
            let unbias = (p.fold == 0).then(|| {
                let lanes = xs
                    .iter()
                    .cloned()
                    .reduce(|a, b| a + b)
                    .expect("a circuit has lanes");
                Expression::Constant(Fr::from(WEIGHT_BIAS)) * lanes
            });
            (0..p.results)
                .flat_map(|j| {
                    let z = self.zq(v, j, 0);
                    let prev = self.zq(v, j, -1);
                    let c = match &unbias {
                        Some(u) => self.cq(v, j) - u.clone(),
                        None => self.cq(v, j),
                    };
                    let sum = xs
                        .iter()
                        .enumerate()
                        .fold(c, |acc, (i, x)| acc + self.wq(v, j, i) * x.clone());
                    [
                        first.clone() * (z.clone() - sum.clone()),
                        next.clone() * (z - prev - sum),
                    ]
                })
                .collect::<Vec<_>>()
        });
    }

    /// Horner chains and challenge-weighted dot products in the second-phase columns
    /// ([`crate::layout::freivalds`]). The challenge is a constant of degree 0 in the gates.
    fn freivalds_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let p = self.params;
        let r = self.challenge.expect("configured").expr();
        meta.create_gate("horner", |v| {
            let first = self.on(v, Gate::HornerFirst);
            let next = self.on(v, Gate::HornerNext);
            (0..p.lanes)
                .flat_map(|i| {
                    let cur = self.cell(v, AdviceCol::V(i), 0);
                    let prev = self.cell(v, AdviceCol::V(i), -1);
                    let w = self.wq(v, 0, i);
                    [
                        first.clone() * (cur.clone() - w.clone()),
                        next.clone() * (cur - r.clone() * prev - w),
                    ]
                })
                .collect::<Vec<_>>()
        });
        meta.create_gate("challenge dot", |v| {
            let first = self.on(v, Gate::FdotFirst);
            let next = self.on(v, Gate::FdotNext);
            let h = self.cell(v, AdviceCol::H, 0);
            let prev = self.cell(v, AdviceCol::H, -1);
            let sum = (0..p.lanes).fold(Expression::Constant(Fr::zero()), |acc, i| {
                acc + self.xq(v, i) * self.cell(v, AdviceCol::V(i), 0)
            });
            [first * (h.clone() - sum.clone()), next * (h - prev - sum)]
        });
    }

    fn product_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let p = self.params;
        meta.create_gate("product", |v| {
            let first = self.on(v, Gate::MulFirst);
            let next = self.on(v, Gate::MulNext);
            (0..p.results)
                .flat_map(|j| {
                    let a = self.xq(v, 2 * j);
                    let b = self.xq(v, 2 * j + 1);
                    let z = self.zq(v, j, 0);
                    let prev = self.zq(v, j, -1);
                    let c = self.cq(v, j);
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
            let q = self.on(v, Gate::Div);
            let two = Expression::Constant(Fr::from(2));
            let one = Expression::Constant(Fr::one());
            (0..p.quad_groups())
                .flat_map(|g| {
                    let [a, b, y, r] = [0, 1, 2, 3].map(|k| self.xq(v, 4 * g + k));
                    let z = self.zq(v, g, 0);
                    let c = self.cq(v, g);
                    [
                        q.clone()
                            * (c.clone() * a + b.clone() - two.clone() * b.clone() * y - r.clone()),
                        q.clone() * c * (z - two.clone() * b + one.clone() + r),
                    ]
                })
                .collect::<Vec<_>>()
        });
        meta.create_gate("sqrt", |v| {
            let q = self.on(v, Gate::Sqrt);
            let two = Expression::Constant(Fr::from(2));
            (0..p.triple_groups())
                .flat_map(|g| {
                    let [val, y, t1] = [0, 1, 2].map(|k| self.xq(v, 3 * g + k));
                    let t2 = self.zq(v, g, 0);
                    let c = self.cq(v, g);
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
            let s = self.on(v, Gate::Select);
            let one = Expression::Constant(Fr::one());
            let two = Expression::Constant(Fr::from(2));
            (0..p.quad_groups())
                .flat_map(|g| {
                    let [pp, qq, b, t] = [0, 1, 2, 3].map(|k| self.xq(v, 4 * g + k));
                    let out = self.zq(v, g, 0);
                    let [e1, e0, min, check] = [0, 1, 2, 3].map(|k| self.wq(v, g, k));
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

    /// ReLU and clip rows ([`crate::layout::select`]): `lo` and `hi` are range-checked, so
    /// `(2b - 1)(v - c)` is a small non-negative number and `b` says on which side of the
    /// threshold `c` the value lies (either when `v = c`); `m` picks the maximum or the minimum.
    fn relu_gate(&self, meta: &mut ConstraintSystem<Fr>) {
        let p = self.params;
        meta.create_gate("relu", |v| {
            let s = self.on(v, Gate::Relu);
            let one = Expression::Constant(Fr::one());
            let two = Expression::Constant(Fr::from(2));
            let base = Expression::Constant(Fr::from(1u64 << p.range_bits));
            (0..p.quad_groups())
                .flat_map(|g| {
                    let [val, b, lo, hi] = [0, 1, 2, 3].map(|k| self.xq(v, 4 * g + k));
                    let out = self.zq(v, g, 0);
                    let c = self.cq(v, g);
                    let m = self.wq(v, g, 0);
                    let diff = val - c.clone();
                    let picks = b.clone() + m.clone() - two.clone() * b.clone() * m;
                    [
                        s.clone() * (b.clone() * b.clone() - b.clone()),
                        s.clone()
                            * ((two.clone() * b - one.clone()) * diff.clone()
                                - lo
                                - base.clone() * hi),
                        s.clone() * (out - c - picks * diff),
                    ]
                })
                .collect::<Vec<_>>()
        });
    }

    /// A rescale and its ReLU ([`crate::layout::range::rescale_relu`]): `q` in sign `n` and
    /// magnitude `t`, the magnitude's and the remainder's limbs range-checked. An all-zero
    /// group satisfies every constraint.
    fn rescale_relu_gate(&self, meta: &mut ConstraintSystem<Fr>) {
        let p = self.params;
        meta.create_gate("rescale relu", |v| {
            let s = self.on(v, Gate::RescaleRelu);
            let one = Expression::Constant(Fr::one());
            let two = Expression::Constant(Fr::from(2));
            let half = Expression::Constant(Fr::TWO_INV);
            (0..p.septet_groups())
                .flat_map(|g| {
                    let [x, q, n, lo, hi, rlo, rhi] =
                        [0, 1, 2, 3, 4, 5, 6].map(|k| self.xq(v, 7 * g + k));
                    let out = self.zq(v, g, 0);
                    let scale = self.cq(v, g);
                    let t = lo + self.wq(v, g, 1) * hi;
                    [
                        s.clone() * (n.clone() * n.clone() - n.clone()),
                        s.clone()
                            * (q.clone() - t.clone()
                                + n.clone() * (two.clone() * t.clone() + one.clone())),
                        s.clone() * (out - (one.clone() - n) * t),
                        s.clone()
                            * (x + half.clone() * scale.clone()
                                - q * scale
                                - rlo
                                - self.wq(v, g, 0) * rhi),
                    ]
                })
                .collect::<Vec<_>>()
        });
    }

    /// Bit rows of folded circuits' range checks (see the `bits` layout module).
    fn bits_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        meta.create_gate("bits", |v| {
            let first = self.on(v, Gate::BitsFirst);
            let next = self.on(v, Gate::BitsNext);
            let one = Expression::Constant(Fr::one());
            let xs: Vec<Expression<Fr>> = (0..self.params.lanes).map(|i| self.xq(v, i)).collect();
            let sum = xs
                .iter()
                .enumerate()
                .fold(Expression::Constant(Fr::zero()), |acc, (i, x)| {
                    acc + self.wq(v, 0, i) * x.clone()
                });
            let z = self.zq(v, 0, 0);
            let prev = self.zq(v, 0, -1);
            let mut out = vec![
                first.clone() * (z.clone() - sum.clone()),
                next.clone() * (z - prev - sum),
            ];
            for x in xs {
                let boolean = x.clone() * (x - one.clone());
                out.push((first.clone() + next.clone()) * boolean);
            }
            out
        });
    }

    fn lookups(&self, meta: &mut ConstraintSystem<Fr>) {
        for l in 0..self.params.range_streams {
            meta.lookup("range", |v| {
                let tag = v.query_fixed(self.range_tag[l], Rotation::cur());
                let val = v.query_advice(self.range[l], Rotation::cur());
                let table = self
                    .range_table
                    .expect("unfolded circuits have a range table");
                vec![(tag, table[0]), (val, table[1])]
            });
        }
        for l in 0..self.params.table_streams {
            meta.lookup("function", |v| {
                let tag = v.query_fixed(self.table_tag[l], Rotation::cur());
                let input = v.query_advice(self.table_in[l], Rotation::cur());
                let output = v.query_advice(self.table_out[l], Rotation::cur());
                let table = self.function_table[self.params.bank_of_stream(l)];
                vec![(tag, table[0]), (input, table[1]), (output, table[2])]
            });
        }
    }

    /// The folded circuit's function lookup: over every row, inputs scaled by the tag (see
    /// [`crate::fold`]).
    fn folded_lookups(&self, meta: &mut ConstraintSystem<Fr>) {
        let a = self.x[0];
        if let Some(&table_tag) = self.table_tag.first() {
            let out = self.params.table_streams as i32;
            meta.lookup("function", |v| {
                let tag = v.query_fixed(table_tag, Rotation::cur());
                let input = v.query_advice(a, Rotation::cur());
                let output = v.query_advice(a, Rotation(out));
                let table = self.function_table[0];
                vec![
                    (tag.clone(), table[0]),
                    (tag.clone() * input, table[1]),
                    (tag * output, table[2]),
                ]
            });
        }
    }
}
