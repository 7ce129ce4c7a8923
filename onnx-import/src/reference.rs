//! The float reference: the original model run in f32 by tract, an engine independent of
//! zkml's own import.

use tract_onnx::prelude::*;

/// Runs the ONNX model in `bytes` on flat inputs of the given shapes; returns flat f32 outputs
/// (widened to f64; integer outputs are converted).
pub fn run_tract(
    bytes: &[u8],
    shapes: &[Vec<usize>],
    inputs: &[Vec<f64>],
) -> Result<Vec<Vec<f64>>, String> {
    let run = || -> TractResult<Vec<Vec<f64>>> {
        let mut model = tract_onnx::onnx().model_for_read(&mut &bytes[..])?;
        for (i, shape) in shapes.iter().enumerate() {
            model.set_input_fact(i, f32::fact(shape).into())?;
        }
        let plan = model.into_optimized()?.into_runnable()?;
        let mut values: TVec<TValue> = TVec::new();
        for (shape, data) in shapes.iter().zip(inputs) {
            let v: Vec<f32> = data.iter().map(|&x| x as f32).collect();
            values.push(Tensor::from_shape(shape, &v)?.into());
        }
        let outputs = plan.run(values)?;
        outputs
            .iter()
            .map(|t| {
                let t = t.cast_to::<f64>()?;
                Ok(t.to_plain_array_view::<f64>()?.iter().copied().collect())
            })
            .collect()
    };
    // tract reports unsupported constructs as errors, but a panic inside it must not take the
    // caller down with it. (The CLI also silences the panic message.)
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err("tract panicked while running the model".into()),
    }
}
