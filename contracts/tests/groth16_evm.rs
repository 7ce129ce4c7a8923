//! Groth16 verifiers in an in-process EVM, with real proofs of every fixture: the valid proof
//! is accepted, and every tampered variant is rejected by the contract exactly when the Rust
//! verifier rejects it.
//!
//! | tampering | both verifiers |
//! |---|---|
//! | a flipped bit in every 3rd proof byte, and in the last byte of each coordinate | reject |
//! | A, B or C replaced by another valid point of its group | reject |
//! | A or C off the curve, B outside the curve, B at infinity | reject |
//! | a coordinate at the base field's modulus | reject |
//! | each public value changed by one (all on the smallest fixture, 3 on the others) | reject |
//! | a public value at the scalar field's modulus, and all ones | reject |
//! | one public value too few or too many | reject |
//! | the proof of another fixture, the proof of another setup of the same model | reject |
//! | the proof truncated or extended by a byte | reject |

use ark_bn254::{Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use zkml_circuits::VisibilityConfig;
use zkml_contracts::abi::calldata;
use zkml_contracts::evm::Evm;
use zkml_test_support::{Fixture, Groth16Proven, MODEL_FIXTURES as FIXTURES};
use zkml_verifier::encoding::{fr_to_be, g1_to_bytes, g2_to_bytes};

type Proven = Groth16Proven;

fn prove(name: &str, seed: u64) -> Proven {
    Fixture::load(name).prove_groth16(VisibilityConfig::default(), seed)
}

struct Deployed {
    evm: Evm,
    addr: zkml_contracts::evm::Address,
}

fn deploy(p: &Proven) -> (Deployed, zkml_contracts::VerifierArtifacts) {
    let key = zkml_verifier::Key::from_bytes(&p.vk).unwrap();
    let built = zkml_contracts::build_for(&key).unwrap();
    assert!(built.compiled.runtime.len() <= zkml_contracts::MAX_RUNTIME_SIZE);
    let mut evm = Evm::new();
    let addr = evm.deploy_verifier(&built).unwrap();
    (Deployed { evm, addr }, built)
}

/// Calls the contract and checks it agrees with the Rust verifier; returns the verdict.
fn check(d: &mut Deployed, p: &Proven, proof: &[u8], instances: &[[u8; 32]], what: &str) -> bool {
    let out = d.evm.call(d.addr, calldata(proof, instances)).unwrap();
    let evm = out.returned_true();
    let rust = zkml_verifier::verify_words(&p.vk, proof, instances).is_ok();
    assert_eq!(evm, rust, "{}: {what}: EVM {out:?}, Rust {rust}", p.name);
    evm
}

#[test]
fn groth16_fixtures_verify_on_chain_and_reject_tampering() {
    let proven: Vec<Proven> = FIXTURES
        .iter()
        .enumerate()
        .map(|(i, &n)| prove(n, 11 + i as u64))
        .collect();
    let again = prove("mlp_small", 99);
    eprintln!("| model | public values | runtime bytes | key bytes | gas |");
    std::thread::scope(|scope| {
        for i in 0..proven.len() {
            let (proven, again) = (&proven, &again);
            scope.spawn(move || reject_tampering(proven, i, again));
        }
    });
}

fn reject_tampering(proven: &[Proven], i: usize, again: &Proven) {
    let p = &proven[i];
    let (mut d, built) = deploy(p);
    let d = &mut d;
    let out = d
        .evm
        .call(d.addr, calldata(&p.proof, &p.instances))
        .unwrap();
    assert!(
        out.returned_true(),
        "{}: valid proof rejected: {out:?}",
        p.name
    );
    assert!(check(d, p, &p.proof, &p.instances, "the valid proof"));
    eprintln!(
        "| {} | {} | {} | {} | {} |",
        p.name,
        p.instances.len(),
        built.compiled.runtime.len(),
        built.key_size(),
        out.gas_used
    );
    let n = p.instances.len();
    // Flipped bits.
    for b in (0..256).filter(|b| b % 3 == 0 || b % 32 == 31) {
        let mut bad = p.proof.clone();
        bad[b] ^= 1 << (b % 8);
        assert!(!check(
            d,
            p,
            &bad,
            &p.instances,
            &format!("flipped byte {b}")
        ));
    }
    // Other valid points, points off the curve, infinity, non-canonical coordinates.
    let g1 = g1_to_bytes(&(G1Affine::generator() * Fr::from(5u64)).into());
    let g2 = g2_to_bytes(&(G2Affine::generator() * Fr::from(5u64)).into());
    let q = zkml_verifier::encoding::fq_to_be(&-ark_bn254::Fq::from(1u64));
    let mut q_plus = q;
    q_plus[31] += 1;
    let mut off = [0u8; 64];
    off[31] = 1;
    off[63] = 1;
    let replace = |at: usize, with: &[u8]| {
        let mut bad = p.proof.clone();
        bad[at..at + with.len()].copy_from_slice(with);
        bad
    };
    for (what, bad) in [
        ("A: another point", replace(0, &g1)),
        ("B: another point", replace(64, &g2)),
        ("C: another point", replace(192, &g1)),
        ("A: off the curve", replace(0, &off)),
        ("C: off the curve", replace(192, &off)),
        ("B: infinity", replace(64, &[0; 128])),
        ("B: off the curve", replace(64, &[1; 128])),
        ("A: x at the modulus", replace(0, &q_plus)),
        ("A: y at the modulus", replace(32, &q_plus)),
        ("C: y at the modulus", replace(224, &q_plus)),
        ("B: x.c1 at the modulus", replace(64, &q_plus)),
    ] {
        assert!(!check(d, p, &bad, &p.instances, what));
    }
    // Public values.
    let indices: Vec<usize> = if n <= 32 {
        (0..n).collect()
    } else {
        vec![0, n / 2, n - 1]
    };
    for idx in indices {
        let mut wrong = p.instances.clone();
        let f = zkml_verifier::encoding::fr_from_be(&wrong[idx]).unwrap();
        wrong[idx] = fr_to_be(&(f + Fr::from(1u64)));
        assert!(!check(
            d,
            p,
            &p.proof,
            &wrong,
            &format!("public value {idx}")
        ));
    }
    let mut r = fr_to_be(&-Fr::from(1u64));
    r[31] += 1;
    for (what, w) in [("the modulus", r), ("all ones", [0xff; 32])] {
        for idx in [0, n - 1] {
            let mut big = p.instances.clone();
            big[idx] = w;
            assert!(!check(
                d,
                p,
                &p.proof,
                &big,
                &format!("value {idx} at {what}")
            ));
        }
    }
    assert!(!check(
        d,
        p,
        &p.proof,
        &p.instances[..n - 1],
        "one value too few"
    ));
    let mut more = p.instances.clone();
    more.push([0; 32]);
    assert!(!check(d, p, &p.proof, &more, "one value too many"));
    // Other proofs, other lengths.
    let other = &proven[(i + 1) % proven.len()];
    assert!(!check(
        d,
        p,
        &other.proof,
        &p.instances,
        "another model's proof"
    ));
    if p.name == again.name {
        assert!(!check(
            d,
            p,
            &again.proof,
            &p.instances,
            "another setup's proof"
        ));
    }
    assert!(!check(
        d,
        p,
        &p.proof[..255],
        &p.instances,
        "truncated proof"
    ));
    let mut longer = p.proof.clone();
    longer.push(0);
    assert!(!check(d, p, &longer, &p.instances, "extended proof"));
    let full = calldata(&p.proof, &p.instances);
    for cut in [4, 36, 100, full.len() / 2, full.len() - 1] {
        let out = d.evm.call(d.addr, full[..cut].to_vec()).unwrap();
        assert!(!out.returned_true(), "{}: calldata cut at {cut}", p.name);
    }
}
