//! The two R1CS-to-QAP layouts a Groth16 proving key can have.
//!
//! Both interpolate the constraint rows (then one row per public value, `A = z_i`) over the
//! domain `H` of the `n`-th roots of unity, so the verifying keys and the `A`, `B` and `L`
//! queries mean the same thing. They differ in how the prover's quotient
//! `h = (A·B − C) / Z_H` is committed:
//!
//! - **arkworks** (keys from [`crate::setup`]): the key holds `τ^i Z_H(τ)/δ` and the prover
//!   computes `h`'s coefficients (arkworks' own reduction).
//! - **snarkjs** (keys from a ceremony's `.zkey`, see [`crate::ceremony`]): the key holds
//!   `L'_i(τ) Z_H(τ) / (Z_H(ω s_i) δ)` for the Lagrange basis `L'_i` of the coset `ω·H`, with
//!   `ω` a primitive `2n`-th root of unity; there `Z_H(ω s_i) = ω^n − 1 = −2` at every point.
//!   The prover evaluates `A·B − C` at the `n` points `ω ω_n^i` (the odd powers of `ω`) and
//!   commits the values as they are: no division, as snarkjs and its provers do.
//!
//! [`SnarkjsReduction`] implements the second for arkworks' prover, and its setup side too, so
//! that keys of that layout can also be made (for the tests) without a ceremony.

use ark_ff::PrimeField;
use ark_groth16::r1cs_to_qap::{evaluate_constraint, LibsnarkReduction, R1CSToQAP};
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{ConstraintSystemRef, Matrix, Result as R1CSResult, SynthesisError};

/// The QAP layout of a proving key: which reduction its `h` query was made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// arkworks' layout (a local setup).
    Arkworks,
    /// snarkjs' layout (a `.zkey` from a ceremony).
    Snarkjs,
}

impl Reduction {
    /// The tag in a proving key file.
    pub fn tag(self) -> u32 {
        match self {
            Reduction::Arkworks => 0,
            Reduction::Snarkjs => 1,
        }
    }

    /// The layout of a tag.
    pub fn from_tag(tag: u32) -> Option<Self> {
        match tag {
            0 => Some(Reduction::Arkworks),
            1 => Some(Reduction::Snarkjs),
            _ => None,
        }
    }

    /// Where the keys came from, in words.
    pub fn origin(self) -> &'static str {
        match self {
            Reduction::Arkworks => "a local setup",
            Reduction::Snarkjs => "a snarkjs ceremony (.zkey)",
        }
    }
}

/// The snarkjs QAP layout (module docs).
pub struct SnarkjsReduction;

/// The primitive `2n`-th root of unity whose odd powers are snarkjs' evaluation points.
fn half_step<F: PrimeField, D: EvaluationDomain<F>>(n: usize) -> R1CSResult<F> {
    let double = D::new(2 * n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    if double.size() != 2 * n {
        return Err(SynthesisError::PolynomialDegreeTooLarge);
    }
    Ok(double.element(1))
}

/// `values` (evaluations over `domain`) re-evaluated at `ω·domain`.
fn onto_odd_points<F: PrimeField, D: EvaluationDomain<F>>(
    domain: &D,
    omega: F,
    values: &mut Vec<F>,
) {
    domain.ifft_in_place(values);
    D::distribute_powers(values, omega);
    domain.fft_in_place(values);
}

impl R1CSToQAP for SnarkjsReduction {
    fn instance_map_with_evaluation<F: PrimeField, D: EvaluationDomain<F>>(
        cs: ConstraintSystemRef<F>,
        t: &F,
    ) -> R1CSResult<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize)> {
        // The A, B and C polynomials are those of arkworks' layout.
        LibsnarkReduction::instance_map_with_evaluation::<F, D>(cs, t)
    }

    /// `A·B − C` at the odd powers of `ω`. Only the `A` and `B` matrices are read: over a
    /// satisfying assignment each row's `C` value is the product of its `A` and `B` values,
    /// which is what snarkjs' provers use (the caller checks satisfaction first).
    fn witness_map_from_matrices<F: PrimeField, D: EvaluationDomain<F>>(
        matrices: &[Matrix<F>],
        num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> R1CSResult<Vec<F>> {
        let (at, bt) = match matrices {
            [a, b, ..] if a.len() == num_constraints && b.len() == num_constraints => (a, b),
            _ => return Err(SynthesisError::Unsatisfiable),
        };
        if full_assignment.len() < num_inputs {
            return Err(SynthesisError::AssignmentMissing);
        }
        let domain =
            D::new(num_constraints + num_inputs).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let n = domain.size();
        let omega = half_step::<F, D>(n)?;
        let mut a = vec![F::zero(); n];
        let mut b = vec![F::zero(); n];
        for (i, (ai, bi)) in at.iter().zip(bt).enumerate() {
            a[i] = evaluate_constraint(ai, full_assignment);
            b[i] = evaluate_constraint(bi, full_assignment);
        }
        // The public-value rows: A = z_i, B = 0.
        a[num_constraints..num_constraints + num_inputs]
            .copy_from_slice(&full_assignment[..num_inputs]);
        let mut c: Vec<F> = a.iter().zip(&b).map(|(x, y)| *x * y).collect();
        onto_odd_points(&domain, omega, &mut a);
        onto_odd_points(&domain, omega, &mut b);
        onto_odd_points(&domain, omega, &mut c);
        for ((ai, bi), ci) in a.iter_mut().zip(&b).zip(&c) {
            *ai = *ai * bi - ci;
        }
        Ok(a)
    }

    /// `L'_i(t) Z_H(t) / (−2 δ)` for the `n` points of the coset `ω·H` (`max_power = n − 1`).
    fn h_query_scalars<F: PrimeField, D: EvaluationDomain<F>>(
        max_power: usize,
        t: F,
        zt: F,
        delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        let n = max_power + 1;
        let domain = D::new(n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        if domain.size() != n {
            return Err(SynthesisError::PolynomialDegreeTooLarge);
        }
        let omega = half_step::<F, D>(n)?;
        let coset = domain
            .get_coset(omega)
            .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let minus_two_inv = (-F::from(2u64))
            .inverse()
            .ok_or(SynthesisError::DivisionByZero)?;
        let scale = zt * delta_inverse * minus_two_inv;
        Ok(coset
            .evaluate_all_lagrange_coefficients(t)
            .into_iter()
            .map(|l| l * scale)
            .collect())
    }
}
