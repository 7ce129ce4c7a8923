//! Groth16 backend: the same integer program as the halo2 circuits, compiled to a rank-one
//! constraint system and proven with arkworks (`ark-groth16` over BN254).
//!
//! Groth16 proofs are three group elements whatever the model, and their check is one fixed
//! pairing equation: the cheapest verification on chain. The price is a setup per circuit
//! (see [`setup`]).
//!
//! Layering: [`compile`] turns a program (and, for proving, the reference evaluator's trace)
//! into our own [`R1cs`] and [`Assignment`]; [`prove`] and [`verify`] hand them to arkworks.
//! The R1CS has the circuits' semantics op for op (the same rounding, comparisons, tables and
//! range checks), and compiling with a trace checks every tensor value against the trace.
//!
//! Public instance: as the halo2 circuits lay it out (`zkml_circuits::visibility`): public
//! inputs and outputs element by element, hashed ones as one Poseidon hash each (the same
//! permutation and packing), private ones not at all. Parameters are fixed in the
//! constraints (products with them are free), or private or hashed witnesses.

mod builder;
pub mod ceremony;
pub mod compile;
mod hash;
pub mod keys;
mod ops;
pub mod qap;
pub mod r1cs;

use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::r1cs_to_qap::LibsnarkReduction;
use ark_groth16::Groth16;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable,
};
use ark_snark::SNARK;
use rand::{CryptoRng, RngCore};

pub use compile::{compile, compile_with, Compiled, Costs};
pub use keys::{export_vk, proof_bytes, ProvingKeyFile};
pub use qap::Reduction;
pub use r1cs::{field, Assignment, Constraint, Lc, R1cs, Var};

/// A proving key.
pub type ProvingKey = ark_groth16::ProvingKey<Bn254>;
/// A verifying key.
pub type VerifyingKey = ark_groth16::VerifyingKey<Bn254>;
/// A proof: three group elements.
pub type Proof = ark_groth16::Proof<Bn254>;

/// What can go wrong in the Groth16 backend.
#[derive(Debug, thiserror::Error)]
pub enum Groth16Error {
    /// The program is invalid.
    #[error("invalid program: {0}")]
    Program(String),
    /// A node cannot be compiled.
    #[error("node {node} '{name}' ({op}) cannot be compiled to R1CS: {reason}")]
    Unsupported {
        /// Node index.
        node: usize,
        /// Node name.
        name: String,
        /// Op name.
        op: &'static str,
        /// Why.
        reason: String,
    },
    /// The witness does not match the program or the evaluator.
    #[error("witness: {0}")]
    Witness(String),
    /// The assignment violates a constraint (the trace is not the program's).
    #[error("the assignment violates constraint {0}")]
    Unsatisfied(usize),
    /// A key file is unreadable or does not belong with the program.
    #[error("{0}")]
    Key(String),
    /// arkworks failed.
    #[error("groth16: {0}")]
    Ark(String),
}

/// Replays our constraint system into arkworks'.
struct Replay<'a> {
    r1cs: &'a R1cs,
    assignment: Option<&'a Assignment>,
}

impl ConstraintSynthesizer<Fr> for Replay<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let value = |v: Option<Fr>| v.ok_or(SynthesisError::AssignmentMissing);
        let mut instance = Vec::with_capacity(self.r1cs.num_instance);
        for i in 0..self.r1cs.num_instance {
            let v = self.assignment.map(|a| a.instance[i]);
            instance.push(cs.new_input_variable(|| value(v))?);
        }
        let mut witness = Vec::with_capacity(self.r1cs.num_witness);
        for i in 0..self.r1cs.num_witness {
            let v = self.assignment.map(|a| a.witness[i]);
            witness.push(cs.new_witness_variable(|| value(v))?);
        }
        let to_ark = |lc: &Lc| -> LinearCombination<Fr> {
            LinearCombination(
                lc.iter()
                    .map(|&(v, c)| {
                        let var = match v {
                            Var::One => Variable::One,
                            Var::Instance(i) => instance[i as usize],
                            Var::Witness(i) => witness[i as usize],
                        };
                        (c, var)
                    })
                    .collect(),
            )
        };
        for k in &self.r1cs.constraints {
            cs.enforce_r1cs_constraint(|| to_ark(&k.a), || to_ark(&k.b), || to_ark(&k.c))?;
        }
        Ok(())
    }
}

/// A circuit-specific setup from `rng`. Whoever knows the randomness can forge proofs: a
/// locally generated setup is for testing and development only; production keys come from a
/// multi-party ceremony.
pub fn setup<R: RngCore + CryptoRng>(
    r1cs: &R1cs,
    rng: &mut R,
) -> Result<(ProvingKey, VerifyingKey), Groth16Error> {
    Groth16::<Bn254>::circuit_specific_setup(
        Replay {
            r1cs,
            assignment: None,
        },
        rng,
    )
    .map_err(|e| Groth16Error::Ark(e.to_string()))
}

/// A local setup whose keys have the snarkjs QAP layout, as a ceremony's `.zkey` does (for
/// tests of that layout without a ceremony; insecure like [`setup`]).
pub fn setup_snarkjs_layout<R: RngCore + CryptoRng>(
    r1cs: &R1cs,
    rng: &mut R,
) -> Result<(ProvingKey, VerifyingKey), Groth16Error> {
    let pk = Groth16::<Bn254, qap::SnarkjsReduction>::generate_random_parameters_with_reduction(
        Replay {
            r1cs,
            assignment: None,
        },
        rng,
    )
    .map_err(|e| Groth16Error::Ark(e.to_string()))?;
    let vk = pk.vk.clone();
    Ok((pk, vk))
}

/// Proves that `assignment` satisfies `r1cs` with a key of arkworks' layout (see [`prove_with`]).
pub fn prove<R: RngCore + CryptoRng>(
    pk: &ProvingKey,
    r1cs: &R1cs,
    assignment: &Assignment,
    rng: &mut R,
) -> Result<Proof, Groth16Error> {
    prove_with(pk, Reduction::Arkworks, r1cs, assignment, rng)
}

/// Proves that `assignment` satisfies `r1cs` with a key of the given QAP layout. The
/// assignment is checked first, so that an unsatisfied system is an error naming the
/// constraint, not a proof that fails to verify.
pub fn prove_with<R: RngCore + CryptoRng>(
    pk: &ProvingKey,
    reduction: Reduction,
    r1cs: &R1cs,
    assignment: &Assignment,
    rng: &mut R,
) -> Result<Proof, Groth16Error> {
    if assignment.instance.len() != r1cs.num_instance
        || assignment.witness.len() != r1cs.num_witness
    {
        return Err(Groth16Error::Witness(format!(
            "the assignment has {} public and {} private values for {} and {}",
            assignment.instance.len(),
            assignment.witness.len(),
            r1cs.num_instance,
            r1cs.num_witness
        )));
    }
    if let Some(k) = r1cs.first_unsatisfied(assignment) {
        return Err(Groth16Error::Unsatisfied(k));
    }
    // arkworks' prover over our matrices (no constraint system of arkworks' is built).
    let z = r1cs.full_assignment(assignment);
    let (r, s) = (Fr::rand(rng), Fr::rand(rng));
    let (num_inputs, m) = (1 + r1cs.num_instance, r1cs.constraints.len());
    match reduction {
        Reduction::Arkworks => {
            let matrices = [
                matrix(r1cs, |k| &k.a),
                matrix(r1cs, |k| &k.b),
                matrix(r1cs, |k| &k.c),
            ];
            Groth16::<Bn254, LibsnarkReduction>::create_proof_with_reduction_and_matrices(
                pk, r, s, &matrices, num_inputs, m, &z,
            )
        }
        Reduction::Snarkjs => {
            // `A` and `B` only (see `qap::SnarkjsReduction`).
            let matrices = [matrix(r1cs, |k| &k.a), matrix(r1cs, |k| &k.b)];
            Groth16::<Bn254, qap::SnarkjsReduction>::create_proof_with_reduction_and_matrices(
                pk, r, s, &matrices, num_inputs, m, &z,
            )
        }
    }
    .map_err(|e| Groth16Error::Ark(e.to_string()))
}

/// One of the system's matrices in arkworks' form: per constraint, `(coefficient, column)`.
fn matrix(r1cs: &R1cs, pick: fn(&Constraint) -> &Lc) -> Vec<Vec<(Fr, usize)>> {
    r1cs.constraints
        .iter()
        .map(|k| {
            r1cs.canonical(pick(k))
                .into_iter()
                .map(|(w, c)| (c, w))
                .collect()
        })
        .collect()
}

/// Whether `proof` proves the circuit of `vk` on the public values `public`.
pub fn verify(vk: &VerifyingKey, public: &[Fr], proof: &Proof) -> Result<bool, Groth16Error> {
    if public.len() + 1 != vk.gamma_abc_g1.len() {
        return Err(Groth16Error::Witness(format!(
            "{} public values for a key that takes {}",
            public.len(),
            vk.gamma_abc_g1.len().saturating_sub(1)
        )));
    }
    Groth16::<Bn254>::verify(vk, public, proof).map_err(|e| Groth16Error::Ark(e.to_string()))
}
