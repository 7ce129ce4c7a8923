//! A rank-one constraint system over BN254's scalar field, with its assignment.
//!
//! Every constraint is `<a, z> * <b, z> = <c, z>` over the vector `z = (1, instance, witness)`.
//! The system is ours (the compiler writes it and the tests perturb its assignment directly);
//! [`crate::prove`] hands it to arkworks' Groth16 prover.

use ark_bn254::Fr;
use ark_ff::{BigInteger, One, PrimeField, Zero};
use sha3::{Digest, Keccak256};

/// A variable of the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Var {
    /// The constant 1.
    One,
    /// A public input, in instance order.
    Instance(u32),
    /// A private witness.
    Witness(u32),
}

/// A linear combination `sum coeff * var`.
pub type Lc = Vec<(Var, Fr)>;

/// One constraint `a * b = c`.
#[derive(Clone, Debug)]
pub struct Constraint {
    /// Left factor.
    pub a: Lc,
    /// Right factor.
    pub b: Lc,
    /// Product.
    pub c: Lc,
}

/// The constraints and variable counts.
#[derive(Clone, Debug, Default)]
pub struct R1cs {
    /// Public inputs (the constant 1 not counted).
    pub num_instance: usize,
    /// Private witnesses.
    pub num_witness: usize,
    /// The constraints.
    pub constraints: Vec<Constraint>,
}

/// Values for every variable of a system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Public inputs.
    pub instance: Vec<Fr>,
    /// Witnesses.
    pub witness: Vec<Fr>,
}

impl Assignment {
    /// The value of `v`.
    pub fn value(&self, v: Var) -> Fr {
        match v {
            Var::One => Fr::one(),
            Var::Instance(i) => self.instance[i as usize],
            Var::Witness(i) => self.witness[i as usize],
        }
    }

    /// The value of a linear combination.
    pub fn eval(&self, lc: &Lc) -> Fr {
        lc.iter()
            .fold(Fr::zero(), |acc, &(v, c)| acc + c * self.value(v))
    }
}

impl R1cs {
    /// The index of the first constraint `assignment` violates, if any.
    pub fn first_unsatisfied(&self, assignment: &Assignment) -> Option<usize> {
        self.constraints
            .iter()
            .position(|k| assignment.eval(&k.a) * assignment.eval(&k.b) != assignment.eval(&k.c))
    }

    /// Keccak-256 of the system (variable counts, then every constraint's three linear
    /// combinations, term by term): what a proving key is made for.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Keccak256::new();
        h.update((self.num_instance as u64).to_le_bytes());
        h.update((self.num_witness as u64).to_le_bytes());
        h.update((self.constraints.len() as u64).to_le_bytes());
        for k in &self.constraints {
            for lc in [&k.a, &k.b, &k.c] {
                h.update((lc.len() as u64).to_le_bytes());
                for (v, c) in lc {
                    let (tag, index) = match *v {
                        Var::One => (0u8, 0u32),
                        Var::Instance(i) => (1, i),
                        Var::Witness(i) => (2, i),
                    };
                    h.update([tag]);
                    h.update(index.to_le_bytes());
                    h.update(c.into_bigint().to_bytes_le());
                }
            }
        }
        h.finalize().into()
    }

    /// The index of `v` in the vector `z = (1, instance, witness)`: its wire number in the
    /// `.r1cs` file and its column in the matrices.
    pub fn wire(&self, v: Var) -> usize {
        match v {
            Var::One => 0,
            Var::Instance(i) => 1 + i as usize,
            Var::Witness(i) => 1 + self.num_instance + i as usize,
        }
    }

    /// Variables in all (the constant 1 included).
    pub fn num_wires(&self) -> usize {
        1 + self.num_instance + self.num_witness
    }

    /// `lc` by wire: terms of one variable merged, zero terms dropped, in wire order.
    pub fn canonical(&self, lc: &Lc) -> Vec<(usize, Fr)> {
        let mut terms: Vec<(usize, Fr)> = lc.iter().map(|&(v, c)| (self.wire(v), c)).collect();
        terms.sort_by_key(|t| t.0);
        let mut out: Vec<(usize, Fr)> = Vec::with_capacity(terms.len());
        for (w, c) in terms {
            match out.last_mut() {
                Some(last) if last.0 == w => last.1 += c,
                _ => out.push((w, c)),
            }
        }
        out.retain(|t| !t.1.is_zero());
        out
    }

    /// `z = (1, instance, witness)` for `assignment`.
    pub fn full_assignment(&self, assignment: &Assignment) -> Vec<Fr> {
        let mut z = Vec::with_capacity(self.num_wires());
        z.push(Fr::one());
        z.extend_from_slice(&assignment.instance);
        z.extend_from_slice(&assignment.witness);
        z
    }

    /// Non-zero entries of the three matrices together (the prover's work per evaluation).
    pub fn nonzeros(&self) -> usize {
        self.constraints
            .iter()
            .map(|k| k.a.len() + k.b.len() + k.c.len())
            .sum()
    }
}

/// The field element of an integer (negatives wrap to `p - |v|`).
pub fn field(v: i128) -> Fr {
    let f = Fr::from(v.unsigned_abs());
    if v < 0 {
        -f
    } else {
        f
    }
}
