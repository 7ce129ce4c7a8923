//! What a valid proof says about a proof file's outputs and, optionally, about an input file:
//! public values must equal them, hashes must be their hashes, private values are unproven.

use anyhow::{bail, Result};
use serde::Serialize;
use zkml_ir::input::{quantize_with, InputSpec};
use zkml_verifier::vk::{ModelInfo, PublicPart, TensorInfo, ValueClass};

use crate::proving::{word_hex, ProofFile};

/// How a class of values relates to the proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    /// Public: the proof's instance holds the values, and they match.
    Proven,
    /// Hashed: the proof's instance holds their hash, and the values hash to it.
    HashMatches,
    /// Private: the proof says nothing about these values.
    Unproven,
    /// Not checked (no values given).
    NotChecked,
}

/// The verdict on the claims.
#[derive(Clone, Debug, Serialize)]
pub struct Claims {
    /// The outputs listed in the file.
    pub outputs: Binding,
    /// The input file, when one was given.
    pub input: Binding,
    /// The committed parameter hash, when parameters are hashed.
    pub parameters_hash: Option<String>,
}

fn spec(t: &TensorInfo) -> (String, Vec<usize>, i32) {
    (
        t.name.clone(),
        t.shape.iter().map(|&d| d as usize).collect(),
        t.scale,
    )
}

fn value_word(v: i64) -> [u8; 32] {
    zkml_verifier::encoding::fr_to_be(&zkml_verifier::encoding::fr_from_i128(i128::from(v)))
}

fn hash_word(values: &[(i128, u32)]) -> Option<[u8; 32]> {
    let h = zkml_circuits::poseidon::hash_values(values)?;
    Some(zkml_prover::prove::fr_to_word(&h))
}

/// Outputs a file lists beside its proof: dequantized, and as the program's integers.
#[derive(Clone, Copy, Debug)]
pub struct Listed<'a> {
    pub outputs: &'a [Vec<f64>],
    pub quantized: &'a [Vec<i64>],
}

/// Checks the file's outputs (and `input`, if given) against an instance verified with the
/// key whose digest is `key_digest` and whose public values mean `info`.
pub fn check(
    info: &ModelInfo,
    key_digest: &[u8; 32],
    file: &ProofFile,
    instances: &[[u8; 32]],
    input: Option<&[Vec<f64>]>,
) -> Result<Claims> {
    // Every field the file reports on is this key's and this instance's.
    let digest = hex::encode(key_digest);
    if !file
        .vk_digest
        .trim_start_matches("0x")
        .eq_ignore_ascii_case(&digest)
    {
        bail!(
            "the proof file names verifying key {}, but it was checked against 0x{digest}",
            file.vk_digest
        );
    }
    let program = hex::encode(info.program_digest);
    if !file
        .program_digest
        .trim_start_matches("0x")
        .eq_ignore_ascii_case(&program)
    {
        bail!(
            "the proof file names program {}, but the verifying key is for program 0x{program}",
            file.program_digest
        );
    }
    if file.public != crate::proving::public_entries(info, instances) {
        bail!("the proof file's readable 'public' account differs from the proven instance");
    }
    let listed = Listed {
        outputs: &file.outputs,
        quantized: &file.quantized_outputs,
    };
    check_values(info, instances, Some(listed), input)
}

/// Checks `listed` outputs (when a file lists them) and `input` (if given) against an
/// instance verified with a key whose public values mean `info`.
pub fn check_values(
    info: &ModelInfo,
    instances: &[[u8; 32]],
    listed: Option<Listed<'_>>,
    input: Option<&[Vec<f64>]>,
) -> Result<Claims> {
    let mut claims = Claims {
        outputs: if listed.is_some() {
            Binding::Unproven
        } else {
            Binding::NotChecked
        },
        input: if input.is_some() {
            Binding::Unproven
        } else {
            Binding::NotChecked
        },
        parameters_hash: None,
    };
    let none = Listed {
        outputs: &[],
        quantized: &[],
    };
    let file = listed.unwrap_or(none);
    if file.outputs.len() != file.quantized.len() {
        bail!("the file lists outputs inconsistently");
    }
    let proven_outputs: usize = info
        .public
        .iter()
        .map(|part| match part {
            PublicPart::Values {
                class: ValueClass::Outputs,
                ..
            } => 1,
            PublicPart::Hash {
                class: ValueClass::Outputs,
                tensors,
            } => tensors.len(),
            _ => 0,
        })
        .sum();
    if listed.is_some() && file.outputs.len() != proven_outputs {
        if proven_outputs == 0 {
            bail!(
                "the file lists {} outputs, but the outputs are private in this proof: \
                 nothing about them is proven",
                file.outputs.len()
            );
        }
        bail!(
            "the file lists {} outputs, but the verifying key proves {proven_outputs}",
            file.outputs.len()
        );
    }
    if at_end(info) != instances.len() as u64 {
        bail!("the instance is longer than the verifying key describes");
    }
    // The listed floats must be the listed integers, dequantized.
    let mut output_index = 0usize;
    let mut input_index = 0usize;
    let mut at = 0usize;
    for part in &info.public {
        let n = part.instance_len() as usize;
        let Some(slice) = instances.get(at..at + n) else {
            bail!("the instance is shorter than the verifying key describes");
        };
        at += n;
        match part {
            PublicPart::Values {
                class: ValueClass::Outputs,
                tensor,
            } if listed.is_some() => {
                let Some(q) = file.quantized.get(output_index) else {
                    bail!("the file lacks output '{}'", tensor.name);
                };
                let floats = &file.outputs[output_index];
                output_index += 1;
                if q.len() != n || q.iter().zip(slice).any(|(&v, w)| value_word(v) != *w) {
                    bail!(
                        "output '{}' in the file differs from the proven output",
                        tensor.name
                    );
                }
                check_dequantized(&tensor.name, q, floats, tensor.scale)?;
                claims.outputs = Binding::Proven;
            }
            PublicPart::Hash {
                class: ValueClass::Outputs,
                tensors,
            } if listed.is_some() => {
                let mut items = Vec::new();
                for (k, (t, bits)) in tensors.iter().enumerate() {
                    let Some(q) = file.quantized.get(k) else {
                        bail!("the file lacks output '{}'", t.name);
                    };
                    if q.len() as u64 != t.len() {
                        bail!("output '{}' in the file has the wrong length", t.name);
                    }
                    check_dequantized(&t.name, q, &file.outputs[k], t.scale)?;
                    items.extend(q.iter().map(|&v| (i128::from(v), *bits)));
                }
                if hash_word(&items).as_ref() != Some(&slice[0]) {
                    bail!("the outputs in the file do not hash to the proven output hash");
                }
                claims.outputs = Binding::HashMatches;
            }
            PublicPart::Values {
                class: ValueClass::Inputs,
                tensor,
            } => {
                if let Some(data) = input {
                    let q = quantize_one(tensor, info.value_bits, data, input_index)?;
                    if q.iter().zip(slice).any(|(&v, w)| value_word(v) != *w) {
                        bail!(
                            "the proof was made for a different input '{}' than the input file's",
                            tensor.name
                        );
                    }
                    claims.input = Binding::Proven;
                }
                input_index += 1;
            }
            PublicPart::Hash {
                class: ValueClass::Inputs,
                tensors,
            } => {
                if let Some(data) = input {
                    let mut items = Vec::new();
                    for (k, (t, bits)) in tensors.iter().enumerate() {
                        let q = quantize_one(t, info.value_bits, data, k)?;
                        items.extend(q.iter().map(|&v| (i128::from(v), *bits)));
                    }
                    if hash_word(&items).as_ref() != Some(&slice[0]) {
                        bail!("the input file does not hash to the proven input hash");
                    }
                    claims.input = Binding::HashMatches;
                }
            }
            PublicPart::Hash {
                class: ValueClass::Parameters,
                ..
            } => claims.parameters_hash = Some(word_hex(&slice[0])),
            PublicPart::Values {
                class: ValueClass::Parameters,
                ..
            } => bail!("the verifying key lists parameters as public values"),
            // Outputs a file does not list are left unchecked; links between segments are the
            // chain's to check (zkml_verifier::chain), and an aggregate's accumulator the
            // verifier's (it decides its pairing).
            PublicPart::Values {
                class: ValueClass::Outputs,
                ..
            }
            | PublicPart::Hash {
                class: ValueClass::Outputs,
                ..
            }
            | PublicPart::Link { .. }
            | PublicPart::Accumulator { .. } => {}
        }
    }
    if input.is_some() && claims.input == Binding::Unproven {
        bail!("the inputs are private in this proof: an input file cannot be checked against it");
    }
    Ok(claims)
}

/// Instance values the key describes.
fn at_end(info: &zkml_verifier::vk::ModelInfo) -> u64 {
    info.public
        .iter()
        .fold(0u64, |n, p| n.saturating_add(p.instance_len()))
}

fn quantize_one(t: &TensorInfo, bits: u32, data: &[Vec<f64>], index: usize) -> Result<Vec<i64>> {
    let (name, shape, scale) = spec(t);
    let Some(values) = data.get(index) else {
        bail!("the input file has no input {index} ('{name}')");
    };
    let q = quantize_with(
        &[InputSpec {
            name: &name,
            shape: &shape,
            scale,
            domain: zkml_ir::InputDomain::Real,
        }],
        bits,
        std::slice::from_ref(values),
    )?;
    Ok(q[0].data().to_vec())
}

fn check_dequantized(name: &str, q: &[i64], floats: &[f64], scale: i32) -> Result<()> {
    if q.len() != floats.len()
        || q.iter()
            .zip(floats)
            .any(|(&v, &f)| zkml_ir::rounding::dequantize(v, scale) != f)
    {
        bail!("output '{name}' in the file does not match its quantized values");
    }
    Ok(())
}
