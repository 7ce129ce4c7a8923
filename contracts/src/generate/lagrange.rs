//! x^n, the batch inversion, the Lagrange values at x and the instance's evaluation.

use std::fmt::Write;

use ark_bn254::Fr;
use ark_ff::Field;

use super::yul::{batch_inversion, fr_hex, m, rotate};
use super::{Gen, Memory};

/// Emits x^n, the inverses the evaluation needs (one batch), the Lagrange values of the
/// blinding and last rows, and the instance polynomial's value at x.
pub(super) fn lagrange(g: &Gen<'_>, w: &mut String) {
    let Gen {
        n_inst,
        k,
        n,
        omega,
        b,
        ..
    } = *g;
    let Memory {
        s_x,
        s_xn,
        s_inst,
        s_lagr,
        s_xinv,
        s_vanish_inv,
        s_common,
        inv_count,
        inv_arr,
        inv_tmp,
        ..
    } = g.mem;
    // ---- x^n, inverses, Lagrange values ----
    let x = m(s_x);
    let xn = m(s_xn);
    emit!(w, "            mstore({s_xn:#x}, {x})");
    emit!(w, "            for {{ let i := 0 }} lt(i, {k}) {{ i := add(i, 1) }} {{ mstore({s_xn:#x}, mulmod({xn}, {xn}, r)) }}");
    emit!(w, "            {{");
    emit!(w, "                let wi := 1");
    emit!(
        w,
        "                for {{ let i := 0 }} lt(i, {n_inst}) {{ i := add(i, 1) }} {{"
    );
    emit!(
        w,
        "                    mstore(add({inv_arr:#x}, shl(5, i)), addmod({x}, sub(r, wi), r))"
    );
    emit!(
        w,
        "                    wi := mulmod(wi, {}, r)",
        fr_hex(&omega)
    );
    emit!(w, "                }}");
    emit!(w, "            }}");
    for (j, rot) in (-(b + 1)..=0).enumerate() {
        emit!(
            w,
            "            mstore({:#x}, addmod({x}, {}, r))",
            inv_arr + 32 * (n_inst + j),
            fr_hex(&-rotate(omega, rot))
        );
    }
    let i_x = inv_arr + 32 * (n_inst + b as usize + 2);
    emit!(w, "            mstore({i_x:#x}, {x})");
    emit!(
        w,
        "            mstore({:#x}, addmod({xn}, sub(r, 1), r))",
        i_x + 32
    );
    // The opening denominators join this batch: one inversion (one modexp) for both.
    super::shplonk::denominators(g, w);
    let Memory {
        s_dinv, n_super, ..
    } = g.mem;
    debug_assert_eq!(inv_arr, s_dinv + 32 * (n_super + 1), "one contiguous batch");
    emit!(
        w,
        "{}",
        batch_inversion(s_dinv, n_super + 1 + inv_count, inv_tmp)
    );
    emit!(w, "            mstore({s_xinv:#x}, {})", m(i_x));
    emit!(w, "            mstore({s_vanish_inv:#x}, {})", m(i_x + 32));
    let n_inv = Fr::from(n).inverse().expect("n is a unit");
    emit!(
        w,
        "            mstore({s_common:#x}, mulmod(addmod({xn}, sub(r, 1), r), {}, r))",
        fr_hex(&n_inv)
    );
    let common = m(s_common);
    for (j, rot) in (-(b + 1)..=0).enumerate() {
        emit!(
            w,
            "            mstore({:#x}, mulmod(mulmod({common}, {}, r), {}, r))",
            s_lagr + 32 * j,
            fr_hex(&rotate(omega, rot)),
            m(inv_arr + 32 * (n_inst + j))
        );
    }
    emit!(w, "            {{");
    emit!(w, "                let sum := 0");
    emit!(w, "                let wi := 1");
    emit!(
        w,
        "                for {{ let i := 0 }} lt(i, {n_inst}) {{ i := add(i, 1) }} {{"
    );
    emit!(w, "                    sum := addmod(sum, mulmod(mulmod(calldataload(add(ip, shl(5, i))), wi, r), mload(add({inv_arr:#x}, shl(5, i))), r), r)");
    emit!(
        w,
        "                    wi := mulmod(wi, {}, r)",
        fr_hex(&omega)
    );
    emit!(w, "                }}");
    emit!(
        w,
        "                mstore({s_inst:#x}, mulmod(sum, {common}, r))"
    );
    emit!(w, "            }}");
}
