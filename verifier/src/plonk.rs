//! The PLONK verifier (halo2's protocol: custom gates, permutation, plookup-style lookups,
//! vanishing argument) with SHPLONK multi-opening, over BN254.

use ark_bn254::{Fr, G1Affine};
use ark_ff::{Field, One, Zero};

use crate::error::VerifyError;
use crate::shplonk::{verify_openings, Commitment, OpeningQuery};
use crate::transcript::ProofReader;
use crate::vk::{ColumnRef, Expr, VerifyingKey};

/// Evaluations a proof provides (or the verifier derives) at the challenge point.
struct Evals {
    challenges: Vec<Fr>,
    advice: Vec<Fr>,
    fixed: Vec<Fr>,
    instance: Vec<Fr>,
}

impl Evals {
    fn eval(&self, e: &Expr) -> Fr {
        match e {
            Expr::Constant(w) => {
                crate::encoding::fr_from_be(w).expect("checked when the key was read")
            }
            Expr::Fixed(i) => self.fixed[*i as usize],
            Expr::Advice(i) => self.advice[*i as usize],
            Expr::Instance(i) => self.instance[*i as usize],
            Expr::Challenge(i) => self.challenges[*i as usize],
            Expr::Negated(a) => -self.eval(a),
            Expr::Sum(a, b) => self.eval(a) + self.eval(b),
            Expr::Product(a, b) => self.eval(a) * self.eval(b),
            Expr::Scaled(a, w) => self.eval(a) * crate::encoding::fr_from_be(w).expect("checked"),
        }
    }

    /// Evaluation of a permutation column at the current row.
    fn column(&self, vk: &VerifyingKey, c: ColumnRef) -> Fr {
        let find = |qs: &[crate::vk::Query], i: u32| {
            qs.iter()
                .position(|q| q.column == i && q.rotation == 0)
                .expect("checked when the key was read")
        };
        match c {
            ColumnRef::Advice(i) => self.advice[find(&vk.advice_queries, i)],
            ColumnRef::Fixed(i) => self.fixed[find(&vk.fixed_queries, i)],
            ColumnRef::Instance(i) => self.instance[find(&vk.instance_queries, i)],
        }
    }
}

/// `omega^rotation * x`.
fn rotate(x: Fr, omega: Fr, omega_inv: Fr, rotation: i32) -> Fr {
    if rotation >= 0 {
        x * omega.pow([rotation as u64])
    } else {
        x * omega_inv.pow([u64::from(rotation.unsigned_abs())])
    }
}

/// Lagrange basis polynomials `l_i(x) = omega^i (x^n - 1) / (n (x - omega^i))` for the given
/// rotations `i`.
fn lagrange(
    x: Fr,
    xn: Fr,
    n: u64,
    omega: Fr,
    omega_inv: Fr,
    rotations: impl Iterator<Item = i32>,
) -> Result<Vec<Fr>, VerifyError> {
    let n_inv = Fr::from(n).inverse().expect("n is not zero");
    let common = (xn - Fr::one()) * n_inv;
    rotations
        .map(|r| {
            let w = rotate(Fr::one(), omega, omega_inv, r);
            let d = (x - w)
                .inverse()
                .ok_or(VerifyError::Degenerate("challenge x is a root of unity"))?;
            Ok(w * common * d)
        })
        .collect()
}

/// Verifies `proof` for `vk` and the public `instances`.
pub fn verify_proof(vk: &VerifyingKey, proof: &[u8], instances: &[Fr]) -> Result<(), VerifyError> {
    let d = vk.decoded()?;
    if instances.len() != vk.num_instance_values as usize {
        return Err(VerifyError::InstanceCount {
            expected: vk.num_instance_values as usize,
            got: instances.len(),
        });
    }
    let n = 1u64 << vk.k;
    let chunk = vk.degree as usize - 2;
    let mut t = ProofReader::new(proof);
    t.common_scalar(&vk.digest());
    t.common_scalar(&d.transcript_repr);
    for v in instances {
        t.common_scalar(v);
    }
    // First-phase advice, the challenges drawn from it, then the second-phase advice (the
    // last columns).
    let second = vk.second_phase_advice as usize;
    let mut advice = t.read_points(vk.num_advice_columns as usize - second, "advice commitment")?;
    let challenges: Vec<Fr> = (0..vk.challenges).map(|_| t.challenge()).collect();
    advice.extend(t.read_points(second, "second-phase advice commitment")?);
    let theta = t.challenge();
    let mut permuted = Vec::with_capacity(vk.lookups.len());
    for _ in &vk.lookups {
        let a = t.read_point("lookup permuted input")?;
        let s = t.read_point("lookup permuted table")?;
        permuted.push((a, s));
    }
    let beta = t.challenge();
    let gamma = t.challenge();
    let sets = vk.permutation_columns.len().div_ceil(chunk);
    let perm_z = t.read_points(sets, "permutation product")?;
    let lookup_z = t.read_points(vk.lookups.len(), "lookup product")?;
    let random = t.read_point("vanishing random polynomial")?;
    let y = t.challenge();
    let h = t.read_points(vk.degree as usize - 1, "quotient piece")?;
    let x = t.challenge();
    let xn = x.pow([n]);

    // Instance evaluations, computed from the public values.
    let (min_rot, max_rot) = vk
        .instance_queries
        .iter()
        .fold((0i32, 0i32), |(lo, hi), q| {
            (lo.min(q.rotation), hi.max(q.rotation))
        });
    let instance_evals = if vk.instance_queries.is_empty() {
        Vec::new()
    } else {
        let ls = lagrange(
            x,
            xn,
            n,
            d.omega,
            d.omega_inv,
            -max_rot..instances.len() as i32 + min_rot.abs(),
        )?;
        vk.instance_queries
            .iter()
            .map(|q| {
                let offset = (max_rot - q.rotation) as usize;
                instances
                    .iter()
                    .zip(&ls[offset..offset + instances.len()])
                    .map(|(a, b)| *a * b)
                    .sum()
            })
            .collect()
    };
    let evals = Evals {
        challenges,
        advice: t.read_scalars(vk.advice_queries.len(), "advice evaluation")?,
        fixed: t.read_scalars(vk.fixed_queries.len(), "fixed evaluation")?,
        instance: instance_evals,
    };
    let random_eval = t.read_scalar("random polynomial evaluation")?;
    let sigma_evals = t.read_scalars(vk.permutation_columns.len(), "permutation evaluation")?;
    let mut perm_evals = Vec::with_capacity(sets);
    for s in 0..sets {
        let e = t.read_scalar("permutation product evaluation")?;
        let next = t.read_scalar("permutation product next evaluation")?;
        let last = if s + 1 < sets {
            Some(t.read_scalar("permutation product last evaluation")?)
        } else {
            None
        };
        perm_evals.push((e, next, last));
    }
    let mut lookup_evals = Vec::with_capacity(vk.lookups.len());
    for _ in &vk.lookups {
        let v = t.read_scalars(5, "lookup evaluation")?;
        lookup_evals.push((v[0], v[1], v[2], v[3], v[4]));
    }

    // The expected quotient evaluation.
    let b = vk.blinding_factors as i32;
    let ls = lagrange(x, xn, n, d.omega, d.omega_inv, -(b + 1)..=0)?;
    let l_last = ls[0];
    let l_blind: Fr = ls[1..=b as usize].iter().sum();
    let l_0 = ls[b as usize + 1];
    let active = Fr::one() - (l_last + l_blind);
    let mut exprs: Vec<Fr> = vk.gates.iter().map(|g| evals.eval(g)).collect();
    // Permutation argument.
    if let Some(first) = perm_evals.first() {
        exprs.push(l_0 * (Fr::one() - first.0));
    }
    if let Some(last) = perm_evals.last() {
        exprs.push((last.0.square() - last.0) * l_last);
    }
    for s in 1..sets {
        exprs.push((perm_evals[s].0 - perm_evals[s - 1].2.expect("not last")) * l_0);
    }
    for (s, (cols, sigmas)) in vk
        .permutation_columns
        .chunks(chunk)
        .zip(sigma_evals.chunks(chunk))
        .enumerate()
    {
        let (z, z_next, _) = perm_evals[s];
        let mut left = z_next;
        let mut right = z;
        let mut delta_pow = beta * x * d.delta.pow([(s * chunk) as u64]);
        for (&c, sigma) in cols.iter().zip(sigmas) {
            let e = evals.column(vk, c);
            left *= e + beta * sigma + gamma;
            right *= e + delta_pow + gamma;
            delta_pow *= d.delta;
        }
        exprs.push((left - right) * active);
    }
    // Lookup arguments.
    for (arg, &(z, z_next, a, a_inv, s)) in vk.lookups.iter().zip(&lookup_evals) {
        let compress = |es: &[Expr]| {
            es.iter()
                .fold(Fr::zero(), |acc, e| acc * theta + evals.eval(e))
        };
        let left = z_next * (a + beta) * (s + gamma);
        let right = z * (compress(&arg.inputs) + beta) * (compress(&arg.tables) + gamma);
        exprs.push(l_0 * (Fr::one() - z));
        exprs.push(l_last * (z.square() - z));
        exprs.push((left - right) * active);
        exprs.push(l_0 * (a - s));
        exprs.push((a - s) * (a - a_inv) * active);
    }
    let folded = exprs.into_iter().fold(Fr::zero(), |acc, v| acc * y + v);
    let expected_h = folded
        * (xn - Fr::one())
            .inverse()
            .ok_or(VerifyError::Degenerate("x^n = 1"))?;

    // Openings, in the prover's order.
    let at = |rot: i32| rotate(x, d.omega, d.omega_inv, rot);
    let mut queries: Vec<OpeningQuery> = Vec::new();
    for (i, q) in vk.advice_queries.iter().enumerate() {
        queries.push(OpeningQuery {
            commitment: Commitment::Advice(q.column as usize),
            point: at(q.rotation),
            eval: evals.advice[i],
        });
    }
    for (s, &(e, next, _)) in perm_evals.iter().enumerate() {
        queries.push(OpeningQuery {
            commitment: Commitment::PermutationProduct(s),
            point: x,
            eval: e,
        });
        queries.push(OpeningQuery {
            commitment: Commitment::PermutationProduct(s),
            point: at(1),
            eval: next,
        });
    }
    for (s, &(_, _, last)) in perm_evals.iter().enumerate().rev().skip(1) {
        queries.push(OpeningQuery {
            commitment: Commitment::PermutationProduct(s),
            point: at(-(b + 1)),
            eval: last.expect("not last"),
        });
    }
    for (l, &(z, z_next, a, a_inv, s)) in lookup_evals.iter().enumerate() {
        queries.push(OpeningQuery {
            commitment: Commitment::LookupProduct(l),
            point: x,
            eval: z,
        });
        queries.push(OpeningQuery {
            commitment: Commitment::LookupInput(l),
            point: x,
            eval: a,
        });
        queries.push(OpeningQuery {
            commitment: Commitment::LookupTable(l),
            point: x,
            eval: s,
        });
        queries.push(OpeningQuery {
            commitment: Commitment::LookupInput(l),
            point: at(-1),
            eval: a_inv,
        });
        queries.push(OpeningQuery {
            commitment: Commitment::LookupProduct(l),
            point: at(1),
            eval: z_next,
        });
    }
    for (i, q) in vk.fixed_queries.iter().enumerate() {
        queries.push(OpeningQuery {
            commitment: Commitment::Fixed(q.column as usize),
            point: at(q.rotation),
            eval: evals.fixed[i],
        });
    }
    for (j, &e) in sigma_evals.iter().enumerate() {
        queries.push(OpeningQuery {
            commitment: Commitment::Sigma(j),
            point: x,
            eval: e,
        });
    }
    queries.push(OpeningQuery {
        commitment: Commitment::Quotient,
        point: x,
        eval: expected_h,
    });
    queries.push(OpeningQuery {
        commitment: Commitment::Random,
        point: x,
        eval: random_eval,
    });

    let points = crate::shplonk::CommitmentPoints {
        advice: &advice,
        fixed: &d.fixed,
        sigma: &d.permutation,
        perm_z: &perm_z,
        lookup_a: &permuted.iter().map(|p| p.0).collect::<Vec<G1Affine>>(),
        lookup_s: &permuted.iter().map(|p| p.1).collect::<Vec<G1Affine>>(),
        lookup_z: &lookup_z,
        quotient: &h,
        xn,
        random,
    };
    verify_openings(&mut t, &queries, &points, &d)?;
    t.finish()?;
    // An aggregate's proof holds only with the pairing its folded proofs deferred.
    match vk.accumulator() {
        Some(at) => crate::accumulator::decide(&d, instances, at),
        None => Ok(()),
    }
}
