//! The fuzz targets: one function per decoder that reads bytes a user (or an attacker) hands
//! to zkml. Each takes arbitrary bytes and must return without panicking, aborting or
//! allocating without bound, whatever they hold; the cargo-fuzz targets in `fuzz/` and the
//! stable smoke test (`tests/smoke.rs`) call the same functions.
//!
//! Where a decoded value can be used further at little cost, the target uses it, so that what
//! the decoder lets through is exercised too: a decoded verifying key verifies the seed proof,
//! a decoded proof file is verified and its claims checked, and decoded calldata is checked
//! against the generated Solidity verifier in an in-process EVM (the contract must accept
//! exactly what the Rust verifier accepts). A ceremony's `.zkey` is read against the
//! constraint system it was made for.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use zkml_contracts::evm::{Address, Evm};

/// A fuzz target: takes any bytes, never panics.
pub type Target = fn(&[u8]);

/// The targets, by name (as `fuzz/fuzz_targets/NAME.rs` and the seed folders are named).
pub const TARGETS: [(&str, Target); 8] = [
    ("onnx", onnx),
    ("program", program),
    ("input", input),
    ("pk", pk),
    ("vk", vk),
    ("proof", proof),
    ("calldata", calldata),
    ("zkey", zkey),
];

/// The seed artifacts (`seeds/model/`, made by `seeds/make.sh` from the `mlp_small` fixture):
/// the verifying key, a proof of it and its Solidity verifier.
mod model {
    pub const VK: &[u8] = include_bytes!("../seeds/model/vk.bin");
    pub const PROOF: &str = include_str!("../seeds/model/proof.json");
    pub const VERIFIER: &str = include_str!("../seeds/model/verifier.json");
}

/// An ONNX model: protobuf decoding, external data, graph construction and shape inference.
pub fn onnx(data: &[u8]) {
    let options = zkml_onnx::ImportOptions::default();
    let _ = zkml_onnx::parse_model(data.to_vec(), None, &options);
}

/// A compiled program file (`.zkml`).
pub fn program(data: &[u8]) {
    let _ = zkml_ir::format::from_bytes(data);
}

/// An input file (`input.json`, EZKL's format).
pub fn input(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = zkml_ir::input::parse_input_json(text);
    }
}

/// A proving key file (`pk.bin`). The body's checksum is no barrier to an attacker, so the
/// bytes are also decoded with it recomputed: mutations then reach the key's own decoder.
pub fn pk(data: &[u8]) {
    let path = Path::new("fuzz/pk.bin");
    let _ = zkml_prover::ProvingKeyFile::from_bytes(data, path);
    if let Ok((_, at)) = zkml_prover::ProvingKeyFile::read_header(data, path) {
        if data.len() >= at + 32 {
            let mut fixed = data.to_vec();
            let sum = zkml_prover::keys::keccak(&data[at + 32..]);
            fixed[at..at + 32].copy_from_slice(&sum);
            let _ = zkml_prover::ProvingKeyFile::from_bytes(&fixed, path);
        }
    }
}

/// The seed proof's bytes and instance words.
fn seed_proof() -> &'static (Vec<u8>, Vec<[u8; 32]>) {
    static SEED: OnceLock<(Vec<u8>, Vec<[u8; 32]>)> = OnceLock::new();
    SEED.get_or_init(|| {
        let (_, proof, instances) =
            zkml_cli::commands::verify::parse_proof_file(model::PROOF).expect("seed proof file");
        let words = instances
            .iter()
            .map(zkml_verifier::encoding::fr_to_be)
            .collect();
        (proof, words)
    })
}

/// A verifying key (`vk.bin`); a key that decodes then verifies the seed proof.
pub fn vk(data: &[u8]) {
    let (proof, words) = seed_proof();
    let verdict = zkml_verifier::verify_words(data, proof, words);
    // Only the seed's own key may accept the seed proof: any other key that decodes is a
    // different circuit (its digest, bound into the transcript, differs).
    if verdict.is_ok() {
        let key = zkml_verifier::Key::from_bytes(data).expect("it verified");
        let seed = zkml_verifier::Key::from_bytes(model::VK).expect("seed key");
        assert_eq!(
            key.key_digest(),
            seed.key_digest(),
            "a key other than the seed's accepted its proof"
        );
    }
}

/// The seed verifying key, decoded once.
fn seed_key() -> &'static zkml_verifier::Key {
    static KEY: OnceLock<zkml_verifier::Key> = OnceLock::new();
    KEY.get_or_init(|| zkml_verifier::Key::from_bytes(model::VK).expect("seed key"))
}

/// A proof file (`proof.json`), verified with the seed key and its claims checked as
/// `zkml verify` does.
pub fn proof(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((file, proof, instances)) = zkml_cli::commands::verify::parse_proof_file(text) {
        let _ =
            zkml_cli::commands::verify::check_proof(seed_key(), &file, &proof, &instances, None);
    }
}

/// The seed verifier, deployed once in an in-process EVM.
fn seed_evm() -> &'static Mutex<(Evm, Address)> {
    static EVM: OnceLock<Mutex<(Evm, Address)>> = OnceLock::new();
    EVM.get_or_init(|| {
        let manifest: serde_json::Value =
            serde_json::from_str(model::VERIFIER).expect("seed verifier manifest");
        let unhex = |v: &serde_json::Value| {
            let s = v.as_str().expect("hex string");
            hex::decode(s.strip_prefix("0x").unwrap_or(s)).expect("hex")
        };
        let code = unhex(&manifest["bytecode"]);
        let keys: Vec<Vec<u8>> = manifest["key_bytecodes"]
            .as_array()
            .expect("key contracts")
            .iter()
            .map(unhex)
            .collect();
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let mut evm = Evm::new();
        let addr = evm
            .deploy_with_keys(&code, &keys)
            .expect("seed verifier deploys");
        Mutex::new((evm, addr))
    })
}

/// Calldata of `verifyProof(bytes,uint256[])` sent to the seed's Solidity verifier: the
/// contract must accept it exactly when the calldata decodes (as Solidity decodes it) to a
/// proof and instance that the Rust verifier accepts.
pub fn calldata(data: &[u8]) {
    let rust = zkml_contracts::abi::decode_calldata(data)
        .is_ok_and(|(proof, words)| zkml_verifier::verify_words(model::VK, &proof, &words).is_ok());
    let mut guard = seed_evm().lock().unwrap_or_else(|e| e.into_inner());
    let (evm, addr) = &mut *guard;
    let outcome = evm
        .call(*addr, data.to_vec())
        .expect("the EVM runs the call");
    assert_eq!(
        outcome.returned_true(),
        rust,
        "the contract and the Rust verifier disagree on calldata {}",
        hex::encode(data)
    );
}

/// The constraint system of the seed program `seeds/program/tiny.zkml`, which the seed
/// `.zkey` (`seeds/zkey/tiny.zkey`, from a snarkjs ceremony) was made for.
fn tiny_r1cs() -> &'static zkml_groth16::R1cs {
    static R1CS: OnceLock<zkml_groth16::R1cs> = OnceLock::new();
    R1CS.get_or_init(|| {
        let program = zkml_ir::format::from_bytes(include_bytes!("../seeds/program/tiny.zkml"))
            .expect("seed program");
        zkml_groth16::compile(&program, None)
            .expect("seed program compiles to R1CS")
            .r1cs
    })
}

/// A snarkjs Groth16 `.zkey` (`zkml setup --backend groth16 --zkey`).
pub fn zkey(data: &[u8]) {
    let _ = zkml_groth16::ceremony::read_zkey(data, tiny_r1cs());
}
