//! What the aggregation tests share: a fixture cut into segments and proven for aggregation,
//! and the aggregate's contract deployed.

#![allow(dead_code)]

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use snark_verifier_sdk::Snark;
use zkml_aggregate::{
    chain_model, instance_words, keygen, prove_segment, verify, AggregateError, AggregateProof,
    AggregationKey, Shape,
};
use zkml_circuits::cost::{Objective, Phases};
use zkml_circuits::VisibilityConfig;
use zkml_segments::plan::{plan_cuts, size_segments};
use zkml_segments::CutProgram;
use zkml_test_support::Fixture;
use zkml_verifier::chain::link;
use zkml_verifier::vk::ValueClass;
use zkml_verifier::{Key, VerifyingKey};

/// Rows of the aggregation circuit (2^K).
pub const K: u32 = 20;

pub type Srs =
    halo2_proofs::poly::kzg::commitment::ParamsKZG<halo2_proofs::halo2curves::bn256::Bn256>;

pub struct Chain {
    pub cut: CutProgram,
    pub witness: Vec<zkml_segments::SegmentWitness>,
    pub pks: Vec<(zkml_prover::ProvingKeyFile, Srs)>,
    pub snarks: Vec<Snark>,
    pub links: Vec<(usize, usize)>,
    pub srs: Srs,
    pub vks: Vec<VerifyingKey>,
    pub digest: [u8; 32],
}

pub fn chain(f: &Fixture, n: usize, seed: u64) -> Chain {
    let vis = VisibilityConfig::default();
    let cut = CutProgram::new(
        f.program.clone(),
        vis,
        plan_cuts(&f.program, vis, n).unwrap(),
    )
    .unwrap();
    let circuits = size_segments(&cut, Objective::EvmGas, Phases::Any).unwrap();
    let witness = cut
        .witness(&f.inputs, &mut ChaCha20Rng::seed_from_u64(seed))
        .unwrap();
    let srs = zkml_prover::srs::generate(K, seed);
    let mut snarks = Vec::new();
    let mut keys = Vec::new();
    let mut pks = Vec::new();
    for (i, params) in circuits.into_iter().enumerate() {
        let seg_srs = zkml_prover::srs::for_k(&srs, params.k).unwrap();
        let program = &cut.segments[i].program;
        let (pk, vk) =
            zkml_prover::generate_keys(program, params, cut.segment_visibility(i), &seg_srs)
                .unwrap();
        let w = &witness[i];
        snarks.push(prove_segment(program, &w.inputs, w.blinding, &pk, &seg_srs).unwrap());
        keys.push(Key::Halo2(vk));
        pks.push((pk, seg_srs));
    }
    let links = keys
        .windows(2)
        .map(|w| {
            (
                link(&w[0], ValueClass::Outputs).unwrap(),
                link(&w[1], ValueClass::Inputs).unwrap(),
            )
        })
        .collect();
    let vks = keys
        .into_iter()
        .map(|k| match k {
            Key::Halo2(vk) => vk,
            Key::Groth16(_) => unreachable!("segments are halo2 proofs"),
        })
        .collect();
    Chain {
        digest: zkml_prover::keys::program_digest(&f.program),
        cut,
        witness,
        pks,
        snarks,
        links,
        srs,
        vks,
    }
}

impl Chain {
    pub fn shape(&self) -> Shape {
        let lens = self.snarks.iter().map(|s| s.instances[0].len()).collect();
        Shape::chain(lens, &self.links).unwrap()
    }

    pub fn keygen(&self) -> AggregationKey {
        let model = chain_model(&self.vks, self.digest).unwrap();
        keygen(&self.srs, self.snarks.clone(), self.shape(), model).unwrap()
    }
}

pub fn rejected(vk: &VerifyingKey, p: &AggregateProof) -> bool {
    matches!(verify(vk, p), Err(AggregateError::Rejected(_)))
}

/// The aggregate's verifier contract, deployed.
pub struct Contract {
    pub evm: zkml_contracts::evm::Evm,
    pub at: zkml_contracts::evm::Address,
}

impl Contract {
    pub fn deploy(vk: &VerifyingKey) -> Self {
        let t = Instant::now();
        let built = zkml_contracts::build(vk).unwrap();
        eprintln!(
            "contract: {:.1?}, {} bytes of runtime code, {} key contract(s), gates {:?}",
            t.elapsed(),
            built.compiled.runtime.len(),
            built.key_parts.len(),
            built.gates
        );
        let mut evm = zkml_contracts::evm::Evm::new();
        let at = evm.deploy_verifier(&built).unwrap();
        Self { evm, at }
    }

    /// Whether the contract accepts `p`, and the gas the call took.
    pub fn accepts(&mut self, p: &AggregateProof) -> (bool, u64) {
        let data = zkml_contracts::abi::calldata(&p.proof, &instance_words(p));
        let out = self.evm.call(self.at, data).unwrap();
        (out.returned_true(), out.gas_used)
    }
}
