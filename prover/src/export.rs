//! Export of halo2's verifying key into the self-contained format of `zkml-verifier`.

use halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fq2, Fr, G1Affine, G2Affine};
use halo2_proofs::halo2curves::ff::PrimeField;
use halo2_proofs::halo2curves::CurveAffine;
use halo2_proofs::plonk::{Any, ConstraintSystem, Expression, VerifyingKey};
use halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use zkml_verifier::vk::{
    self as v, ColumnRef, Expr, G1Bytes, G2Bytes, LookupArg, ModelInfo, Query,
};

use crate::error::ProverError;
use crate::transcript::{point_bytes, scalar_be};

fn base_be(f: &Fq) -> [u8; 32] {
    let mut b: [u8; 32] = f.to_repr().as_ref().try_into().expect("32 bytes");
    b.reverse();
    b
}

fn g1(p: &G1Affine) -> G1Bytes {
    G1Bytes::from_slice(&point_bytes(p))
}

fn g2(p: &G2Affine) -> G2Bytes {
    let c = Option::<halo2_proofs::halo2curves::Coordinates<G2Affine>>::from(p.coordinates())
        .expect("SRS points are not the identity");
    let (x, y): (&Fq2, &Fq2) = (c.x(), c.y());
    G2Bytes {
        x1: base_be(&x.c1),
        x0: base_be(&x.c0),
        y1: base_be(&y.c1),
        y0: base_be(&y.c0),
    }
}

fn convert(e: &Expression<Fr>, cs: &ConstraintSystem<Fr>) -> Result<Expr, ProverError> {
    let find =
        |qs: Vec<(usize, i32)>, col: usize, rot: i32, what: &str| -> Result<u32, ProverError> {
            qs.iter()
                .position(|&q| q == (col, rot))
                .map(|i| i as u32)
                .ok_or_else(|| {
                    ProverError::Internal(format!("{what} query ({col}, {rot}) is not registered"))
                })
        };
    let advice: Vec<(usize, i32)> = cs
        .advice_queries()
        .iter()
        .map(|(c, r)| (c.index(), r.0))
        .collect();
    let fixed: Vec<(usize, i32)> = cs
        .fixed_queries()
        .iter()
        .map(|(c, r)| (c.index(), r.0))
        .collect();
    let instance: Vec<(usize, i32)> = cs
        .instance_queries()
        .iter()
        .map(|(c, r)| (c.index(), r.0))
        .collect();
    e.evaluate(
        &|c| Ok(Expr::Constant(scalar_be(&c))),
        &|_| {
            Err(ProverError::Internal(
                "selectors remain after key generation".into(),
            ))
        },
        &|q| {
            Ok(Expr::Fixed(find(
                fixed.clone(),
                q.column_index(),
                q.rotation().0,
                "fixed",
            )?))
        },
        &|q| {
            Ok(Expr::Advice(find(
                advice.clone(),
                q.column_index(),
                q.rotation().0,
                "advice",
            )?))
        },
        &|q| {
            Ok(Expr::Instance(find(
                instance.clone(),
                q.column_index(),
                q.rotation().0,
                "instance",
            )?))
        },
        &|c| Ok(Expr::Challenge(c.index() as u32)),
        &|a| Ok(Expr::Negated(Box::new(a?))),
        &|a, b| Ok(Expr::Sum(Box::new(a?), Box::new(b?))),
        &|a, b| Ok(Expr::Product(Box::new(a?), Box::new(b?))),
        &|a, s| Ok(Expr::Scaled(Box::new(a?), scalar_be(&s))),
    )
}

/// Builds the self-contained verifying key.
pub fn export_vk(
    vk: &VerifyingKey<G1Affine>,
    params: &ParamsKZG<Bn256>,
    model: ModelInfo,
    num_instance_values: usize,
) -> Result<v::VerifyingKey, ProverError> {
    let cs = vk.cs();
    // Second-phase advice columns must be the last ones (the proof then lists every
    // commitment in column order), and every challenge is drawn after the first phase.
    let phases = cs.advice_column_phase();
    let second = phases.iter().filter(|&&p| p == 1).count();
    let in_order = phases.iter().all(|&p| p <= 1)
        && phases.iter().skip(phases.len() - second).all(|&p| p == 1);
    if cs.num_instance_columns() != 1
        || !in_order
        || cs.challenge_phase().iter().any(|&p| p != 0)
        || (second > 0) != (cs.num_challenges() > 0)
    {
        return Err(ProverError::Internal(
            "the circuit must have one instance column, its second-phase advice columns last, \
             and its challenges drawn after the first phase"
                .into(),
        ));
    }
    let domain = vk.get_domain();
    let queries = |qs: Vec<(usize, i32)>| {
        qs.into_iter()
            .map(|(c, r)| Query {
                column: c as u32,
                rotation: r,
            })
            .collect::<Vec<_>>()
    };
    let gates = cs
        .gates()
        .iter()
        .flat_map(|g| g.polynomials().iter())
        .map(|p| convert(p, cs))
        .collect::<Result<Vec<_>, _>>()?;
    let lookups = cs
        .lookups()
        .iter()
        .map(|l| {
            Ok(LookupArg {
                inputs: l
                    .input_expressions()
                    .iter()
                    .map(|e| convert(e, cs))
                    .collect::<Result<_, ProverError>>()?,
                tables: l
                    .table_expressions()
                    .iter()
                    .map(|e| convert(e, cs))
                    .collect::<Result<_, ProverError>>()?,
            })
        })
        .collect::<Result<Vec<_>, ProverError>>()?;
    let permutation_columns = cs
        .permutation()
        .get_columns()
        .iter()
        .map(|c| match c.column_type() {
            Any::Advice(_) => ColumnRef::Advice(c.index() as u32),
            Any::Fixed => ColumnRef::Fixed(c.index() as u32),
            Any::Instance => ColumnRef::Instance(c.index() as u32),
        })
        .collect();
    let key = v::VerifyingKey {
        k: params.k(),
        omega: scalar_be(&domain.get_omega()),
        omega_inv: scalar_be(&domain.get_omega_inv()),
        delta: scalar_be(&<Fr as PrimeField>::DELTA),
        degree: cs.degree() as u32,
        blinding_factors: cs.blinding_factors() as u32,
        transcript_repr: scalar_be(&vk.transcript_repr()),
        num_advice_columns: cs.num_advice_columns() as u32,
        second_phase_advice: second as u32,
        challenges: cs.num_challenges() as u32,
        num_instance_values: num_instance_values as u32,
        advice_queries: queries(
            cs.advice_queries()
                .iter()
                .map(|(c, r)| (c.index(), r.0))
                .collect(),
        ),
        fixed_queries: queries(
            cs.fixed_queries()
                .iter()
                .map(|(c, r)| (c.index(), r.0))
                .collect(),
        ),
        instance_queries: queries(
            cs.instance_queries()
                .iter()
                .map(|(c, r)| (c.index(), r.0))
                .collect(),
        ),
        gates,
        permutation_columns,
        lookups,
        fixed_commitments: vk.fixed_commitments().iter().map(g1).collect(),
        permutation_commitments: vk.permutation().commitments().iter().map(g1).collect(),
        g1: g1(&params.get_g()[0]),
        g2: g2(&params.g2()),
        s_g2: g2(&params.s_g2()),
        model,
    };
    key.check()
        .map_err(|e| ProverError::Internal(format!("exported key is inconsistent: {e}")))?;
    Ok(key)
}
