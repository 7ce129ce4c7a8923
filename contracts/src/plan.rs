//! What the verifier contract computes, laid out from a verifying key: where each commitment
//! and evaluation sits in the proof, the transcript segments between challenges, and the
//! SHPLONK opening sets. Mirrors the order of `zkml_verifier`'s PLONK verifier exactly.

use zkml_verifier::vk::{ColumnRef, VerifyingKey};

use crate::GenerateError;

/// A committed polynomial the openings refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poly {
    Advice(usize),
    Fixed(usize),
    Sigma(usize),
    PermutationProduct(usize),
    LookupInput(usize),
    LookupTable(usize),
    LookupProduct(usize),
    Quotient,
    Random,
}

/// Where a claimed evaluation comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalSource {
    /// A scalar in the proof at this byte offset.
    Proof(usize),
    /// The quotient evaluation the verifier computes.
    Quotient,
}

/// One opening: a polynomial, a rotation of `x`, and its evaluation.
#[derive(Clone, Copy, Debug)]
pub struct Opening {
    pub poly: Poly,
    pub rotation: i32,
    pub eval: EvalSource,
}

/// Polynomials opened at the same set of rotations.
#[derive(Clone, Debug)]
pub struct RotationSet {
    /// Rotations, in the order of the set's first polynomial.
    pub rotations: Vec<i32>,
    /// Each polynomial with its evaluations in `rotations` order.
    pub polys: Vec<(Poly, Vec<EvalSource>)>,
}

/// The proof's byte layout.
#[derive(Clone, Debug)]
pub struct Layout {
    pub advice: usize,
    pub lookup_permuted: usize,
    pub perm_products: usize,
    pub lookup_products: usize,
    pub random: usize,
    pub quotient: usize,
    pub advice_evals: usize,
    pub fixed_evals: usize,
    pub sigma_evals: usize,
    pub perm_evals: usize,
    pub lookup_evals: usize,
    pub h1: usize,
    pub h2: usize,
    pub len: usize,
    /// Bytes `[0, points_end)` are points; `[points_end, h1)` scalars.
    pub points_end: usize,
}

/// Everything the generator needs beyond the key itself.
#[derive(Clone, Debug)]
pub struct Plan {
    pub layout: Layout,
    /// Permutation argument: columns per product set.
    pub chunk: usize,
    pub sets: usize,
    /// `(start, end)` of the proof bytes absorbed before each challenge, in order: theta,
    /// beta, gamma, y, x, then the opening challenges y', v, u.
    pub segments: Vec<(usize, usize)>,
    /// Distinct rotations in first-appearance order.
    pub super_rotations: Vec<i32>,
    pub rotation_sets: Vec<RotationSet>,
}

impl Plan {
    pub fn new(vk: &VerifyingKey) -> Result<Self, GenerateError> {
        if vk.instance_queries.iter().any(|q| q.rotation != 0) {
            return Err(GenerateError::Unsupported(
                "instance queries at a rotation other than 0".into(),
            ));
        }
        let chunk = vk.degree as usize - 2;
        let sets = vk.permutation_columns.len().div_ceil(chunk);
        let lookups = vk.lookups.len();
        let mut at = 0usize;
        let mut take = |bytes: usize| {
            let start = at;
            at += bytes;
            start
        };
        let advice = take(64 * vk.num_advice_columns as usize);
        let lookup_permuted = take(128 * lookups);
        let perm_products = take(64 * sets);
        let lookup_products = take(64 * lookups);
        let random = take(64);
        let quotient = take(64 * (vk.degree as usize - 1));
        let points_end = take(0);
        let advice_evals = take(32 * vk.advice_queries.len());
        let fixed_evals = take(32 * vk.fixed_queries.len());
        let random_eval = take(32);
        let sigma_evals = take(32 * vk.permutation_columns.len());
        let perm_evals = take(32 * (3 * sets).saturating_sub(1));
        let lookup_evals = take(32 * 5 * lookups);
        let h1 = take(64);
        let h2 = take(64);
        let layout = Layout {
            advice,
            lookup_permuted,
            perm_products,
            lookup_products,
            random,
            quotient,
            advice_evals,
            fixed_evals,
            sigma_evals,
            perm_evals,
            lookup_evals,
            h1,
            h2,
            len: at,
            points_end,
        };
        // With challenges, the first segment ends after the first-phase advice (the
        // second-phase columns are the last ones): it yields the first challenge, each further
        // challenge an empty segment, and the second-phase advice leads to theta.
        let first_phase_end =
            advice + 64 * (vk.num_advice_columns - vk.second_phase_advice) as usize;
        let mut segments = Vec::new();
        if vk.challenges > 0 {
            segments.push((0, first_phase_end));
            for _ in 1..vk.challenges {
                segments.push((first_phase_end, first_phase_end));
            }
            segments.push((first_phase_end, lookup_permuted));
        } else {
            segments.push((0, lookup_permuted));
        }
        segments.extend([
            (lookup_permuted, perm_products),
            (perm_products, perm_products),
            (perm_products, quotient),
            (quotient, points_end),
            (points_end, h1),
            (h1, h1),
            (h1, h2),
        ]);

        let b = vk.blinding_factors as i32;
        let mut openings = Vec::new();
        let mut open = |poly, rotation, eval| {
            openings.push(Opening {
                poly,
                rotation,
                eval,
            })
        };
        for (i, q) in vk.advice_queries.iter().enumerate() {
            open(
                Poly::Advice(q.column as usize),
                q.rotation,
                EvalSource::Proof(advice_evals + 32 * i),
            );
        }
        let perm_eval = |s: usize, j: usize| EvalSource::Proof(perm_evals + 32 * (3 * s + j));
        for s in 0..sets {
            open(Poly::PermutationProduct(s), 0, perm_eval(s, 0));
            open(Poly::PermutationProduct(s), 1, perm_eval(s, 1));
        }
        for s in (0..sets).rev().skip(1) {
            open(Poly::PermutationProduct(s), -(b + 1), perm_eval(s, 2));
        }
        for l in 0..lookups {
            let e = |j: usize| EvalSource::Proof(lookup_evals + 32 * (5 * l + j));
            open(Poly::LookupProduct(l), 0, e(0));
            open(Poly::LookupInput(l), 0, e(2));
            open(Poly::LookupTable(l), 0, e(4));
            open(Poly::LookupInput(l), -1, e(3));
            open(Poly::LookupProduct(l), 1, e(1));
        }
        for (i, q) in vk.fixed_queries.iter().enumerate() {
            open(
                Poly::Fixed(q.column as usize),
                q.rotation,
                EvalSource::Proof(fixed_evals + 32 * i),
            );
        }
        for j in 0..vk.permutation_columns.len() {
            open(Poly::Sigma(j), 0, EvalSource::Proof(sigma_evals + 32 * j));
        }
        open(Poly::Quotient, 0, EvalSource::Quotient);
        open(Poly::Random, 0, EvalSource::Proof(random_eval));

        let (super_rotations, rotation_sets) = group(&openings)?;
        Ok(Self {
            layout,
            chunk,
            sets,
            segments,
            super_rotations,
            rotation_sets,
        })
    }
}

/// Groups openings by polynomial, then polynomials by their set of rotations (the same
/// grouping the Rust verifier makes on evaluation points).
fn group(openings: &[Opening]) -> Result<(Vec<i32>, Vec<RotationSet>), GenerateError> {
    let mut super_rotations = Vec::new();
    let mut per_poly: Vec<(Poly, Vec<i32>)> = Vec::new();
    for o in openings {
        if !super_rotations.contains(&o.rotation) {
            super_rotations.push(o.rotation);
        }
        match per_poly.iter_mut().find(|(p, _)| *p == o.poly) {
            Some((_, rots)) => {
                if rots.contains(&o.rotation) {
                    return Err(GenerateError::Unsupported(
                        "a polynomial opened twice at one point".into(),
                    ));
                }
                rots.push(o.rotation);
            }
            None => per_poly.push((o.poly, vec![o.rotation])),
        }
    }
    let eval_of = |p: Poly, r: i32| {
        openings
            .iter()
            .find(|o| o.poly == p && o.rotation == r)
            .map(|o| o.eval)
            .expect("recorded")
    };
    let mut sets: Vec<RotationSet> = Vec::new();
    for (poly, rots) in per_poly {
        let same = |s: &RotationSet| {
            s.rotations.len() == rots.len() && s.rotations.iter().all(|r| rots.contains(r))
        };
        let i = match sets.iter().position(same) {
            Some(i) => i,
            None => {
                sets.push(RotationSet {
                    rotations: rots.clone(),
                    polys: Vec::new(),
                });
                sets.len() - 1
            }
        };
        let evals = sets[i]
            .rotations
            .iter()
            .map(|&r| eval_of(poly, r))
            .collect();
        sets[i].polys.push((poly, evals));
    }
    Ok((super_rotations, sets))
}

/// The evaluation index of a permutation column at rotation 0.
pub fn column_eval(vk: &VerifyingKey, c: ColumnRef) -> Result<ColumnEval, GenerateError> {
    let find = |qs: &[zkml_verifier::vk::Query], i: u32| {
        qs.iter()
            .position(|q| q.column == i && q.rotation == 0)
            .ok_or_else(|| GenerateError::Unsupported(format!("column {c:?} is not queried")))
    };
    Ok(match c {
        ColumnRef::Advice(i) => ColumnEval::Advice(find(&vk.advice_queries, i)?),
        ColumnRef::Fixed(i) => ColumnEval::Fixed(find(&vk.fixed_queries, i)?),
        ColumnRef::Instance(i) => {
            find(&vk.instance_queries, i)?;
            ColumnEval::Instance
        }
    })
}

/// A query evaluation by kind and index.
#[derive(Clone, Copy, Debug)]
pub enum ColumnEval {
    Advice(usize),
    Fixed(usize),
    Instance,
}
