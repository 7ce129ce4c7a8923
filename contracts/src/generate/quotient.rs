//! The quotient's evaluation at x: gates (inline or interpreted), permutation and lookups.

use std::collections::HashMap;
use std::fmt::Write;

use ark_ff::Field;

use super::expr::{count_subexpressions, ExprWriter};
use super::yul::{fr_hex, m};
use super::{Gen, Memory};
use crate::gates::{GateCode, INSTRUCTION_BYTES, OP_ADD, OP_MUL, OP_NEG};
use crate::plan::column_eval;
use crate::GenerateError;

/// Emits the quotient's numerator folded by powers of y (gates, permutation, lookups) and the
/// quotient's value at x.
pub(super) fn quotient(g: &Gen<'_>, w: &mut String) -> Result<(), GenerateError> {
    let Gen {
        vk,
        plan,
        gates,
        delta,
        b,
        ref program,
        ref evals,
        ..
    } = *g;
    let Memory {
        s_theta,
        s_beta,
        s_gamma,
        s_y,
        s_x,
        s_lagr,
        s_vanish_inv,
        s_folded,
        s_quot,
        s_left,
        s_right,
        s_tmp,
        s_lblind,
        s_active,
        key_mem,
        pool_at,
        temps,
        temp_capacity,
        ..
    } = g.mem;
    let l = &plan.layout;
    let x = m(s_x);
    // ---- the quotient evaluation ----
    let l_last = m(s_lagr);
    let l_0 = m(s_lagr + 32 * (b as usize + 1));
    emit!(w, "            mstore({s_lblind:#x}, 0)");
    for j in 1..=b as usize {
        emit!(
            w,
            "            mstore({s_lblind:#x}, addmod({}, {}, r))",
            m(s_lblind),
            m(s_lagr + 32 * j)
        );
    }
    emit!(
        w,
        "            mstore({s_active:#x}, addmod(1, sub(r, addmod({l_last}, {}, r)), r))",
        m(s_lblind)
    );
    let active = m(s_active);
    let y = m(s_y);
    emit!(w, "            let acc := 0");
    let mut counts = HashMap::new();
    for e in vk.gates.iter().chain(
        vk.lookups
            .iter()
            .flat_map(|a| a.inputs.iter().chain(&a.tables)),
    ) {
        count_subexpressions(e, &mut counts);
    }
    let mut ew = ExprWriter {
        evals,
        temps,
        used: 0,
        capacity: temp_capacity,
        counts,
        memo: HashMap::new(),
    };
    let push = |w: &mut String, code: &str| {
        writeln!(
            w,
            "            acc := addmod(mulmod(acc, {y}, r), {code}, r)"
        )
        .expect("string")
    };
    if gates == GateCode::Inline {
        for g in &vk.gates {
            let (code, _) = ew.expr(g, w)?;
            push(w, &code);
        }
    } else if !program.ops.is_empty() {
        // The interpreter's temporaries come first; inline spills (lookups) follow them.
        ew.used = program.depth;
        let prog_at = key_mem + pool_at + 32 * program.consts.len();
        let prog_end = prog_at + INSTRUCTION_BYTES * program.ops.len();
        emit!(w, "            {{");
        emit!(w, "                let yv := {y}");
        emit!(w, "                for {{ let at := {prog_at:#x} }} lt(at, {prog_end:#x}) {{ at := add(at, {INSTRUCTION_BYTES}) }} {{");
        emit!(w, "                    let ins := shr(192, mload(at))");
        emit!(
            w,
            "                    let a := mload(shl(5, and(shr(16, ins), 0xffff)))"
        );
        emit!(
            w,
            "                    let d := shl(5, and(shr(32, ins), 0xffff))"
        );
        emit!(w, "                    switch shr(48, ins)");
        emit!(w, "                    case {OP_ADD} {{ mstore(d, addmod(a, mload(shl(5, and(ins, 0xffff))), r)) }}");
        emit!(w, "                    case {OP_MUL} {{ mstore(d, mulmod(a, mload(shl(5, and(ins, 0xffff))), r)) }}");
        emit!(
            w,
            "                    case {OP_NEG} {{ mstore(d, sub(r, a)) }}"
        );
        emit!(
            w,
            "                    default {{ acc := addmod(mulmod(acc, yv, r), a, r) }}"
        );
        emit!(w, "                }}");
        emit!(w, "            }}");
    }
    let pe = |s: usize, j: usize| evals.proof(l.perm_evals + 32 * (3 * s + j));
    if plan.sets > 0 {
        push(
            w,
            &format!("mulmod({l_0}, addmod(1, sub(r, {}), r), r)", pe(0, 0)),
        );
        let last = pe(plan.sets - 1, 0);
        push(
            w,
            &format!("mulmod(addmod(mulmod({last}, {last}, r), sub(r, {last}), r), {l_last}, r)"),
        );
        for s in 1..plan.sets {
            push(
                w,
                &format!(
                    "mulmod(addmod({}, sub(r, {}), r), {l_0}, r)",
                    pe(s, 0),
                    pe(s - 1, 2)
                ),
            );
        }
    }
    let beta = m(s_beta);
    let gamma = m(s_gamma);
    for (s, cols) in vk.permutation_columns.chunks(plan.chunk).enumerate() {
        emit!(w, "            mstore({s_left:#x}, {})", pe(s, 1));
        emit!(w, "            mstore({s_right:#x}, {})", pe(s, 0));
        emit!(w, "            mstore({s_tmp:#x}, mulmod({beta}, {x}, r))");
        for (j, &c) in cols.iter().enumerate() {
            let idx = s * plan.chunk + j;
            let e = evals.column(column_eval(vk, c)?);
            let sigma = evals.proof(l.sigma_evals + 32 * idx);
            emit!(w, "            mstore({s_left:#x}, mulmod({}, addmod(addmod({e}, mulmod({beta}, {sigma}, r), r), {gamma}, r), r))", m(s_left));
            emit!(w,
                "            mstore({s_right:#x}, mulmod({}, addmod(addmod({e}, mulmod({}, {}, r), r), {gamma}, r), r))",
                m(s_right),
                m(s_tmp),
                fr_hex(&delta.pow([idx as u64]))
            );
        }
        push(
            w,
            &format!(
                "mulmod(addmod({}, sub(r, {}), r), {active}, r)",
                m(s_left),
                m(s_right)
            ),
        );
    }
    let theta = m(s_theta);
    for (li, arg) in vk.lookups.iter().enumerate() {
        let le = |j: usize| evals.proof(l.lookup_evals + 32 * (5 * li + j));
        let (z, z_next, a, a_inv, s) = (le(0), le(1), le(2), le(3), le(4));
        for (slot, exprs) in [(s_left, &arg.inputs), (s_right, &arg.tables)] {
            emit!(w, "            mstore({slot:#x}, 0)");
            for e in exprs.iter() {
                let (code, _) = ew.expr(e, w)?;
                emit!(
                    w,
                    "            mstore({slot:#x}, addmod(mulmod({}, {theta}, r), {code}, r))",
                    m(slot)
                );
            }
        }
        push(w, &format!("mulmod({l_0}, addmod(1, sub(r, {z}), r), r)"));
        push(
            w,
            &format!("mulmod({l_last}, addmod(mulmod({z}, {z}, r), sub(r, {z}), r), r)"),
        );
        push(
            w,
            &format!(
                "mulmod(addmod(mulmod(mulmod({z_next}, addmod({a}, {beta}, r), r), addmod({s}, {gamma}, r), r), sub(r, mulmod(mulmod({z}, addmod({}, {beta}, r), r), addmod({}, {gamma}, r), r)), r), {active}, r)",
                m(s_left),
                m(s_right)
            ),
        );
        push(w, &format!("mulmod({l_0}, addmod({a}, sub(r, {s}), r), r)"));
        push(
            w,
            &format!("mulmod(mulmod(addmod({a}, sub(r, {s}), r), addmod({a}, sub(r, {a_inv}), r), r), {active}, r)"),
        );
    }
    emit!(w, "            mstore({s_folded:#x}, acc)");
    emit!(
        w,
        "            mstore({s_quot:#x}, mulmod(acc, {}, r))",
        m(s_vanish_inv)
    );
    Ok(())
}
