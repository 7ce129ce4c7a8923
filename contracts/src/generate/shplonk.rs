//! SHPLONK: the opening sets' interpolations, the multi-scalar multiplication and the pairing.

use std::fmt::Write;

use ark_bn254::Fr;
use ark_ff::{Field, One};

use super::yul::{fr_hex, hex, m, point_literals, rotate};
use super::{Gen, Memory, KIND_CALLDATA, KIND_MEMORY, KIND_QUOTIENT, Q_HEX};
use crate::plan::{EvalSource, Poly};

/// Emits the SHPLONK opening of every rotation set and the final pairing check; returns the
/// opening tables (per set, the key-blob entries `openSet` reads).
pub(super) fn shplonk(g: &Gen<'_>, w: &mut String) -> Vec<Vec<u32>> {
    let Gen {
        vk,
        plan,
        omega,
        ref key_points,
        ..
    } = *g;
    let Memory {
        s_v,
        s_u,
        s_xinv,
        s_quot,
        s_z0,
        s_zdiff0_inv,
        s_router,
        s_acc,
        s_scale,
        s_keyscal,
        temps,
        s_factor,
        s_vpow,
        s_rin,
        s_van,
        max_rotations,
        s_xinv_pows,
        n_super,
        s_dinv,
        s_basis,
        key_mem,
        ..
    } = g.mem;
    let l = &plan.layout;
    let q_hex = Q_HEX;
    let mut basis_next = s_basis;
    if vk.accumulator().is_some() {
        accumulator_scale(w, l.h2, s_scale);
    }
    // ---- SHPLONK ----
    let u = m(s_u);
    // (The denominators u - x w^rot and their inverses came with the Lagrange values'
    // batch inversion: `denominators`.)
    let first = &plan.rotation_sets[0];
    emit!(
        w,
        "{}",
        vanishing(g, s_z0, &mut first.rotations.iter().copied())
    );
    emit!(
        w,
        "            mstore({s_zdiff0_inv:#x}, {})",
        m(s_dinv + 32 * n_super)
    );
    // x^-1, x^-2, ...: the interpolation bases' normalisation.
    emit!(w, "            mstore({s_xinv_pows:#x}, {})", m(s_xinv));
    for i in 1..max_rotations.saturating_sub(1) {
        emit!(
            w,
            "            mstore({:#x}, mulmod({}, {}, r))",
            s_xinv_pows + 32 * i,
            m(s_xinv_pows + 32 * (i - 1)),
            m(s_xinv)
        );
    }
    emit!(w, "            mstore({s_router:#x}, 0)");
    emit!(w, "            mstore({s_acc:#x}, 0)");
    emit!(w, "            mstore({:#x}, 0)", s_acc + 32);
    emit!(w, "            let ok := 1");
    emit!(w, "            mstore({s_factor:#x}, 1)");
    emit!(w, "            mstore({s_vpow:#x}, 1)");
    let factor = m(s_factor);
    let vpow = m(s_vpow);
    // Each set's polynomials are opened by `openSet`, driven by a table in the key blob: per
    // polynomial one entry for its commitment, then one per rotation for its evaluations.
    let key_point = |i: usize| KIND_MEMORY | (key_mem + 64 * i) as u32;
    let commitment = |poly: Poly| -> u32 {
        let proof = |off: usize| KIND_CALLDATA | off as u32;
        match poly {
            Poly::Advice(i) => proof(l.advice + 64 * i),
            Poly::Fixed(i) => key_point(i),
            Poly::Sigma(i) => key_point(vk.fixed_commitments.len() + i),
            Poly::PermutationProduct(i) => proof(l.perm_products + 64 * i),
            Poly::LookupInput(i) => proof(l.lookup_permuted + 128 * i),
            Poly::LookupTable(i) => proof(l.lookup_permuted + 128 * i + 64),
            Poly::LookupProduct(i) => proof(l.lookup_products + 64 * i),
            Poly::Random => proof(l.random),
            Poly::Quotient => KIND_QUOTIENT | l.quotient as u32,
        }
    };
    let eval_entry = |e: EvalSource| -> u32 {
        match e {
            EvalSource::Proof(off) => KIND_CALLDATA | off as u32,
            EvalSource::Quotient => KIND_MEMORY | s_quot as u32,
        }
    };
    let mut tables = Vec::new();
    for set in &plan.rotation_sets {
        let mut t = Vec::new();
        for (poly, srcs) in &set.polys {
            t.push(commitment(*poly));
            t.extend(srcs.iter().map(|&e| eval_entry(e)));
        }
        tables.push(t);
    }
    let mut table_at = key_mem + 64 * key_points.len();
    for (si, set) in plan.rotation_sets.iter().enumerate() {
        emit!(
            w,
            "            // opening set {si}: rotations {:?}",
            set.rotations
        );
        if si > 0 {
            let diffs: Vec<i32> = plan
                .super_rotations
                .iter()
                .copied()
                .filter(|r| !set.rotations.contains(r))
                .collect();
            emit!(w, "{}", vanishing(g, s_van, &mut diffs.iter().copied()));
            emit!(
                w,
                "            mstore({s_factor:#x}, mulmod(mulmod({vpow}, {}, r), {}, r))",
                m(s_van),
                m(s_zdiff0_inv)
            );
        }
        // Interpolation basis at u: L_j(u) = prod_{l != j} (u - p_l) * c_j * x^-(m-1), that is
        // Z_set(u) / (u - p_j) * c_j * x^-(m-1).
        let mrot = set.rotations.len();
        let basis_slots = basis_next;
        basis_next += 32 * mrot;
        if mrot == 1 {
            emit!(w, "            mstore({basis_slots:#x}, 1)");
        } else {
            emit!(
                w,
                "{}",
                vanishing(g, s_van, &mut set.rotations.iter().copied())
            );
        }
        for j in 0..mrot {
            if mrot == 1 {
                break;
            }
            let wj = rotate(omega, set.rotations[j]);
            let mut c = Fr::one();
            for (li, &rl) in set.rotations.iter().enumerate() {
                if li != j {
                    c *= wj - rotate(omega, rl);
                }
            }
            let c = c.inverse().expect("distinct rotations");
            let idx = plan
                .super_rotations
                .iter()
                .position(|&r| r == set.rotations[j])
                .expect("a super rotation");
            emit!(
                w,
                "            mstore({:#x}, mulmod(mulmod(mulmod({}, {}, r), {}, r), {}, r))",
                basis_slots + 32 * j,
                m(s_van),
                m(s_dinv + 32 * idx),
                fr_hex(&c),
                m(s_xinv_pows + 32 * (mrot - 2))
            );
        }
        emit!(
            w,
            "            ok := and(ok, openSet({table_at:#x}, {}, {mrot}, {basis_slots:#x}))",
            set.polys.len()
        );
        emit!(w, "            mstore({s_router:#x}, addmod({}, mulmod({factor}, mload({s_rin:#x}), r), r))", m(s_router));
        emit!(
            w,
            "            mstore({s_vpow:#x}, mulmod({vpow}, {}, r))",
            m(s_v)
        );
        table_at += 4 * tables[si].len();
    }
    let (g1x, g1y) = point_literals(&vk.g1);
    // The generator's term is left out of pairingInputs' `a`: a chain adds every segment's
    // scalar for it and multiplies the generator once.
    emit!(w, "            if iszero(inputsOnly) {{");
    emit!(
        w,
        "                ok := and(ok, mulAcc({g1x}, {g1y}, sub(r, {}), {s_acc:#x}))",
        m(s_router)
    );
    emit!(w, "            }}");
    emit!(w,
        "            ok := and(ok, mulAcc(calldataload(add(p, {:#x})), calldataload(add(p, {:#x})), sub(r, {}), {s_acc:#x}))",
        l.h1,
        l.h1 + 32,
        m(s_z0)
    );
    emit!(w,
        "            ok := and(ok, mulAcc(calldataload(add(p, {:#x})), calldataload(add(p, {:#x})), {u}, {s_acc:#x}))",
        l.h2,
        l.h2 + 32
    );
    // An aggregate's accumulator joins the pairing; its key is no chain segment.
    let (h2x, h2y) = match vk.accumulator() {
        Some(at) => {
            accumulator(w, &at, l.h2, s_acc);
            ("mload(0x180)".to_string(), "mload(0x1a0)".to_string())
        }
        None => (
            format!("calldataload(add(p, {:#x}))", l.h2),
            format!("calldataload(add(p, {:#x}))", l.h2 + 32),
        ),
    };
    // pairingInputs: the checks' verdict, both points and the generator's scalar, with the
    // pairing left to the caller.
    emit!(w, "            if inputsOnly {{");
    emit!(w, "                let ax := mload({s_acc:#x})");
    emit!(w, "                let ay := mload({:#x})", s_acc + 32);
    emit!(w, "                mstore(0x00, ok)");
    emit!(
        w,
        "                mstore(0x20, calldataload(add(p, {:#x})))",
        l.h2
    );
    emit!(
        w,
        "                mstore(0x40, calldataload(add(p, {:#x})))",
        l.h2 + 32
    );
    emit!(w, "                mstore(0x60, ax)");
    emit!(w, "                mstore(0x80, ay)");
    emit!(
        w,
        "                mstore(0xa0, mulmod(sub(r, {}), mload({s_scale:#x}), r))",
        m(s_router)
    );
    // Then the key points' scalars; the words from 0xc0 on are free again only if they do
    // not reach the named slots, so the answer is assembled at the gate temporaries.
    let kp = key_points.len();
    emit!(w, "                let out := {temps:#x}");
    emit!(w, "                for {{ let j := 0 }} lt(j, 6) {{ j := add(j, 1) }} {{ mstore(add(out, shl(5, j)), mload(shl(5, j))) }}");
    emit!(w, "                for {{ let j := 0 }} lt(j, {kp}) {{ j := add(j, 1) }} {{ mstore(add(out, shl(5, add(j, 6))), mload(add({s_keyscal:#x}, shl(5, j)))) }}");
    emit!(w, "                return(out, {:#x})", 0xc0 + 32 * kp);
    emit!(w, "            }}");
    // e(h2, s G2) * e(-right, G2) == 1
    let g2 = [&vk.s_g2, &vk.g2];
    emit!(w, "            mstore(0x00, {h2x})");
    emit!(w, "            mstore(0x20, {h2y})");
    for (i, wd) in [g2[0].x1, g2[0].x0, g2[0].y1, g2[0].y0].iter().enumerate() {
        emit!(w, "            mstore({:#x}, {})", 0x40 + 32 * i, hex(wd));
    }
    emit!(w, "            mstore(0xc0, {})", m(s_acc));
    emit!(
        w,
        "            mstore(0xe0, mod(sub({q_hex}, {}), {q_hex}))",
        m(s_acc + 32)
    );
    for (i, wd) in [g2[1].x1, g2[1].x0, g2[1].y1, g2[1].y0].iter().enumerate() {
        emit!(w, "            mstore({:#x}, {})", 0x100 + 32 * i, hex(wd));
    }
    emit!(
        w,
        "            ok := and(ok, staticcall(gas(), 8, 0x00, 0x180, 0x00, 0x20))"
    );
    emit!(w, "            ok := and(ok, mload(0x00))");
    emit!(w, "            mstore(0x00, ok)");
    emit!(w, "            return(0x00, 0x20)");
    tables
}

/// The slot of `u - x w^rot`.
fn d_slot(g: &Gen<'_>, rot: i32) -> String {
    let i = g
        .plan
        .super_rotations
        .iter()
        .position(|&r| r == rot)
        .expect("a super rotation");
    m(g.mem.s_d + 32 * i)
}

/// `prod (u - x w^rot)` over `rots`, into `slot`, one statement per factor.
fn vanishing(g: &Gen<'_>, slot: usize, rots: &mut dyn Iterator<Item = i32>) -> String {
    let mut code = "            {\n                let t := 1\n".to_string();
    for rot in rots {
        writeln!(
            code,
            "                t := mulmod(t, {}, r)",
            d_slot(g, rot)
        )
        .expect("string");
    }
    write!(code, "                mstore({slot:#x}, t)\n            }}").expect("string");
    code
}

/// Emits the opening points `x w^rot`, the denominators `u - x w^rot` and, to be inverted
/// in the Lagrange values' batch (at `s_dinv`, just before theirs), copies of them and the
/// product of those outside the first opening set.
pub(super) fn denominators(g: &Gen<'_>, w: &mut String) {
    let Memory {
        s_x,
        s_u,
        s_pts,
        s_d,
        s_dinv,
        n_super,
        ..
    } = g.mem;
    let (x, u) = (m(s_x), m(s_u));
    for (i, &rot) in g.plan.super_rotations.iter().enumerate() {
        emit!(
            w,
            "            mstore({:#x}, mulmod({x}, {}, r))",
            s_pts + 32 * i,
            fr_hex(&rotate(g.omega, rot))
        );
    }
    for i in 0..n_super {
        emit!(
            w,
            "            mstore({:#x}, addmod({u}, sub(r, {}), r))",
            s_d + 32 * i,
            m(s_pts + 32 * i)
        );
        emit!(
            w,
            "            mstore({:#x}, {})",
            s_dinv + 32 * i,
            m(s_d + 32 * i)
        );
    }
    let first = &g.plan.rotation_sets[0];
    let diffs0: Vec<i32> = g
        .plan
        .super_rotations
        .iter()
        .copied()
        .filter(|r| !first.rotations.contains(r))
        .collect();
    emit!(
        w,
        "{}",
        vanishing(g, s_dinv + 32 * n_super, &mut diffs0.iter().copied())
    );
}

/// For an aggregate's key, emits the draw of `rho`, by which the proof's own pairing is scaled
/// before the accumulator's is added (see [`accumulator`]): the Keccak-256 hash of the
/// transcript's last state `h` and the opening proof's `h2`. The transcript absorbed the key,
/// every public value (the accumulator's limbs included) and every proof byte before `h2`, so
/// `rho` is drawn after all four points of the final check are fixed. Every scalar of the
/// multi-scalar multiplication is multiplied by `rho` (the `scale` that `pairingInputs` also
/// uses), which gives `rho right` without a point multiplication.
fn accumulator_scale(w: &mut String, h2: usize, s_scale: usize) {
    emit!(
        w,
        "            // The aggregate's accumulator: rho, to fold its pairing with the proof's."
    );
    emit!(w, "            if inputsOnly {{ fail() }}");
    emit!(w, "            mstore(0x00, h)");
    emit!(w, "            mstore(0x20, calldataload(add(p, {h2:#x})))");
    emit!(
        w,
        "            mstore(0x40, calldataload(add(p, {:#x})))",
        h2 + 32
    );
    emit!(w, "            let rho := mod(keccak256(0x00, 0x60), r)");
    emit!(w, "            if iszero(rho) {{ fail() }}");
    emit!(w, "            mstore({s_scale:#x}, rho)");
}

/// Emits the accumulator's part of the final check. Its points `lhs` and `rhs` are read from
/// their limbs in the instance (each limb below `2^bits`, each coordinate canonical and each
/// point on the curve) and folded into the proof's own pairing `e(h2, s G2) = e(right, G2)`,
/// scaled by `rho` ([`accumulator_scale`]): `e(rho h2 + rhs, s G2) = e(rho right + lhs, G2)`.
/// `rho right` at `s_acc` becomes `rho right + lhs` in place; `rho h2 + rhs` is left at
/// `0x180`.
///
/// Soundness: with `P = e(h2, s G2) / e(right, G2)` and `Q = e(rhs, s G2) / e(lhs, G2)`, the
/// check is `P^rho Q = 1` in a group of prime order `r`. If `P != 1` it holds for exactly one
/// `rho`; if `P = 1` and `Q != 1` for none. `rho` is a hash of everything that fixes both, so
/// an invalid proof or accumulator passes with probability at most `1 / r` (about `2^-254`)
/// per attempt.
fn accumulator(
    w: &mut String,
    at: &zkml_verifier::accumulator::AccumulatorAt,
    h2: usize,
    s_acc: usize,
) {
    emit!(
        w,
        "            // The aggregate's accumulator: its folded proofs' pairing."
    );
    let bits = at.bits as usize;
    let names = ["accLx", "accLy", "accRx", "accRy"];
    for (c, name) in names.iter().enumerate() {
        emit!(w, "            let {name} := 0");
        for i in 0..at.limbs as usize {
            let index = at.offset + c * at.limbs as usize + i;
            let shift = i * bits;
            emit!(
                w,
                "            {{ let l := calldataload(add(ip, {:#x}))",
                32 * index
            );
            // The limb's bits that land inside the word; any above make a wide value.
            match bits.min(256usize.saturating_sub(shift)) {
                0 => emit!(w, "              if l {{ fail() }} }}"),
                room => {
                    emit!(w, "              if shr({room}, l) {{ fail() }}");
                    emit!(w, "              {name} := add({name}, shl({shift}, l)) }}");
                }
            }
        }
    }
    emit!(
        w,
        "            if iszero(and(onCurve(accLx, accLy), onCurve(accRx, accRy))) {{ fail() }}"
    );
    // rho right + lhs
    emit!(w, "            mstore(0x00, mload({s_acc:#x}))");
    emit!(w, "            mstore(0x20, mload({:#x}))", s_acc + 32);
    emit!(w, "            mstore(0x40, accLx)");
    emit!(w, "            mstore(0x60, accLy)");
    emit!(
        w,
        "            ok := and(ok, staticcall(gas(), 6, 0x00, 0x80, {s_acc:#x}, 0x40))"
    );
    // rho h2 + rhs
    emit!(w, "            mstore(0x00, calldataload(add(p, {h2:#x})))");
    emit!(
        w,
        "            mstore(0x20, calldataload(add(p, {:#x})))",
        h2 + 32
    );
    emit!(w, "            mstore(0x40, rho)");
    emit!(
        w,
        "            ok := and(ok, staticcall(gas(), 7, 0x00, 0x60, 0x00, 0x40))"
    );
    emit!(w, "            mstore(0x40, accRx)");
    emit!(w, "            mstore(0x60, accRy)");
    emit!(
        w,
        "            ok := and(ok, staticcall(gas(), 6, 0x00, 0x80, 0x180, 0x40))"
    );
}
