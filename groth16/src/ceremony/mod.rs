//! Keys from a multi-party ceremony.
//!
//! A Groth16 setup is per circuit, and whoever knows its randomness can forge proofs. In
//! production the keys come from a ceremony in which many parties contribute randomness and
//! the keys are safe as long as one of them destroyed theirs. zkml takes part through the
//! formats of the snarkjs tool chain, which the public ceremonies (Hermez, the Perpetual
//! Powers of Tau, Semaphore, ...) use:
//!
//! 1. [`write_r1cs`] exports the constraint system in iden3's `.r1cs` format (wire 0 is the
//!    constant 1, wires 1..=k the public values in instance order, then the witnesses).
//! 2. The ceremony runs phase 2 (`snarkjs groth16 setup`, `snarkjs zkey contribute`, ...) on
//!    it, over a phase-1 powers-of-tau file, and anyone can audit the result
//!    (`snarkjs zkey verify`).
//! 3. [`read_zkey`] loads the final `.zkey`, checking the sizes and the `A` and `B`
//!    coefficients it records against this constraint system, that it has had a phase-2
//!    contribution and that its points are valid; the keys prove with the snarkjs QAP layout
//!    ([`crate::qap::Reduction::Snarkjs`]). That the points were made from this constraint
//!    system is what step 2's audit establishes: the file alone cannot show it.

mod r1cs_file;
mod zkey;

pub use r1cs_file::{r1cs_file_len, write_r1cs};
pub use zkey::{read_zkey, Zkey};
