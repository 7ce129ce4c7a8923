//! Ceremony formats without a ceremony: the `.r1cs` export read back, keys of the snarkjs QAP
//! layout proving and verifying, and the `.zkey` reader on keys written in snarkjs' layout by
//! the writer below (the real tool's files are checked in `cli/tests/ceremony.rs`), with every
//! corruption an error.

use ark_bn254::{Fq, Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInteger, Field, PrimeField};
use rand::SeedableRng;
use zkml_circuits::{ParamVisibility, Visibility, VisibilityConfig};
use zkml_groth16::ceremony::{r1cs_file_len, read_zkey, write_r1cs};
use zkml_groth16::{compile_with, prove_with, setup_snarkjs_layout, verify, Compiled};
use zkml_groth16::{ProvingKey, R1cs, Reduction};
use zkml_test_support::Fixture;

fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    rand_chacha::ChaCha20Rng::seed_from_u64(seed)
}

fn compiled(f: &Fixture, vis: VisibilityConfig) -> Compiled {
    compile_with(&f.program, Some(&f.trace), vis).unwrap()
}

#[test]
fn snarkjs_layout_keys_prove_and_verify_and_the_layouts_do_not_mix() {
    let hashed = VisibilityConfig {
        inputs: Visibility::Hashed,
        outputs: Visibility::Private,
        params: ParamVisibility::Hashed,
    };
    for (name, vis) in [
        ("mlp_small", VisibilityConfig::default()),
        ("mlp_small", hashed),
        ("pytorch_style", VisibilityConfig::default()),
    ] {
        let f = Fixture::load(name);
        let c = compiled(&f, vis);
        let a = c.assignment.as_ref().unwrap();
        let (pk, vk) = setup_snarkjs_layout(&c.r1cs, &mut rng(7)).unwrap();
        let proof = prove_with(&pk, Reduction::Snarkjs, &c.r1cs, a, &mut rng(8)).unwrap();
        assert!(verify(&vk, &a.instance, &proof).unwrap(), "{name} {vis:?}");
        let mut other = a.instance.clone();
        other[0] += Fr::from(1u64);
        assert!(
            !verify(&vk, &other, &proof).unwrap(),
            "{name}: changed public value"
        );
        // The h query of one layout is useless to the other's prover.
        let wrong = prove_with(&pk, Reduction::Arkworks, &c.r1cs, a, &mut rng(9)).unwrap();
        assert!(
            !verify(&vk, &a.instance, &wrong).unwrap(),
            "{name}: mixed layouts"
        );
    }
}

/// One exported constraint: `A`, `B` and `C` as `(wire, coefficient)` terms.
type Row = [Vec<(u32, Fr)>; 3];

/// The `.r1cs` file read back: `(public values, wires, constraints)`.
fn parse_r1cs(b: &[u8]) -> (u32, u32, Vec<Row>) {
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    assert_eq!(&b[..4], b"r1cs");
    assert_eq!((u32_at(4), u32_at(8)), (1, 3), "version, sections");
    // Header.
    assert_eq!((u32_at(12), u64_at(16)), (1, 64));
    let h = 24;
    assert_eq!(u32_at(h), 32);
    assert_eq!(&b[h + 4..h + 36], &Fr::MODULUS.to_bytes_le()[..]);
    let wires = u32_at(h + 36);
    assert_eq!(
        (u32_at(h + 40), u32_at(h + 48)),
        (0, 0),
        "outputs, private inputs"
    );
    let public = u32_at(h + 44);
    assert_eq!(u64_at(h + 52), u64::from(wires), "labels");
    let m = u32_at(h + 60);
    // Constraints.
    let mut at = h + 64;
    assert_eq!(u32_at(at), 2);
    let len = u64_at(at + 4) as usize;
    at += 12;
    let end = at + len;
    let mut rows = Vec::new();
    for _ in 0..m {
        let mut lcs: Row = Default::default();
        for lc in &mut lcs {
            let n = u32_at(at);
            at += 4;
            for _ in 0..n {
                let c = Fr::from_le_bytes_mod_order(&b[at + 4..at + 36]);
                assert_eq!(
                    c.into_bigint().to_bytes_le(),
                    b[at + 4..at + 36],
                    "canonical"
                );
                lc.push((u32_at(at), c));
                at += 36;
            }
            assert!(lc.windows(2).all(|w| w[0].0 < w[1].0), "wires increasing");
        }
        rows.push(lcs);
    }
    assert_eq!(at, end, "constraint section length");
    // Wire map: the identity.
    assert_eq!((u32_at(at), u64_at(at + 4)), (3, 8 * u64::from(wires)));
    for w in 0..wires as usize {
        assert_eq!(u64_at(at + 12 + 8 * w), w as u64);
    }
    assert_eq!(at + 12 + 8 * wires as usize, b.len());
    (public, wires, rows)
}

#[test]
fn the_r1cs_export_is_the_constraint_system() {
    for (name, vis) in [
        ("mlp_small", VisibilityConfig::default()),
        (
            "pytorch_style",
            VisibilityConfig {
                inputs: Visibility::Private,
                outputs: Visibility::Hashed,
                params: ParamVisibility::Fixed,
            },
        ),
    ] {
        let f = Fixture::load(name);
        let c = compiled(&f, vis);
        let r = &c.r1cs;
        let mut bytes = Vec::new();
        let n = write_r1cs(r, &mut bytes).unwrap();
        assert_eq!(
            (n, bytes.len() as u64),
            (r1cs_file_len(r), r1cs_file_len(r))
        );
        let (public, wires, rows) = parse_r1cs(&bytes);
        assert_eq!(public as usize, r.num_instance);
        assert_eq!(wires as usize, r.num_wires());
        assert_eq!(rows.len(), r.constraints.len());
        // The file's rows hold exactly for the honest assignment (wire w = z[w]).
        let a = c.assignment.as_ref().unwrap();
        let z = r.full_assignment(a);
        let eval =
            |lc: &[(u32, Fr)], z: &[Fr]| -> Fr { lc.iter().map(|&(w, c)| c * z[w as usize]).sum() };
        for (i, [x, y, w]) in rows.iter().enumerate() {
            assert_eq!(eval(x, &z) * eval(y, &z), eval(w, &z), "{name}: row {i}");
            let k = &r.constraints[i];
            let ours: Vec<(u32, Fr)> = r
                .canonical(&k.a)
                .into_iter()
                .map(|(w, c)| (w as u32, c))
                .collect();
            assert_eq!(&ours, x, "{name}: row {i} of A");
        }
        // And not for a changed witness (the system is the same, not merely satisfied).
        let mut bad = z.clone();
        let last = bad.len() - 1;
        bad[last] += Fr::from(1u64);
        assert!(
            rows.iter()
                .any(|[x, y, w]| eval(x, &bad) * eval(y, &bad) != eval(w, &bad)),
            "{name}: a changed witness still satisfies the exported rows"
        );
    }
}

// A `.zkey` writer in snarkjs' layout (the format in `zkml_groth16::ceremony`).

fn fq_mont(f: &Fq) -> Vec<u8> {
    f.0.to_bytes_le()
}

fn g1_bytes(p: &G1Affine) -> Vec<u8> {
    match p.xy() {
        None => vec![0; 64],
        Some((x, y)) => [fq_mont(&x), fq_mont(&y)].concat(),
    }
}

fn g2_bytes(p: &G2Affine) -> Vec<u8> {
    match p.xy() {
        None => vec![0; 128],
        Some((x, y)) => [
            fq_mont(&x.c0),
            fq_mont(&x.c1),
            fq_mont(&y.c0),
            fq_mont(&y.c1),
        ]
        .concat(),
    }
}

fn section(kind: u32, body: &[u8]) -> Vec<u8> {
    [
        &kind.to_le_bytes()[..],
        &(body.len() as u64).to_le_bytes(),
        body,
    ]
    .concat()
}

/// The sections of a `.zkey` for `pk` (snarkjs layout) and `r1cs`, by type.
fn zkey_sections(pk: &ProvingKey, r1cs: &R1cs) -> Vec<(u32, Vec<u8>)> {
    let vk = &pk.vk;
    let mut head = Vec::new();
    head.extend(32u32.to_le_bytes());
    head.extend(Fq::MODULUS.to_bytes_le());
    head.extend(32u32.to_le_bytes());
    head.extend(Fr::MODULUS.to_bytes_le());
    head.extend((r1cs.num_wires() as u32).to_le_bytes());
    head.extend((r1cs.num_instance as u32).to_le_bytes());
    let domain = (r1cs.constraints.len() + r1cs.num_instance + 1).next_power_of_two();
    head.extend((domain as u32).to_le_bytes());
    head.extend(g1_bytes(&vk.alpha_g1));
    head.extend(g1_bytes(&pk.beta_g1));
    head.extend(g2_bytes(&vk.beta_g2));
    head.extend(g2_bytes(&vk.gamma_g2));
    head.extend(g1_bytes(&pk.delta_g1));
    head.extend(g2_bytes(&vk.delta_g2));
    // Coefficients, stored as c·R² (R = 2^256 mod r), in snarkjs' order.
    let r = Fr::from(2u64).pow([256]);
    let mut coefs = Vec::new();
    let mut n = 0u32;
    let mut push = |matrix: u32, row: usize, wire: usize, c: Fr| {
        coefs.extend(matrix.to_le_bytes());
        coefs.extend((row as u32).to_le_bytes());
        coefs.extend((wire as u32).to_le_bytes());
        coefs.extend((c * r).0.to_bytes_le());
        n += 1;
    };
    for (row, k) in r1cs.constraints.iter().enumerate() {
        for (w, c) in r1cs.canonical(&k.a) {
            push(0, row, w, c);
        }
        for (w, c) in r1cs.canonical(&k.b) {
            push(1, row, w, c);
        }
    }
    for s in 0..=r1cs.num_instance {
        push(0, r1cs.constraints.len() + s, s, Fr::from(1u64));
    }
    let g1s = |v: &[G1Affine]| v.iter().flat_map(g1_bytes).collect::<Vec<u8>>();
    vec![
        (1, 1u32.to_le_bytes().to_vec()),
        (2, head),
        (3, g1s(&vk.gamma_abc_g1)),
        (4, [&n.to_le_bytes()[..], &coefs].concat()),
        (5, g1s(&pk.a_query)),
        (6, g1s(&pk.b_g1_query)),
        (7, pk.b_g2_query.iter().flat_map(g2_bytes).collect()),
        (8, g1s(&pk.l_query)),
        (9, g1s(&pk.h_query)),
        (10, vec![0; 68]),
    ]
}

fn zkey(sections: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"zkey".to_vec();
    out.extend(1u32.to_le_bytes());
    out.extend((sections.len() as u32).to_le_bytes());
    for (kind, body) in sections {
        out.extend(section(*kind, body));
    }
    out
}

#[test]
fn zkey_files_read_back_and_every_corruption_is_an_error() {
    let f = Fixture::load("mlp_small");
    let c = compiled(&f, VisibilityConfig::default());
    let (pk, _) = setup_snarkjs_layout(&c.r1cs, &mut rng(3)).unwrap();
    let sections = zkey_sections(&pk, &c.r1cs);
    let good = zkey(&sections);
    let back = read_zkey(&good, &c.r1cs).expect("a well-formed key");
    assert_eq!(back.pk, pk);
    assert_eq!(back.contributions, Some(0), "the count in section 10");
    // Sections in another order are the same file.
    let mut shuffled = sections.clone();
    shuffled.reverse();
    assert_eq!(read_zkey(&zkey(&shuffled), &c.r1cs).unwrap().pk, pk);

    let rejected = |bytes: &[u8], what: &str| {
        let e = read_zkey(bytes, &c.r1cs).expect_err(what);
        assert!(e.to_string().contains(".zkey"), "{what}: {e}");
    };
    for n in [
        0,
        3,
        4,
        11,
        12,
        23,
        100,
        800,
        good.len() / 2,
        good.len() - 1,
    ] {
        rejected(&good[..n], &format!("truncated at {n}"));
    }
    rejected(&[good.as_slice(), &[0]].concat(), "a trailing byte");
    for kind in 1..=9 {
        let without: Vec<_> = sections.iter().filter(|s| s.0 != kind).cloned().collect();
        rejected(&zkey(&without), &format!("no section {kind}"));
    }
    let mut twice = sections.clone();
    twice.push(sections[2].clone());
    rejected(&zkey(&twice), "a section twice");

    let with = |kind: u32, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut s = sections.clone();
        edit(&mut s.iter_mut().find(|x| x.0 == kind).unwrap().1);
        zkey(&s)
    };
    rejected(&with(1, &|b| b[0] = 2), "a PLONK key");
    rejected(&with(2, &|b| b[4] ^= 1), "another base field");
    rejected(&with(2, &|b| b[40] ^= 1), "another scalar field");
    rejected(&with(2, &|b| b[72] ^= 1), "another variable count");
    rejected(&with(2, &|b| b[76] ^= 1), "another public count");
    rejected(&with(2, &|b| b[80] ^= 1), "another domain");
    // Each header point off the curve; beta and delta inconsistent between G1 and G2.
    for (at, what) in [
        (84, "alpha"),
        (148, "beta1"),
        (212, "beta2"),
        (340, "gamma2"),
        (468, "delta1"),
        (532, "delta2"),
    ] {
        rejected(&with(2, &|b| b[at] ^= 1), what);
    }
    let other_point = g1_bytes(&(G1Affine::generator() * Fr::from(5u64)).into_affine());
    rejected(
        &with(2, &|b| b[148..212].copy_from_slice(&other_point)),
        "beta1 not beta2's",
    );
    rejected(
        &with(2, &|b| b[468..532].copy_from_slice(&other_point)),
        "delta1 not delta2's",
    );
    rejected(&with(2, &|b| b[84..148].fill(0)), "alpha at infinity");
    // No phase-2 contribution: delta equal to gamma, or at the generators.
    let no_contribution = |bytes: &[u8]| {
        let e = read_zkey(bytes, &c.r1cs).expect_err("no contribution");
        assert!(e.to_string().contains("no phase-2 contribution"), "{e}");
    };
    no_contribution(&with(2, &|b| {
        let gamma = b[340..468].to_vec();
        b[532..660].copy_from_slice(&gamma)
    }));
    no_contribution(&with(2, &|b| {
        b[468..532].copy_from_slice(&g1_bytes(&G1Affine::generator()))
    }));
    no_contribution(&with(2, &|b| {
        b[532..660].copy_from_slice(&g2_bytes(&G2Affine::generator()))
    }));
    // A changed, added or missing coefficient: another circuit.
    rejected(&with(4, &|b| b[4 + 12] ^= 1), "a changed coefficient value");
    rejected(&with(4, &|b| b[4 + 8] ^= 1), "a changed coefficient wire");
    rejected(
        &with(4, &|b| b[4] ^= 1),
        "a coefficient moved to the other matrix",
    );
    rejected(
        &with(4, &|b| {
            let n = u32::from_le_bytes(b[..4].try_into().unwrap()) - 1;
            b[..4].copy_from_slice(&n.to_le_bytes());
            b.truncate(b.len() - 44);
        }),
        "a missing coefficient",
    );
    rejected(
        &with(4, &|b| {
            b[4 + 12..4 + 44].copy_from_slice(&Fr::MODULUS.to_bytes_le())
        }),
        "a coefficient at the modulus",
    );
    // A point of each query off the curve, or with a coordinate at the modulus.
    for kind in [3, 5, 6, 8, 9] {
        rejected(
            &with(kind, &|b| b[64 + 5] ^= 1),
            &format!("section {kind} point"),
        );
        rejected(
            &with(kind, &|b| {
                b[64..96].copy_from_slice(&Fq::MODULUS.to_bytes_le())
            }),
            &format!("section {kind} at the modulus"),
        );
        rejected(
            &with(kind, &|b| b.truncate(b.len() - 64)),
            &format!("section {kind} short"),
        );
    }
    rejected(&with(7, &|b| b[128 + 5] ^= 1), "B query (G2) point");
    // A B point in G2 that is a valid point but not the G1 point's partner.
    let g2 = g2_bytes(&(G2Affine::generator() * Fr::from(3u64)).into_affine());
    let mut nonzero = None;
    for (i, p) in pk.b_g2_query.iter().enumerate() {
        if !p.is_zero() {
            nonzero = Some(i);
            break;
        }
    }
    let i = nonzero.expect("a B query point");
    rejected(
        &with(7, &|b| b[128 * i..128 * (i + 1)].copy_from_slice(&g2)),
        "B query G1/G2 mismatch",
    );

    // Keys for another visibility of the same model: another circuit.
    let private = compiled(
        &f,
        VisibilityConfig {
            inputs: Visibility::Private,
            ..VisibilityConfig::default()
        },
    );
    let e = read_zkey(&good, &private.r1cs).expect_err("another circuit");
    assert!(e.to_string().contains("public values"), "{e}");
    // Sampled single-byte flips never panic, and never read as the same key.
    let contributions = 12 + 68;
    let mut at = 3;
    while at < good.len() - contributions {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        if let Ok(z) = read_zkey(&bad, &c.r1cs) {
            assert_ne!(z.pk, pk, "byte {at} flipped, same key");
        }
        at += good.len() / 40;
    }
}
