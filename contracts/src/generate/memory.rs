//! The memory map of the verification: named words, batch-inversion arrays, the transcript
//! buffer, the key data, the proof's copy and the gate temporaries, in that order.

use zkml_verifier::vk::VerifyingKey;

use super::{MAX_KEY_DATA, MAX_KEY_PARTS};
use crate::gates::{GateCode, GateProgram};
use crate::plan::Plan;
use crate::GenerateError;

/// Memory allocator for named 32-byte slots.
struct Mem {
    next: usize,
}

impl Mem {
    fn word(&mut self) -> usize {
        self.words(1)
    }

    fn words(&mut self, n: usize) -> usize {
        let at = self.next;
        self.next += 32 * n;
        at
    }
}

/// Where each value lives (addresses) and the sizes that placed them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Memory {
    pub(super) s_theta: usize,
    pub(super) s_beta: usize,
    pub(super) s_gamma: usize,
    pub(super) s_y: usize,
    pub(super) s_x: usize,
    pub(super) s_sy: usize,
    pub(super) s_v: usize,
    pub(super) s_u: usize,
    pub(super) s_xn: usize,
    pub(super) s_inst: usize,
    pub(super) s_chal: usize,
    pub(super) s_lagr: usize,
    pub(super) s_xinv: usize,
    pub(super) s_vanish_inv: usize,
    pub(super) s_folded: usize,
    pub(super) s_quot: usize,
    pub(super) s_pts: usize,
    pub(super) s_z0: usize,
    pub(super) s_zdiff0_inv: usize,
    pub(super) s_router: usize,
    pub(super) s_acc: usize,
    pub(super) s_left: usize,
    pub(super) s_right: usize,
    pub(super) s_tmp: usize,
    pub(super) s_common: usize,
    pub(super) s_lblind: usize,
    pub(super) s_active: usize,
    pub(super) s_factor: usize,
    pub(super) s_vpow: usize,
    pub(super) s_rin: usize,
    pub(super) s_p: usize,
    pub(super) s_van: usize,
    /// The factor every term of the final MSM is multiplied by (1 but for `pairingInputs`).
    pub(super) s_scale: usize,
    /// 1 in `pairingInputs`, 0 in `verifyProof`.
    pub(super) s_mode: usize,
    /// `pairingInputs`: the scalars of the key's points (fixed, then permutation commitments),
    /// returned for the caller to multiply instead of multiplied here.
    pub(super) s_keyscal: usize,
    pub(super) max_rotations: usize,
    pub(super) s_xinv_pows: usize,
    pub(super) n_super: usize,
    pub(super) s_d: usize,
    pub(super) s_dinv: usize,
    pub(super) s_basis: usize,
    pub(super) inv_count: usize,
    pub(super) inv_arr: usize,
    pub(super) inv_tmp: usize,
    pub(super) tbuf: usize,
    pub(super) key_mem: usize,
    pub(super) pool_at: usize,
    pub(super) key_len: usize,
    pub(super) proof_mem: usize,
    pub(super) temps: usize,
    pub(super) temp_capacity: usize,
}

impl Memory {
    /// Lays out the verification of `vk` (its `plan`); `program` is the gate program when the
    /// gates are interpreted (it is compiled here: its size places what follows the key data).
    pub(super) fn new(
        vk: &VerifyingKey,
        plan: &Plan,
        gates: GateCode,
        program: &mut GateProgram,
    ) -> Result<Self, GenerateError> {
        let l = &plan.layout;
        let n_inst = vk.num_instance_values as usize;
        let b = vk.blinding_factors as i32;
        let mut mem = Mem { next: 0x200 };
        let s_theta = mem.word();
        let s_beta = mem.word();
        let s_gamma = mem.word();
        let s_y = mem.word();
        let s_x = mem.word();
        let s_sy = mem.word();
        let s_v = mem.word();
        let s_u = mem.word();
        let s_xn = mem.word();
        let s_inst = mem.word();
        // The challenges follow the instance evaluation (gate programs address them from it).
        let s_chal = mem.words(vk.challenges as usize);
        let s_lagr = mem.words(b as usize + 2); // l_r(x) for r = -(b+1)..=0
        let s_xinv = mem.word();
        let s_vanish_inv = mem.word();
        let s_folded = mem.word();
        let s_quot = mem.word();
        let s_pts = mem.words(plan.super_rotations.len());
        let s_z0 = mem.word();
        let s_zdiff0_inv = mem.word();
        let s_router = mem.word();
        let s_acc = mem.words(2);
        let s_left = mem.word();
        let s_right = mem.word();
        let s_tmp = mem.word();
        let s_common = mem.word();
        let s_lblind = mem.word();
        let s_active = mem.word();
        let s_factor = mem.word();
        let s_vpow = mem.word();
        let s_rin = mem.word();
        let s_p = mem.word();
        let s_van = mem.word();
        let s_scale = mem.word();
        let s_mode = mem.word();
        let s_keyscal = mem.words(vk.fixed_commitments.len() + vk.permutation_commitments.len());
        let max_rotations = plan
            .rotation_sets
            .iter()
            .map(|s| s.rotations.len())
            .max()
            .unwrap_or(1);
        let s_xinv_pows = mem.words(max_rotations);
        // u - x w^rot for every rotation.
        let n_super = plan.super_rotations.len();
        let s_d = mem.words(n_super);
        let basis_total: usize = plan.rotation_sets.iter().map(|s| s.rotations.len()).sum();
        let s_basis = mem.words(basis_total);
        // One batch inversion (one modexp) for all: the inverses of u - x w^rot and of the
        // product of those outside the first opening set, then of x - w^i for the instance
        // rows, x - w^r for the blinding rows, x, and x^n - 1.
        let s_dinv = mem.words(n_super + 1);
        let inv_count = n_inst + b as usize + 2 + 2;
        let inv_arr = mem.words(inv_count);
        let inv_tmp = mem.words(n_super + 1 + inv_count);
        let tbuf = mem.next;
        let longest = plan.segments.iter().map(|(s, e)| e - s).max().unwrap_or(0);
        let tbuf_len = (64 + 32 * n_inst + longest).div_ceil(32) * 32 + 32;
        // The key blob, copied from the key contracts: the fixed and permutation commitments,
        // then the opening tables.
        let key_points = vk.fixed_commitments.len() + vk.permutation_commitments.len();
        let key_mem = tbuf + tbuf_len;
        let table_words: usize = plan
            .rotation_sets
            .iter()
            .map(|s| s.polys.len() * (1 + s.rotations.len()))
            .sum();
        let tables_end = 64 * key_points + 4 * table_words;
        if gates == GateCode::Interpreted {
            for g in &vk.gates {
                program.gate(g, plan, s_inst)?;
            }
        }
        // The constant pool starts on a word boundary; the program follows it.
        let pool_at = tables_end.div_ceil(32) * 32;
        let key_len = if gates == GateCode::Interpreted {
            pool_at + program.data_len()
        } else {
            tables_end
        };
        if key_len > MAX_KEY_DATA {
            return Err(GenerateError::Unsupported(format!(
                "the key data ({key_len} bytes) exceeds the {MAX_KEY_DATA} bytes the verifier addresses ({MAX_KEY_PARTS} key contracts); run setup with --optimize evm-gas for a narrower circuit"
            )));
        }
        // A copy of the proof: evaluations are read from memory, which takes less code.
        let proof_mem = key_mem + key_len.div_ceil(32) * 32 + 32;
        // Gate temporaries come last, so that memory grows only as far as they are used.
        let temps = proof_mem + l.len.div_ceil(32) * 32 + 32;
        let temp_capacity = 1 << 16;
        Ok(Self {
            s_theta,
            s_beta,
            s_gamma,
            s_y,
            s_x,
            s_sy,
            s_v,
            s_u,
            s_xn,
            s_inst,
            s_chal,
            s_lagr,
            s_xinv,
            s_vanish_inv,
            s_folded,
            s_quot,
            s_pts,
            s_z0,
            s_zdiff0_inv,
            s_router,
            s_acc,
            s_left,
            s_right,
            s_tmp,
            s_common,
            s_lblind,
            s_active,
            s_factor,
            s_vpow,
            s_rin,
            s_p,
            s_van,
            s_scale,
            s_mode,
            s_keyscal,
            max_rotations,
            s_xinv_pows,
            n_super,
            s_d,
            s_dinv,
            s_basis,
            inv_count,
            inv_arr,
            inv_tmp,
            tbuf,
            key_mem,
            pool_at,
            key_len,
            proof_mem,
            temps,
            temp_capacity,
        })
    }
}
