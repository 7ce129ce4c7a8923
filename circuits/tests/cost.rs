//! The cost model counts what the constraint system of a shape really has: advice columns,
//! permutation products, lookup arguments, quotient pieces, fixed and permutation columns.

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{Circuit, ConstraintSystem};
use zkml_circuits::cost::{estimate, terms};
use zkml_circuits::{CircuitParams, ModelCircuit};

/// Selector columns after compression, as the model assumes (compression is decided at key
/// generation, from the assigned selectors); a folded circuit has one, not compressed.
fn selectors(p: &CircuitParams) -> usize {
    if p.fold > 0 {
        1
    } else {
        3
    }
}

fn shapes() -> Vec<CircuitParams> {
    let base = CircuitParams {
        k: 12,
        lanes: 16,
        results: 8,
        range_streams: 6,
        table_streams: 0,
        range_bits: 14,
        degree: 4,
        poseidon: false,
        fold: 0,
        freivalds: true,
        table_banks: 0,
    };
    let mut out = Vec::new();
    for degree in [4, 5] {
        out.push(CircuitParams { degree, ..base });
        out.push(CircuitParams {
            degree,
            freivalds: false,
            lanes: 8,
            results: 4,
            range_streams: 3,
            table_streams: 2,
            ..base
        });
        out.push(CircuitParams {
            degree,
            lanes: 4,
            results: 2,
            range_streams: 1,
            table_streams: 4,
            table_banks: 2,
            ..base
        });
    }
    out.push(CircuitParams {
        poseidon: true,
        ..base
    });
    out.push(CircuitParams {
        degree: 5,
        fold: 2,
        range_streams: 0,
        table_streams: 1,
        lanes: 8,
        results: 4,
        freivalds: false,
        ..base
    });
    out
}

#[test]
fn the_cost_terms_count_the_constraint_system() {
    for p in shapes() {
        p.validate().unwrap();
        let mut cs = ConstraintSystem::<Fr>::default();
        let _ = ModelCircuit::configure_with_params(&mut cs, p);
        let t = terms(&p);
        let degree = cs.degree();
        assert_eq!(degree, p.degree, "{p:?}: the system's degree");
        let equality = cs.permutation().get_columns().len();
        let products = equality.div_ceil(degree - 2);
        assert_eq!(
            t.committed,
            cs.num_advice_columns() + products,
            "{p:?}: advice columns and permutation products"
        );
        assert_eq!(t.lookups, cs.lookups().len(), "{p:?}: lookup arguments");
        assert_eq!(t.quotient, degree - 1, "{p:?}: quotient pieces");
        assert_eq!(
            t.coset_only,
            cs.num_fixed_columns() + selectors(&p) + equality + 3,
            "{p:?}: fixed columns, permutation polynomials, row indicators"
        );
    }
}

/// Three permutation columns to a product at degree 5 save more than the quotient piece they
/// cost, wherever a shape has more than a few equality columns; the extended domain is the
/// same size.
#[test]
fn degree_five_is_cheaper_for_wide_shapes() {
    for p in shapes()
        .into_iter()
        .filter(|p| p.fold == 0 && p.degree == 4)
    {
        let five = CircuitParams { degree: 5, ..p };
        assert!(
            estimate(&five, p.k) < estimate(&p, p.k),
            "{p:?}: degree 5 should be estimated cheaper"
        );
    }
}
