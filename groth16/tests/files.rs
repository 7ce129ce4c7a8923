//! Groth16 key and proof files through the standalone verifier: a real proof verifies from
//! bytes, and every tampering (each proof element, a flipped byte, each public value, a value
//! at the field modulus, points off the curve, wrong lengths, another model's key) is a typed
//! rejection. Proving key files round-trip and reject corruption.

use ark_bn254::Fr;
use ark_ec::AffineRepr;
use zkml_circuits::VisibilityConfig;
use zkml_groth16::ProvingKeyFile;
use zkml_test_support::Fixture;
use zkml_verifier::encoding::fr_to_be;
use zkml_verifier::groth16::{Groth16Key, PROOF_LEN};
use zkml_verifier::{Key, KeyError, VerifyError};

struct Made {
    key: Vec<u8>,
    proof: Vec<u8>,
    public: Vec<[u8; 32]>,
    pk: ProvingKeyFile,
}

fn make(name: &str, seed: u64) -> Made {
    let g = Fixture::load(name).prove_groth16(VisibilityConfig::default(), seed);
    Made {
        key: g.vk,
        proof: g.proof,
        public: g.instances,
        pk: g.pk,
    }
}

#[test]
fn proofs_verify_from_bytes_and_every_tampering_is_rejected() {
    let m = make("mlp_small", 1);
    let verify = |key: &[u8], proof: &[u8], public: &[[u8; 32]]| {
        zkml_verifier::verify_words(key, proof, public)
    };
    verify(&m.key, &m.proof, &m.public).expect("the honest proof");
    let key = Key::from_bytes(&m.key).unwrap();
    assert_eq!(key.backend(), zkml_verifier::Backend::Groth16);
    assert_eq!(key.to_bytes(), m.key);

    // Every byte of the proof matters: flipping one gives an invalid point or a failed check.
    for at in (0..PROOF_LEN)
        .step_by(7)
        .chain([31, 63, 95, 127, 159, 191, 223, 255])
    {
        let mut bad = m.proof.clone();
        bad[at] ^= 1;
        let e = verify(&m.key, &bad, &m.public).unwrap_err();
        assert!(
            matches!(
                e,
                VerifyError::InvalidPoint { .. } | VerifyError::PairingCheckFailed
            ),
            "byte {at}: {e}"
        );
    }
    // Each element replaced by a valid point of its group: a failed check.
    let g1 = zkml_verifier::encoding::g1_to_bytes(&ark_bn254::G1Affine::generator());
    let g2 = zkml_verifier::encoding::g2_to_bytes(&ark_bn254::G2Affine::generator());
    for (range, with) in [(0..64, &g1[..]), (64..192, &g2[..]), (192..256, &g1[..])] {
        let mut bad = m.proof.clone();
        bad[range.clone()].copy_from_slice(with);
        assert_eq!(
            verify(&m.key, &bad, &m.public),
            Err(VerifyError::PairingCheckFailed),
            "element at {range:?}"
        );
    }
    // Off the curve.
    let mut bad = m.proof.clone();
    bad[..64].copy_from_slice(&[0; 64]);
    bad[63] = 5;
    assert_eq!(
        verify(&m.key, &bad, &m.public),
        Err(VerifyError::InvalidPoint {
            offset: 0,
            what: "A"
        })
    );
    // Lengths.
    assert!(matches!(
        verify(&m.key, &m.proof[..255], &m.public),
        Err(VerifyError::ProofTooShort { offset: 192, .. })
    ));
    assert!(matches!(
        verify(&m.key, &[m.proof.as_slice(), &[0]].concat(), &m.public),
        Err(VerifyError::TrailingBytes { .. })
    ));
    assert!(matches!(
        verify(&m.key, &[], &m.public),
        Err(VerifyError::ProofTooShort { offset: 0, .. })
    ));
    // Public values: each changed, one at the modulus, one missing.
    for i in 0..m.public.len() {
        let mut public = m.public.clone();
        public[i][31] ^= 1;
        assert_eq!(
            verify(&m.key, &m.proof, &public),
            Err(VerifyError::PairingCheckFailed),
            "public value {i}"
        );
    }
    let modulus = {
        let mut w = fr_to_be(&-Fr::from(1u64));
        w[31] += 1;
        w
    };
    let mut public = m.public.clone();
    public[0] = modulus;
    assert_eq!(
        verify(&m.key, &m.proof, &public),
        Err(VerifyError::InvalidInstance { index: 0 })
    );
    assert!(matches!(
        verify(&m.key, &m.proof, &m.public[1..]),
        Err(VerifyError::InstanceCount { .. })
    ));
    // Another model's key and proof.
    let other = make("mlp", 2);
    verify(&other.key, &other.proof, &other.public).expect("the other honest proof");
    assert!(verify(&other.key, &m.proof, &m.public).is_err());
    assert!(verify(&m.key, &other.proof, &other.public).is_err());
    // Another setup of the same model.
    let again = make("mlp_small", 3);
    assert_eq!(
        verify(&again.key, &m.proof, &m.public),
        Err(VerifyError::PairingCheckFailed)
    );
}

#[test]
fn corrupt_keys_are_typed_errors() {
    let m = make("mlp_small", 4);
    let key = Groth16Key::from_bytes(&m.key).unwrap();
    assert!(matches!(
        Key::from_bytes(&m.key[..m.key.len() - 1]),
        Err(KeyError::Corrupt(_))
    ));
    let mut bad = m.key.clone();
    bad[8] = 9;
    assert!(matches!(
        Key::from_bytes(&bad),
        Err(KeyError::UnsupportedVersion { found: 9, .. })
    ));
    // A point off the curve.
    let mut k = key.clone();
    k.alpha_g1.y[31] ^= 1;
    assert!(matches!(
        Key::from_bytes(&k.to_bytes()),
        Err(KeyError::InvalidElement { .. })
    ));
    // A public base missing for the model's values.
    let mut k = key.clone();
    k.ic.pop();
    assert!(matches!(
        Key::from_bytes(&k.to_bytes()),
        Err(KeyError::Inconsistent(_))
    ));
    // An accumulator among the public values, which a Groth16 verifier would not decide.
    let mut k = key.clone();
    let before = k.model.public[0].instance_len() as usize;
    k.model.public[0] = zkml_verifier::vk::PublicPart::Accumulator { limbs: 3, bits: 88 };
    let after = k.model.public[0].instance_len() as usize;
    let last = *k.ic.last().unwrap();
    k.ic.resize(k.ic.len() + after - before, last);
    assert!(matches!(
        Key::from_bytes(&k.to_bytes()),
        Err(KeyError::Inconsistent(m)) if m.contains("accumulator")
    ));
    // Every truncation and single-byte change of the key file is an error or a different key.
    for n in 0..m.key.len() {
        assert!(Key::from_bytes(&m.key[..n]).is_err(), "truncated at {n}");
    }
    for at in (0..m.key.len()).step_by(13) {
        let mut bad = m.key.clone();
        bad[at] ^= 0x20;
        match Key::from_bytes(&bad) {
            Err(_) => {}
            Ok(k) => assert_ne!(k.key_digest(), key.key_digest(), "byte {at}"),
        }
    }
}

#[test]
fn proving_key_files_round_trip_and_reject_corruption() {
    let m = make("mlp_small", 5);
    let bytes = m.pk.to_bytes();
    // The key cache makes room from the counted length before writing.
    assert_eq!(m.pk.file_len(), bytes.len() as u64);
    let back = ProvingKeyFile::from_bytes(&bytes).unwrap();
    assert_eq!(back.vk, m.pk.vk);
    assert_eq!(back.r1cs_digest, m.pk.r1cs_digest);
    assert_eq!(back.program_digest, m.pk.program_digest);
    assert_eq!(back.pk, m.pk.pk);
    for n in [0, 8, 11, 15, 87, 88, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            ProvingKeyFile::from_bytes(&bytes[..n]).is_err(),
            "truncated at {n}"
        );
    }
    assert!(ProvingKeyFile::from_bytes(&[bytes.as_slice(), &[0]].concat()).is_err());
    // An unknown QAP layout, an unknown version.
    for (at, value) in [(12, 2u8), (8, 3)] {
        let mut bad = bytes.clone();
        bad[at] = value;
        assert!(
            ProvingKeyFile::from_bytes(&bad).is_err(),
            "byte {at} = {value}"
        );
    }
    // A version-1 file (no layout field) reads as a local setup's.
    let mut v1 = bytes.clone();
    v1.drain(12..16);
    v1[8] = 1;
    let old = ProvingKeyFile::from_bytes(&v1).unwrap();
    assert_eq!(old.reduction, zkml_groth16::Reduction::Arkworks);
    assert_eq!(old.pk, m.pk.pk);
    // A point of the proving key moved off the curve.
    let mut bad = bytes.clone();
    let at = bytes.len() - 40;
    bad[at] ^= 1;
    assert!(ProvingKeyFile::from_bytes(&bad).is_err());
    // The embedded verifying key must be the proving key's.
    let other = make("mlp_small", 6);
    let mut mixed = m.pk.clone();
    mixed.vk = other.pk.vk.clone();
    assert!(ProvingKeyFile::from_bytes(&mixed.to_bytes()).is_err());
}
