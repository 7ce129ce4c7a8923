//! What the chain tests share: proving a fixture as a chain of segments, listing its proofs
//! for the verifier, and calling a chain contract.

#![allow(dead_code)]

use halo2_proofs::halo2curves::bn256::Fr as HaloFr;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkml_circuits::cost::{Objective, Phases};
use zkml_circuits::{Blinding, VisibilityConfig};
use zkml_ir::Tensor;
use zkml_prover::{generate_keys, prove_segment_on, Device, ProvingKeyFile};
use zkml_segments::plan::{plan_cuts, size_segments};
use zkml_segments::{CutProgram, SegmentWitness};
use zkml_test_support::Fixture;
use zkml_verifier::chain::SegmentProof;
use zkml_verifier::{Fr, Key};

/// A proven chain: per segment its keys, SRS, proof and instance.
pub struct Chain {
    pub cut: CutProgram,
    pub witness: Vec<SegmentWitness>,
    pub keys: Vec<Key>,
    pub pks: Vec<(ProvingKeyFile, zkml_prover::srs::Srs)>,
    pub proofs: Vec<(Vec<u8>, Vec<Fr>)>,
}

pub fn to_ark(f: &HaloFr) -> Fr {
    zkml_verifier::encoding::fr_from_be(&zkml_prover::prove::fr_to_word(f)).expect("canonical")
}

pub fn prove_one(
    chain_cut: &CutProgram,
    i: usize,
    inputs: &[Tensor],
    blinding: Blinding,
    pk: &ProvingKeyFile,
    srs: &zkml_prover::srs::Srs,
) -> (Vec<u8>, Vec<Fr>) {
    let proof = prove_segment_on(
        Device::Cpu,
        &chain_cut.segments[i].program,
        inputs,
        blinding,
        pk,
        srs,
    )
    .unwrap_or_else(|e| panic!("segment {i}: {e}"));
    (proof.bytes, proof.instances.iter().map(to_ark).collect())
}

pub fn prove_chain(f: &Fixture, vis: VisibilityConfig, n: usize, seed: u64) -> Chain {
    prove_chain_for(f, vis, n, seed, Objective::Proving)
}

pub fn prove_chain_for(
    f: &Fixture,
    vis: VisibilityConfig,
    n: usize,
    seed: u64,
    objective: Objective,
) -> Chain {
    let cut = CutProgram::new(
        f.program.clone(),
        vis,
        plan_cuts(&f.program, vis, n).unwrap(),
    )
    .unwrap();
    let circuits = size_segments(&cut, objective, Phases::Any).unwrap();
    let witness = cut
        .witness(&f.inputs, &mut ChaCha20Rng::seed_from_u64(seed))
        .unwrap();
    let mut chain = Chain {
        cut,
        witness,
        keys: Vec::new(),
        pks: Vec::new(),
        proofs: Vec::new(),
    };
    // One SRS for every segment, cut down to each one's size.
    let widest = circuits.iter().map(|c| c.k).max().unwrap();
    let full = zkml_prover::srs::generate(widest, seed);
    for (i, params) in circuits.into_iter().enumerate() {
        let srs = zkml_prover::srs::for_k(&full, params.k).unwrap();
        let (pk, vk) = generate_keys(
            &chain.cut.segments[i].program,
            params,
            chain.cut.segment_visibility(i),
            &srs,
        )
        .unwrap();
        let w = &chain.witness[i];
        let proof = prove_one(&chain.cut, i, &w.inputs, w.blinding, &pk, &srs);
        chain.keys.push(Key::Halo2(vk));
        chain.pks.push((pk, srs));
        chain.proofs.push(proof);
    }
    chain
}

pub fn listed<'a>(keys: &[Key], proofs: &'a [(Vec<u8>, Vec<Fr>)]) -> Vec<SegmentProof<'a>> {
    keys.iter()
        .zip(proofs)
        .map(|(k, (p, i))| SegmentProof {
            key_digest: k.key_digest(),
            proof: p,
            instances: i,
        })
        .collect()
}

pub fn reference_outputs(f: &Fixture) -> Vec<Fr> {
    f.output_fields().iter().map(to_ark).collect()
}

pub fn words(instances: &[Fr]) -> Vec<[u8; 32]> {
    instances
        .iter()
        .map(zkml_verifier::encoding::fr_to_be)
        .collect()
}

pub fn halo2_keys(keys: &[Key]) -> Vec<zkml_verifier::VerifyingKey> {
    keys.iter()
        .map(|k| match k {
            Key::Halo2(vk) => vk.clone(),
            Key::Groth16(_) => unreachable!("segments are halo2"),
        })
        .collect()
}

/// Calls `verifyChain` with the chain's proofs; the verdict and the gas.
pub fn call_chain(
    evm: &mut zkml_contracts::evm::Evm,
    at: zkml_contracts::evm::Address,
    proofs: &[(Vec<u8>, Vec<Fr>)],
) -> (bool, u64) {
    let bytes: Vec<Vec<u8>> = proofs.iter().map(|(p, _)| p.clone()).collect();
    let inst: Vec<Vec<[u8; 32]>> = proofs.iter().map(|(_, i)| words(i)).collect();
    let out = evm
        .call(at, zkml_contracts::chain::chain_calldata(&bytes, &inst))
        .unwrap();
    let accepted = out.success && out.output.len() == 32 && out.output[31] == 1;
    (accepted, out.gas_used)
}
