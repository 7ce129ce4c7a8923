//! A model circuit that lets go of its layout once it has been synthesized.
//!
//! Key generation and proving each synthesize their circuit exactly once, at the start, and
//! then spend most of their time and memory on what the synthesis wrote (the fixed columns'
//! commitments and polynomials, the witness's commitments, the quotient). The layout holds
//! every cell value, weight and constant a second time, in wider integers, so keeping it
//! alive while the proving system works raises the peak by about the size of the witness.
//! [`SynthesizeOnce`] gives the layout up as soon as its synthesis returns.

use std::sync::Mutex;

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};
use zkml_circuits::config::ModelConfig;
use zkml_circuits::{CircuitParams, ModelCircuit};

/// A [`ModelCircuit`] for one synthesis: the first synthesis takes the layout and drops it
/// when it returns; a second one fails with [`Error::Synthesis`] rather than write an empty
/// circuit.
pub(crate) struct SynthesizeOnce {
    params: CircuitParams,
    circuit: Mutex<Option<ModelCircuit>>,
}

impl SynthesizeOnce {
    pub(crate) fn new(circuit: ModelCircuit) -> Self {
        Self {
            params: circuit.layout().params,
            circuit: Mutex::new(Some(circuit)),
        }
    }

    fn take(&self) -> Option<ModelCircuit> {
        self.circuit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl Circuit<Fr> for SynthesizeOnce {
    type Config = ModelConfig;
    // The model circuit's own floor planner: the wrapper hands its layouter on unchanged.
    type FloorPlanner = SimpleFloorPlanner;
    type Params = CircuitParams;

    fn without_witnesses(&self) -> Self {
        // A copy for the proving system's own use: the same circuit (it shares the layout)
        // while this one has not been synthesized yet.
        let copy = self
            .circuit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Self {
            params: self.params,
            circuit: Mutex::new(copy),
        }
    }

    fn params(&self) -> CircuitParams {
        self.params
    }

    fn configure_with_params(
        meta: &mut ConstraintSystem<Fr>,
        params: CircuitParams,
    ) -> ModelConfig {
        ModelCircuit::configure_with_params(meta, params)
    }

    fn configure(_meta: &mut ConstraintSystem<Fr>) -> ModelConfig {
        unreachable!("model circuits are always configured with their parameters")
    }

    fn synthesize(&self, config: ModelConfig, layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let circuit = self.take().ok_or(Error::Synthesis)?;
        circuit.synthesize(config, layouter)
        // `circuit`, and with it the layout unless someone else holds it, is dropped here.
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::dev::MockProver;
    use zkml_circuits::sizing::minimal_k;
    use zkml_circuits::VisibilityConfig;
    use zkml_ir::{evaluate, Op, ProgramBuilder, Tensor};

    use super::*;

    #[test]
    fn a_second_synthesis_is_refused() {
        let mut b = ProgramBuilder::new(12).unwrap();
        let x = b.input("x", vec![4], 0).unwrap();
        let y = b.push("relu", Op::Relu, &[x]).unwrap();
        b.output(y, "y");
        let program = b.finish().unwrap();
        let input = Tensor::new(vec![4], vec![-3, 0, 5, -1]).unwrap();
        let trace = evaluate(&program, &[input]).unwrap();
        let params = CircuitParams {
            k: 20,
            lanes: 4,
            results: 2,
            range_streams: 1,
            table_streams: 0,
            range_bits: 6,
            degree: 4,
            poseidon: false,
            fold: 0,
            freivalds: false,
            table_banks: 0,
        };
        let mut layout =
            zkml_circuits::build(&program, Some(&trace), params, VisibilityConfig::default())
                .unwrap();
        layout.params.k = minimal_k(&layout);
        let k = layout.params.k;
        let circuit = ModelCircuit::new(layout);
        let instance = circuit.instance();
        let once = SynthesizeOnce::new(circuit);
        let copy = once.without_witnesses();
        MockProver::run(k, &once, vec![instance.clone()])
            .unwrap()
            .assert_satisfied();
        assert!(
            MockProver::run(k, &once, vec![instance.clone()]).is_err(),
            "a second synthesis writes nothing"
        );
        // A copy taken before the synthesis holds the circuit.
        MockProver::run(k, &copy, vec![instance])
            .unwrap()
            .assert_satisfied();
    }
}
