//! Input checks, the proof's copy, and the Fiat-Shamir transcript (every challenge).

use std::fmt::Write;

use super::yul::{fr_hex, hex};
use super::{Gen, Memory};

/// Emits the checks of the proof's length, points and scalars and of the public values, the
/// proof's copy into memory, and the transcript that draws every challenge.
pub(super) fn checks_and_transcript(g: &Gen<'_>, w: &mut String) {
    let Gen {
        vk,
        plan,
        n_inst,
        digest,
        ..
    } = *g;
    let Memory {
        s_theta,
        s_beta,
        s_gamma,
        s_y,
        s_x,
        s_sy,
        s_v,
        s_u,
        s_chal,
        s_p,
        tbuf,
        proof_mem,
        ..
    } = g.mem;
    let l = &plan.layout;
    // ---- input checks ----
    emit!(
        w,
        "            if iszero(eq(proof.length, {:#x})) {{ fail() }}",
        l.len
    );
    emit!(
        w,
        "            if iszero(eq(instances.length, {n_inst})) {{ fail() }}"
    );
    emit!(w, "            let p := proof.offset");
    emit!(w, "            mstore({s_p:#x}, p)");
    emit!(w, "            let ip := instances.offset");
    emit!(
        w,
        "            for {{ let i := 0 }} lt(i, {n_inst}) {{ i := add(i, 1) }} {{"
    );
    emit!(
        w,
        "                if iszero(lt(calldataload(add(ip, shl(5, i))), r)) {{ fail() }}"
    );
    emit!(w, "            }}");
    emit!(
        w,
        "            for {{ let o := 0 }} lt(o, {:#x}) {{ o := add(o, 0x40) }} {{",
        l.points_end
    );
    emit!(w, "                if iszero(onCurve(calldataload(add(p, o)), calldataload(add(p, add(o, 0x20))))) {{ fail() }}");
    emit!(w, "            }}");
    emit!(
        w,
        "            for {{ let o := {:#x} }} lt(o, {:#x}) {{ o := add(o, 0x20) }} {{",
        l.points_end,
        l.h1
    );
    emit!(
        w,
        "                if iszero(lt(calldataload(add(p, o)), r)) {{ fail() }}"
    );
    emit!(w, "            }}");
    for off in [l.h1, l.h2] {
        emit!(w, "            if iszero(onCurve(calldataload(add(p, {off:#x})), calldataload(add(p, {:#x})))) {{ fail() }}", off + 32);
    }

    emit!(
        w,
        "            calldatacopy({proof_mem:#x}, p, {:#x})",
        l.len
    );

    // ---- transcript ----
    emit!(w, "            // Transcript: key digest, constraint-system digest, public values, then the proof.");
    emit!(w, "            mstore({tbuf:#x}, {})", fr_hex(&digest));
    emit!(
        w,
        "            mstore({:#x}, {})",
        tbuf + 32,
        hex(&vk.transcript_repr)
    );
    emit!(
        w,
        "            calldatacopy({:#x}, ip, {:#x})",
        tbuf + 64,
        32 * n_inst
    );
    let (s0, e0) = plan.segments[0];
    emit!(
        w,
        "            calldatacopy({:#x}, add(p, {s0:#x}), {:#x})",
        tbuf + 64 + 32 * n_inst,
        e0 - s0
    );
    emit!(
        w,
        "            let h := keccak256({tbuf:#x}, {:#x})",
        64 + 32 * n_inst + e0 - s0
    );
    let slots: Vec<usize> = (0..vk.challenges as usize)
        .map(|i| s_chal + 32 * i)
        .chain([s_theta, s_beta, s_gamma, s_y, s_x, s_sy, s_v, s_u])
        .collect();
    emit!(w, "            mstore({:#x}, mod(h, r))", slots[0]);
    debug_assert_eq!(plan.segments.len(), slots.len());
    for (&(s, e), &slot) in plan.segments[1..].iter().zip(&slots[1..]) {
        emit!(w, "            mstore({tbuf:#x}, h)");
        if s == e {
            emit!(w, "            mstore8({:#x}, 1)", tbuf + 32);
            emit!(w, "            h := keccak256({tbuf:#x}, 0x21)");
        } else {
            emit!(
                w,
                "            calldatacopy({:#x}, add(p, {s:#x}), {:#x})",
                tbuf + 32,
                e - s
            );
            emit!(
                w,
                "            h := keccak256({tbuf:#x}, {:#x})",
                32 + e - s
            );
        }
        emit!(w, "            mstore({slot:#x}, mod(h, r))");
    }
}
