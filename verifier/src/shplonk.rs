//! SHPLONK multi-opening verification (BDFG20), following halo2's KZG verifier: queries are
//! grouped by commitment into sets of evaluation points, combined with powers of two challenges,
//! and checked with one pairing.

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{Field, One, Zero};

use crate::error::VerifyError;
use crate::transcript::ProofReader;
use crate::vk::Decoded;

/// Which committed polynomial a query opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Commitment {
    Advice(usize),
    Fixed(usize),
    Sigma(usize),
    PermutationProduct(usize),
    LookupInput(usize),
    LookupTable(usize),
    LookupProduct(usize),
    /// The quotient, `sum_i x^(n i) h_i`.
    Quotient,
    Random,
}

/// One claimed evaluation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpeningQuery {
    pub commitment: Commitment,
    pub point: Fr,
    pub eval: Fr,
}

/// The commitments queries refer to.
pub(crate) struct CommitmentPoints<'a> {
    pub advice: &'a [G1Affine],
    pub fixed: &'a [G1Affine],
    pub sigma: &'a [G1Affine],
    pub perm_z: &'a [G1Affine],
    pub lookup_a: &'a [G1Affine],
    pub lookup_s: &'a [G1Affine],
    pub lookup_z: &'a [G1Affine],
    pub quotient: &'a [G1Affine],
    pub xn: Fr,
    pub random: G1Affine,
}

impl CommitmentPoints<'_> {
    /// The commitment as MSM terms (scalar, base).
    fn terms(&self, c: Commitment) -> Vec<(Fr, G1Affine)> {
        let one = |p: G1Affine| vec![(Fr::one(), p)];
        match c {
            Commitment::Advice(i) => one(self.advice[i]),
            Commitment::Fixed(i) => one(self.fixed[i]),
            Commitment::Sigma(i) => one(self.sigma[i]),
            Commitment::PermutationProduct(i) => one(self.perm_z[i]),
            Commitment::LookupInput(i) => one(self.lookup_a[i]),
            Commitment::LookupTable(i) => one(self.lookup_s[i]),
            Commitment::LookupProduct(i) => one(self.lookup_z[i]),
            Commitment::Random => one(self.random),
            Commitment::Quotient => {
                let mut scale = Fr::one();
                self.quotient
                    .iter()
                    .map(|&h| {
                        let t = (scale, h);
                        scale *= self.xn;
                        t
                    })
                    .collect()
            }
        }
    }
}

/// A group of commitments opened at the same set of points.
struct RotationSet {
    points: Vec<Fr>,
    /// Commitment and its evaluations, in `points` order.
    commitments: Vec<(Commitment, Vec<Fr>)>,
}

fn same_set(a: &[Fr], b: &[Fr]) -> bool {
    a.len() == b.len() && a.iter().all(|p| b.contains(p))
}

/// `r(u)` for the polynomial through `(points[i], evals[i])`.
fn interpolate_at(points: &[Fr], evals: &[Fr], u: Fr) -> Result<Fr, VerifyError> {
    let mut acc = Fr::zero();
    for (i, (&pi, &ei)) in points.iter().zip(evals).enumerate() {
        let (mut num, mut den) = (Fr::one(), Fr::one());
        for (j, &pj) in points.iter().enumerate() {
            if i != j {
                num *= u - pj;
                den *= pi - pj;
            }
        }
        acc += ei
            * num
            * den
                .inverse()
                .ok_or(VerifyError::Degenerate("repeated opening point"))?;
    }
    Ok(acc)
}

fn vanishing(points: &[Fr], u: Fr) -> Fr {
    points.iter().map(|&p| u - p).product()
}

/// Reads the opening proof and performs the final pairing check.
pub(crate) fn verify_openings(
    t: &mut ProofReader<'_>,
    queries: &[OpeningQuery],
    c: &CommitmentPoints<'_>,
    vk: &Decoded,
) -> Result<(), VerifyError> {
    // Group points per commitment (first-appearance order), then commitments per point set.
    let mut per_commitment: Vec<(Commitment, Vec<Fr>)> = Vec::new();
    let mut super_points: Vec<Fr> = Vec::new();
    for q in queries {
        if !super_points.contains(&q.point) {
            super_points.push(q.point);
        }
        match per_commitment.iter_mut().find(|(k, _)| *k == q.commitment) {
            Some((_, pts)) => {
                if pts.contains(&q.point) {
                    return Err(VerifyError::Degenerate(
                        "a polynomial is opened twice at one point",
                    ));
                }
                pts.push(q.point);
            }
            None => per_commitment.push((q.commitment, vec![q.point])),
        }
    }
    let eval_of = |k: Commitment, p: Fr| {
        queries
            .iter()
            .find(|q| q.commitment == k && q.point == p)
            .expect("recorded")
            .eval
    };
    let mut sets: Vec<RotationSet> = Vec::new();
    for (k, pts) in per_commitment {
        let set = match sets.iter_mut().position(|s| same_set(&s.points, &pts)) {
            Some(i) => &mut sets[i],
            None => {
                sets.push(RotationSet {
                    points: pts.clone(),
                    commitments: Vec::new(),
                });
                sets.last_mut().expect("pushed")
            }
        };
        let evals = set.points.iter().map(|&p| eval_of(k, p)).collect();
        set.commitments.push((k, evals));
    }

    let y = t.challenge();
    let v = t.challenge();
    let h1 = t.read_point("opening proof h1")?;
    let u = t.challenge();
    let h2 = t.read_point("opening proof h2")?;

    let mut scalars: Vec<Fr> = Vec::new();
    let mut bases: Vec<G1Affine> = Vec::new();
    let mut r_outer = Fr::zero();
    let mut z_0 = Fr::zero();
    let mut z_0_diff_inv = Fr::zero();
    let mut power_of_v = Fr::one();
    for (i, set) in sets.iter().enumerate() {
        let diffs: Vec<Fr> = super_points
            .iter()
            .filter(|p| !set.points.contains(p))
            .copied()
            .collect();
        let mut z_diff = vanishing(&diffs, u);
        if i == 0 {
            z_0 = vanishing(&set.points, u);
            z_0_diff_inv = z_diff
                .inverse()
                .ok_or(VerifyError::Degenerate("u is an opening point"))?;
            z_diff = Fr::one();
        } else {
            z_diff *= z_0_diff_inv;
        }
        let factor = power_of_v * z_diff;
        let mut power_of_y = Fr::one();
        let mut r_inner = Fr::zero();
        for (k, evals) in &set.commitments {
            r_inner += power_of_y * interpolate_at(&set.points, evals, u)?;
            for (s, b) in c.terms(*k) {
                scalars.push(s * power_of_y * factor);
                bases.push(b);
            }
            power_of_y *= y;
        }
        r_outer += factor * r_inner;
        power_of_v *= v;
    }
    scalars.push(-r_outer);
    bases.push(vk.g1);
    scalars.push(-z_0);
    bases.push(h1);
    scalars.push(u);
    bases.push(h2);
    let right = G1Projective::msm(&bases, &scalars)
        .map_err(|_| VerifyError::Degenerate("msm length mismatch"))?
        .into_affine();
    // e(h2, s G2) == e(right, G2)
    let check = Bn254::multi_pairing([h2, (-right.into_group()).into_affine()], [vk.s_g2, vk.g2]);
    if check.is_zero() {
        Ok(())
    } else {
        Err(VerifyError::PairingCheckFailed)
    }
}
