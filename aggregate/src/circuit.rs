//! The aggregation circuit: every proof verified in-circuit (each one's pairing deferred into
//! one accumulator), the chain's links constrained inside, and only what the chain makes
//! public exposed.

use halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_proofs::plonk::{keygen_pk, keygen_pk2, keygen_vk_custom, ProvingKey, VerifyingKey};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::halo2::aggregation::{
    AggregationCircuit, AggregationConfigParams, VerifierUniversality,
};
use snark_verifier_sdk::snark_verifier::halo2_base::gates::circuit::CircuitBuilderStage;
use snark_verifier_sdk::snark_verifier::halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use snark_verifier_sdk::snark_verifier::verifier::plonk::PlonkProtocol;
use snark_verifier_sdk::{Snark, SHPLONK};
use zkml_verifier::vk::{ModelInfo, PublicPart};

use crate::snark::instance_len;
use crate::AggregateError;

/// Where two proofs must carry the same public value: `(proof, position)` pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The proof and position of the value passed on.
    pub from: (usize, usize),
    /// The proof and position of the value taken.
    pub to: (usize, usize),
}

/// What an aggregate proves about its proofs' public values: the instance length of each
/// proof, the links constrained inside, and the values it makes public, in order, after the
/// accumulator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Each proof's instance length.
    pub instance_lens: Vec<usize>,
    /// Values that must be equal across proofs.
    pub links: Vec<Link>,
    /// The `(proof, position)` of each value made public, in order.
    pub exposed: Vec<(usize, usize)>,
}

impl Shape {
    /// A batch of independent proofs: no links, every public value exposed.
    pub fn batch(instance_lens: Vec<usize>) -> Self {
        let exposed = instance_lens
            .iter()
            .enumerate()
            .flat_map(|(p, &n)| (0..n).map(move |i| (p, i)))
            .collect();
        Self {
            instance_lens,
            links: Vec::new(),
            exposed,
        }
    }

    /// A chain: `links[i]` is `(position of proof i's output commitment, position of proof
    /// i + 1's input commitment)`. Link commitments stay inside; every other public value
    /// (the first proof's inputs, the last one's outputs, parameter hashes) is exposed.
    pub fn chain(instance_lens: Vec<usize>, links: &[(usize, usize)]) -> Result<Self, String> {
        if links.len() + 1 != instance_lens.len() {
            return Err(format!(
                "{} proofs need {} links, {} given",
                instance_lens.len(),
                instance_lens.len().saturating_sub(1),
                links.len()
            ));
        }
        let links: Vec<Link> = links
            .iter()
            .enumerate()
            .map(|(i, &(out, inp))| Link {
                from: (i, out),
                to: (i + 1, inp),
            })
            .collect();
        let linked = |p: usize, i: usize| links.iter().any(|l| l.from == (p, i) || l.to == (p, i));
        let exposed = instance_lens
            .iter()
            .enumerate()
            .flat_map(|(p, &n)| (0..n).map(move |i| (p, i)))
            .filter(|&(p, i)| !linked(p, i))
            .collect();
        let shape = Self {
            instance_lens,
            links,
            exposed,
        };
        shape.check()?;
        Ok(shape)
    }

    /// Whether every position named is inside its proof's instance.
    pub fn check(&self) -> Result<(), String> {
        let inside =
            |(p, i): (usize, usize)| p < self.instance_lens.len() && i < self.instance_lens[p];
        for l in &self.links {
            if !inside(l.from) || !inside(l.to) {
                return Err(format!(
                    "link {l:?} names a value outside the proofs' instances"
                ));
            }
        }
        if let Some(e) = self.exposed.iter().find(|&&e| !inside(e)) {
            return Err(format!(
                "exposed value {e:?} is outside the proofs' instances"
            ));
        }
        Ok(())
    }

    /// Checks `snarks` against the shape natively: their count, instance lengths and links.
    pub fn check_snarks(&self, snarks: &[Snark]) -> Result<(), AggregateError> {
        if snarks.len() != self.instance_lens.len() {
            return Err(AggregateError::Mismatch(format!(
                "the aggregate is of {} proofs, {} were given",
                self.instance_lens.len(),
                snarks.len()
            )));
        }
        for (p, (s, &n)) in snarks.iter().zip(&self.instance_lens).enumerate() {
            if instance_len(s) != n || s.instances.len() != 1 {
                return Err(AggregateError::Mismatch(format!(
                    "proof {p} has {} public values, its key {n}",
                    instance_len(s)
                )));
            }
        }
        for (k, l) in self.links.iter().enumerate() {
            let value = |(p, i): (usize, usize)| snarks[p].instances[0][i];
            if value(l.from) != value(l.to) {
                return Err(AggregateError::BrokenLink {
                    link: k,
                    proof: l.to.0,
                });
            }
        }
        Ok(())
    }

    /// Length of the aggregate's instance: the accumulator's limbs, then the exposed values.
    pub fn aggregate_instance_len(&self) -> usize {
        ACCUMULATOR_LIMBS + self.exposed.len()
    }
}

/// Field elements the accumulator takes at the start of an aggregate's instance (two points,
/// two coordinates each, three limbs per coordinate).
pub const ACCUMULATOR_LIMBS: usize = 4 * snark_verifier_sdk::LIMBS;

/// Builds the aggregation circuit over `snarks` for `stage`: their verification, the links,
/// the exposed values.
pub(crate) fn build(
    stage: CircuitBuilderStage,
    config: AggregationConfigParams,
    srs: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    shape: &Shape,
) -> AggregationCircuit {
    let mut circuit =
        AggregationCircuit::new::<SHPLONK>(stage, config, srs, snarks, VerifierUniversality::None);
    let previous = circuit.previous_instances().clone();
    let ctx = circuit.builder.main(0);
    for l in &shape.links {
        ctx.constrain_equal(&previous[l.from.0][l.from.1], &previous[l.to.0][l.to.1]);
    }
    let exposed = shape.exposed.iter().map(|&(p, i)| previous[p][i]);
    circuit.builder.assigned_instances[0].extend(exposed);
    circuit
}

/// The aggregation circuit over `snarks` with its witness, laid out as its key was.
pub(crate) fn for_proving(
    srs: &ParamsKZG<Bn256>,
    config: AggregationConfigParams,
    break_points: &MultiPhaseThreadBreakPoints,
    snarks: Vec<Snark>,
    shape: &Shape,
) -> AggregationCircuit {
    build(CircuitBuilderStage::Prover, config, srs, snarks, shape)
        .use_break_points(break_points.clone())
}

/// An aggregation circuit's proving key and what rebuilding its witness needs.
pub struct AggregationKey {
    /// halo2's proving key.
    pub pk: ProvingKey<G1Affine>,
    /// The circuit's configuration (rows, columns, lookup bits).
    pub config: AggregationConfigParams,
    /// Where the builder's threads break into columns.
    pub break_points: MultiPhaseThreadBreakPoints,
    /// The proofs' links and the values exposed.
    pub shape: Shape,
    /// Each aggregated proof's protocol (its segment's verifying key): constants of the
    /// circuit.
    pub protocols: Vec<PlonkProtocol<G1Affine>>,
    /// The aggregate's verifying key for `zkml-verifier` and the generated contracts: its
    /// public values are the accumulator, then what `model` described.
    pub vk: zkml_verifier::VerifyingKey,
}

/// What a chain's aggregate makes public, described from its segments' keys in order: every
/// public part of every segment but the links, which stay inside. This is the order of
/// [`Shape::chain`]'s exposed values. Inputs are the first segment's, outputs the last one's.
pub fn chain_model(
    segments: &[zkml_verifier::VerifyingKey],
    program_digest: [u8; 32],
) -> Result<ModelInfo, AggregateError> {
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return Err(AggregateError::Mismatch(
            "a chain has at least one segment".into(),
        ));
    };
    Ok(ModelInfo {
        program_digest,
        value_bits: segments
            .iter()
            .map(|k| k.model.value_bits)
            .max()
            .unwrap_or(0),
        inputs: first.model.inputs,
        outputs: last.model.outputs,
        parameters: first.model.parameters,
        public: segments
            .iter()
            .flat_map(|k| &k.model.public)
            .filter(|p| !matches!(p, PublicPart::Link { .. }))
            .cloned()
            .collect(),
    })
}

/// Generates the aggregation circuit's keys for proofs like `snarks` (their keys, not their
/// values, fix the circuit) in 2^`k` rows; `srs` has 2^`k` points. `model` describes the
/// values the aggregate exposes ([`chain_model`] for a chain); the key's public values are
/// the accumulator's limbs, then those.
pub fn keygen(
    srs: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    shape: Shape,
    model: ModelInfo,
) -> Result<AggregationKey, AggregateError> {
    shape.check().map_err(AggregateError::Mismatch)?;
    shape.check_snarks(&snarks)?;
    for (proof, s) in snarks.iter().enumerate() {
        crate::check_snark(srs, s).map_err(|e| AggregateError::BadProof {
            proof,
            reason: e.to_string(),
        })?;
    }
    keygen_laid_out(srs, snarks, shape, model)
}

/// [`keygen`] over proofs that are not checked: only their protocols and sizes lay the
/// circuit out, so placeholders of the right shape serve.
pub(crate) fn keygen_laid_out(
    srs: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    shape: Shape,
    mut model: ModelInfo,
) -> Result<AggregationKey, AggregateError> {
    shape.check().map_err(AggregateError::Mismatch)?;
    let described: u64 = model.public.iter().map(PublicPart::instance_len).sum();
    if described != shape.exposed.len() as u64 {
        return Err(AggregateError::Mismatch(format!(
            "the aggregate exposes {} values, its description {described}",
            shape.exposed.len()
        )));
    }
    model.public.insert(
        0,
        PublicPart::Accumulator {
            limbs: snark_verifier_sdk::LIMBS as u32,
            bits: snark_verifier_sdk::BITS as u32,
        },
    );
    let laid = lay_out(srs, snarks, &shape)?;
    let vk = zkml_prover::export::export_vk(
        laid.pk.get_vk(),
        srs,
        model,
        shape.aggregate_instance_len(),
    )
    .map_err(|e| AggregateError::Halo2(e.to_string()))?;
    vk.check()
        .map_err(|e| AggregateError::Halo2(format!("the exported key is inconsistent: {e}")))?;
    Ok(AggregationKey {
        vk,
        pk: laid.pk,
        config: laid.config,
        break_points: laid.break_points,
        shape,
        protocols: laid.protocols,
    })
}

/// An aggregation circuit laid out and its proving key made.
pub(crate) struct Laid {
    pub pk: ProvingKey<G1Affine>,
    pub config: AggregationConfigParams,
    pub break_points: MultiPhaseThreadBreakPoints,
    pub protocols: Vec<PlonkProtocol<G1Affine>>,
}

/// An aggregation circuit laid out over proofs like some, in as few columns as the SRS's rows
/// allow; no key made yet.
pub(crate) struct Layout {
    pub circuit: AggregationCircuit,
    pub config: AggregationConfigParams,
    pub protocols: Vec<PlonkProtocol<G1Affine>>,
}

/// Lays the aggregation circuit over proofs like `snarks` out. Only the proofs' protocols and
/// sizes matter: their values may be placeholders.
pub(crate) fn layout(srs: &ParamsKZG<Bn256>, snarks: Vec<Snark>, shape: &Shape) -> Layout {
    let k = zkml_prover::srs::srs_k(srs);
    let start = AggregationConfigParams {
        degree: k,
        lookup_bits: k as usize - 1,
        ..Default::default()
    };
    let protocols = snarks.iter().map(|s| s.protocol.clone()).collect();
    let mut circuit = build(CircuitBuilderStage::Keygen, start, srs, snarks, shape);
    let config = circuit.calculate_params(Some(MINIMUM_ROWS));
    Layout {
        circuit,
        config,
        protocols,
    }
}

impl Layout {
    /// Makes the proving key, the verifying key along with it in one synthesis.
    pub fn keys(self, srs: &ParamsKZG<Bn256>) -> Result<Laid, AggregateError> {
        let pk = keygen_pk2(srs, &self.circuit, true).map_err(halo2)?;
        Ok(self.laid(pk))
    }

    /// Makes the verifying key alone: the fixed and permutation columns committed, none of
    /// the proving key's extended polynomials computed.
    pub fn vk(&self, srs: &ParamsKZG<Bn256>) -> Result<VerifyingKey<G1Affine>, AggregateError> {
        keygen_vk_custom(srs, &self.circuit, true).map_err(halo2)
    }

    /// Makes the proving key from the verifying key [`Layout::vk`] made.
    pub fn keys_from(
        self,
        srs: &ParamsKZG<Bn256>,
        vk: VerifyingKey<G1Affine>,
    ) -> Result<Laid, AggregateError> {
        let pk = keygen_pk(srs, vk, &self.circuit).map_err(halo2)?;
        Ok(self.laid(pk))
    }

    fn laid(self, pk: ProvingKey<G1Affine>) -> Laid {
        Laid {
            pk,
            config: self.config,
            break_points: self.circuit.break_points(),
            protocols: self.protocols,
        }
    }
}

fn halo2(e: halo2_proofs::plonk::Error) -> AggregateError {
    AggregateError::Halo2(format!("{e:?}"))
}

/// Lays the aggregation circuit over proofs like `snarks` out ([`layout`]) and makes its
/// proving key.
pub(crate) fn lay_out(
    srs: &ParamsKZG<Bn256>,
    snarks: Vec<Snark>,
    shape: &Shape,
) -> Result<Laid, AggregateError> {
    layout(srs, snarks, shape).keys(srs)
}

/// Rows kept free at the bottom of each column for halo2's blinding.
pub(crate) const MINIMUM_ROWS: usize = 20;
