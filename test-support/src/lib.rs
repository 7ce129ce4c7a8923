//! The bundled fixtures as every test suite and benchmark uses them: a fixture imported and
//! compiled (calibrated on its own input), its input quantized and run by the reference
//! evaluator; then set up and proven in a given circuit shape, with the proof's public outputs
//! checked against the evaluator's, or compiled to R1CS and proven with Groth16.

use std::path::PathBuf;

use halo2_proofs::halo2curves::bn256::Fr;
use zkml_circuits::{CircuitParams, VisibilityConfig};
use zkml_ir::input::{parse_input_json, quantize_inputs};
use zkml_ir::{evaluate, Program, Tensor, Trace};
use zkml_prover::srs::Srs;
use zkml_prover::{generate_keys, prove, verify_with_halo2, Proof, ProvingKeyFile};

/// The folder of fixture `name` (`mlp`, `exported/gru`, ...).
pub fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

/// A fixture compiled to its program, with its input and the reference evaluation of it.
pub struct Fixture {
    /// The fixture's name.
    pub name: String,
    /// The program, calibrated on the fixture's input.
    pub program: Program,
    /// The input as the input file gives it.
    pub input: Vec<Vec<f64>>,
    /// The input quantized for the program.
    pub inputs: Vec<Tensor>,
    /// The reference evaluator's run on it.
    pub trace: Trace,
}

impl Fixture {
    /// Imports, compiles and runs fixture `name`; panics naming the fixture on any failure.
    pub fn load(name: &str) -> Self {
        let dir = fixture_dir(name);
        let model = zkml_onnx::load_model(&dir.join("model.onnx"), &Default::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = std::fs::read_to_string(dir.join("input.json"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let input = parse_input_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let program = zkml_onnx::compile(&model, std::slice::from_ref(&input), &Default::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .program;
        let inputs = quantize_inputs(&program, &input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let trace = evaluate(&program, &inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
        Self {
            name: name.to_string(),
            program,
            input,
            inputs,
            trace,
        }
    }

    /// Number of input values (the public instance starts with them when inputs are public).
    pub fn input_len(&self) -> usize {
        self.inputs.iter().map(Tensor::len).sum()
    }

    /// The reference outputs as field elements, in instance order.
    pub fn output_fields(&self) -> Vec<Fr> {
        self.trace
            .outputs()
            .iter()
            .flat_map(|t| {
                t.data()
                    .iter()
                    .map(|&v| zkml_circuits::field(i128::from(v)))
            })
            .collect()
    }

    /// Sets the fixture up in shape `params` with a seeded SRS and proves its input; the proof
    /// is checked by halo2's verifier and, with public outputs, its outputs against the
    /// reference evaluator's.
    pub fn prove(&self, params: CircuitParams, vis: VisibilityConfig, srs_seed: u64) -> Proven {
        let name = &self.name;
        let srs = zkml_prover::srs::generate(params.k, srs_seed);
        let (pk, vk) = generate_keys(&self.program, params, vis, &srs)
            .unwrap_or_else(|e| panic!("{name}: setup: {e}"));
        let proof = prove(&self.program, &self.inputs, &pk, &srs)
            .unwrap_or_else(|e| panic!("{name}: proving: {e}"));
        verify_with_halo2(&pk, &srs, &proof.bytes, &proof.instances)
            .unwrap_or_else(|e| panic!("{name}: halo2 rejects: {e}"));
        if vis == VisibilityConfig::default() {
            assert_eq!(
                &proof.instances[self.input_len()..],
                &self.output_fields()[..],
                "{name}: public outputs"
            );
        }
        Proven {
            vk: vk.to_bytes(),
            pk,
            proof,
            srs,
        }
    }
}

/// The hand-built model fixtures every end-to-end suite proves.
pub const MODEL_FIXTURES: &[&str] = &[
    "mlp_small",
    "mlp",
    "lenet",
    "depthwise_separable",
    "transformer",
    "pytorch_style",
];

/// A fixture's Groth16 keys and proof, as the verifiers read them.
pub struct Groth16Proven {
    /// The fixture's name.
    pub name: String,
    /// The verifying key file's bytes.
    pub vk: Vec<u8>,
    /// The proof's 256 bytes.
    pub proof: Vec<u8>,
    /// The public instance as 32-byte big-endian words.
    pub instances: Vec<[u8; 32]>,
    /// The proving key file.
    pub pk: zkml_groth16::ProvingKeyFile,
}

impl Fixture {
    /// Compiles the fixture to R1CS with `vis`, runs a seeded (insecure) setup and proves its
    /// input; the proof is checked by arkworks' verifier first.
    pub fn prove_groth16(&self, vis: VisibilityConfig, seed: u64) -> Groth16Proven {
        use rand::SeedableRng;
        let name = &self.name;
        let compiled = zkml_groth16::compile_with(&self.program, Some(&self.trace), vis)
            .unwrap_or_else(|e| panic!("{name}: R1CS: {e}"));
        let a = compiled.assignment.as_ref().expect("compiled with a trace");
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let (pk, vk) = zkml_groth16::setup(&compiled.r1cs, &mut rng)
            .unwrap_or_else(|e| panic!("{name}: setup: {e}"));
        let proof = zkml_groth16::prove(&pk, &compiled.r1cs, a, &mut rng)
            .unwrap_or_else(|e| panic!("{name}: proving: {e}"));
        assert!(
            zkml_groth16::verify(&vk, &a.instance, &proof).unwrap(),
            "{name}: arkworks rejects"
        );
        let model = zkml_prover::keys::model_info(&self.program, vis)
            .unwrap_or_else(|e| panic!("{name}: model: {e}"));
        let key = zkml_groth16::export_vk(&vk, model).unwrap();
        Groth16Proven {
            name: name.clone(),
            vk: key.to_bytes(),
            proof: zkml_groth16::proof_bytes(&proof).to_vec(),
            instances: a
                .instance
                .iter()
                .map(zkml_verifier::encoding::fr_to_be)
                .collect(),
            pk: zkml_groth16::ProvingKeyFile {
                program_digest: zkml_prover::keys::program_digest(&self.program),
                r1cs_digest: compiled.r1cs.digest(),
                vk: key,
                pk,
                reduction: zkml_groth16::Reduction::Arkworks,
            },
        }
    }
}

/// A fixture's keys and proof.
pub struct Proven {
    /// The verifying key's bytes.
    pub vk: Vec<u8>,
    /// The proving key.
    pub pk: ProvingKeyFile,
    /// The proof, its public instance and outputs.
    pub proof: Proof,
    /// The SRS the keys were made with.
    pub srs: Srs,
}

/// `layers` dense layers of `width` (ReLU between): a program that cuts into `layers` segments.
pub fn deep_program(width: usize, layers: usize) -> Program {
    use zkml_ir::{Op, ProgramBuilder};
    let mut b = ProgramBuilder::new(16).unwrap();
    let mut x = b.input("x", vec![1, width], 8).unwrap();
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % 255) as i64 - 127
    };
    for layer in 0..layers {
        let w: Vec<i64> = (0..width * width).map(|_| next()).collect();
        let w = b
            .parameter(&format!("w{layer}"), vec![width, width], 8, w)
            .unwrap();
        let mm = b.push(&format!("mm{layer}"), Op::MatMul, &[x, w]).unwrap();
        let r = b
            .push(&format!("rescale{layer}"), Op::Rescale { shift: 10 }, &[mm])
            .unwrap();
        x = b.push(&format!("relu{layer}"), Op::Relu, &[r]).unwrap();
    }
    b.output(x, "y");
    b.finish().unwrap()
}
