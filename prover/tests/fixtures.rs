//! Real proofs of every fixture, and every way of tampering with them.
//!
//! | tampering | must be caught by |
//! |---|---|
//! | a flipped bit in any proof byte (sampled: the first and last 256 bytes, and every 7th) | `InvalidPoint` / `InvalidScalar` / `PairingCheckFailed` |
//! | the first public input or the last public output changed by one | `PairingCheckFailed` |
//! | the proof truncated (0, 1, 63, half, all but one byte) | `ProofTooShort` |
//! | one byte appended | `TrailingBytes` |
//! | the verifying key of another fixture | `InstanceCount` or `PairingCheckFailed` |
//! | a flipped byte in the verifying key | a `KeyError`, or `PairingCheckFailed` |

use halo2_proofs::halo2curves::bn256::Fr;
use zkml_circuits::VisibilityConfig;
use zkml_prover::prove::fr_to_word;
use zkml_test_support::Fixture;
use zkml_verifier::VerifyError;

const FIXTURES: &[&str] = &[
    "mlp_small",
    "mlp",
    "lenet",
    "depthwise_separable",
    "transformer",
    "pytorch_style",
    "exported/random_forest",
    "exported/gru",
];

struct Proven {
    name: &'static str,
    vk: Vec<u8>,
    proof: Vec<u8>,
    instances: Vec<Fr>,
    n_inputs: usize,
}

fn prove_fixture(name: &'static str) -> Proven {
    let fixture = Fixture::load(name);
    let vis = VisibilityConfig::default();
    let params = zkml_circuits::cost::choose(&fixture.program, vis).unwrap();
    // The proof verifies in halo2, and its outputs are the reference evaluator's.
    let proven = fixture.prove(params, vis, 1234);
    Proven {
        name,
        vk: proven.vk,
        proof: proven.proof.bytes,
        instances: proven.proof.instances,
        n_inputs: fixture.input_len(),
    }
}

fn words(instances: &[Fr]) -> Vec<[u8; 32]> {
    instances.iter().map(fr_to_word).collect()
}

fn verify(vk: &[u8], proof: &[u8], instances: &[Fr]) -> Result<(), VerifyError> {
    zkml_verifier::verify_words(vk, proof, &words(instances))
}

#[test]
fn fixtures_prove_verify_and_reject_tampering() {
    let proven: Vec<Proven> = FIXTURES.iter().map(|&n| prove_fixture(n)).collect();
    // The verifier is single-threaded: the fixtures' tamperings are checked side by side.
    std::thread::scope(|scope| {
        for i in 0..proven.len() {
            let proven = &proven;
            scope.spawn(move || reject_tampering(proven, i));
        }
    });
}

/// Checks that `proven[i]` verifies and that each of its tampered variants is rejected with
/// the error the table above names.
fn reject_tampering(proven: &[Proven], i: usize) {
    let p = &proven[i];
    let name = p.name;
    verify(&p.vk, &p.proof, &p.instances).unwrap_or_else(|e| panic!("{name}: {e}"));
    let len = p.proof.len();
    let positions: Vec<usize> = (0..len)
        .filter(|&b| b < 256 || b + 256 >= len || b % 7 == 0)
        .collect();
    for b in positions {
        let mut bad = p.proof.clone();
        bad[b] ^= 1 << (b % 8);
        match verify(&p.vk, &bad, &p.instances) {
            Err(
                VerifyError::InvalidPoint { .. }
                | VerifyError::InvalidScalar { .. }
                | VerifyError::PairingCheckFailed,
            ) => {}
            other => panic!("{name}: flipping byte {b} gave {other:?}"),
        }
    }
    for idx in [0, p.n_inputs.saturating_sub(1), p.instances.len() - 1] {
        let mut wrong = p.instances.clone();
        wrong[idx] += Fr::one();
        assert_eq!(
            verify(&p.vk, &p.proof, &wrong),
            Err(VerifyError::PairingCheckFailed),
            "{name}: public value {idx}"
        );
    }
    for cut in [0, 1, 63, len / 2, len - 1] {
        assert!(
            matches!(
                verify(&p.vk, &p.proof[..cut], &p.instances),
                Err(VerifyError::ProofTooShort { .. })
            ),
            "{name}: cut {cut}"
        );
    }
    let mut longer = p.proof.clone();
    longer.push(7);
    assert!(matches!(
        verify(&p.vk, &longer, &p.instances),
        Err(VerifyError::TrailingBytes { .. })
    ));
    let other = &proven[(i + 1) % proven.len()];
    match verify(&other.vk, &p.proof, &p.instances) {
        Err(
            VerifyError::InstanceCount { .. }
            | VerifyError::PairingCheckFailed
            | VerifyError::InvalidPoint { .. }
            | VerifyError::InvalidScalar { .. }
            | VerifyError::ProofTooShort { .. }
            | VerifyError::TrailingBytes { .. },
        ) => {}
        r => panic!("{name} proof with {} key: {r:?}", other.name),
    }
    // Corrupting the key: decoding errors, or a key for a different statement.
    for b in (12..p.vk.len()).step_by(p.vk.len() / 97 + 1) {
        let mut bad = p.vk.clone();
        bad[b] ^= 0x5a;
        assert!(
            verify(&bad, &p.proof, &p.instances).is_err(),
            "{name}: key byte {b} flipped yet accepted"
        );
    }
}
