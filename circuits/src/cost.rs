//! Choosing the circuit shape: the smallest, fastest layout that fits.
//!
//! Proving time is dominated by work proportional to `n = 2^k` for every committed polynomial:
//!
//! ```text
//! cost(k, shape) ~ 2^k * (  A + P        advice columns and permutation products: each is
//!                                        committed, interpolated and taken to the extended domain
//!                         + w_l L        lookup arguments (permuted input, permuted table, product)
//!                         + w_q (d - 1)  quotient pieces (committed only)
//!                         + w_c C )      columns taken to the extended domain but not committed:
//!                                        fixed columns (selectors and tables included), one
//!                                        permutation polynomial per equality column, and the
//!                                        three row indicators
//! ```
//!
//! with `P = ceil(equality columns / (degree - 2))`. The prover keeps the proving key's fixed
//! and permutation polynomials as coefficients and takes every one of them to each part of the
//! extended domain for every proof, so a fixed column costs about half an advice column, not
//! nothing. The weights come from a profile of MobileNetV2's proof and from shapes of one model
//! measured against each other (BENCHMARKS.md, "Scale set"); `benches/cost_model.py` prints the
//! measured time per unit of estimate across models.
//! The number of rows needed follows from a layout of the program: main-region rows depend on
//! the lane counts, stream rows are the number of checks divided by the number of streams, and
//! the range table needs `2^(R+1)` rows. Candidate shapes are laid out and the cheapest one that
//! fits is chosen; `measured` in BENCHMARKS.md compares the model with real proving times.
//!
//! With [`Objective::EvmGas`] the shape is chosen instead for the cheapest on-chain
//! verification ([`evm_gas`]): the verifier pays one elliptic-curve multiplication (6,000 gas)
//! per committed polynomial, fixed columns included, and 16 gas per proof byte, but little for
//! another rotation of a column it already opens. Folded shapes ([`crate::fold`]: one advice
//! column, a few fixed ones, no range table) therefore win there, as long as their extra rows
//! keep `k` at most [`MAX_FOLDED_K`]; among the shapes within [`GAS_TOLERANCE`] of the least
//! gas, the fastest to prove is taken.

use zkml_ir::Program;

use crate::layout::program::measure_bounded;
use crate::layout::LayoutError;
use crate::params::CircuitParams;
use crate::sizing::{minimal_k, reserved_rows};
use crate::visibility::VisibilityConfig;

/// Weight of a lookup argument relative to an advice column in the cost model.
pub const LOOKUP_WEIGHT: f64 = 3.0;
/// Weight of a quotient piece relative to an advice column.
pub const QUOTIENT_WEIGHT: f64 = 0.6;
/// Weight of a column taken to the extended domain without being committed (fixed columns,
/// permutation polynomials) relative to an advice column.
pub const COSET_WEIGHT: f64 = 0.5;

/// The counts, per `2^k` rows, that [`estimate`] weighs.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct CostTerms {
    /// Advice columns and permutation products: committed and taken to the extended domain.
    pub committed: usize,
    /// Lookup arguments.
    pub lookups: usize,
    /// Quotient pieces.
    pub quotient: usize,
    /// Fixed columns, permutation polynomials and row indicators: taken to the extended
    /// domain only.
    pub coset_only: usize,
}

/// What [`estimate`] counts for shape `p`.
pub fn terms(p: &CircuitParams) -> CostTerms {
    let c = Commitments::of(p);
    CostTerms {
        committed: c.advice + c.perm,
        lookups: c.lookups,
        quotient: c.quotient,
        coset_only: c.fixed + c.equality + 3,
    }
}

/// Estimated relative proving cost of a shape at size `k`.
pub fn estimate(p: &CircuitParams, k: u32) -> f64 {
    let t = terms(p);
    2f64.powi(k as i32)
        * (t.committed as f64
            + LOOKUP_WEIGHT * t.lookups as f64
            + QUOTIENT_WEIGHT * t.quotient as f64
            + COSET_WEIGHT * t.coset_only as f64)
}

/// Process memory the model below does not scale with the circuit: the program, the SRS's
/// first points, the allocator's arenas.
pub const MEMORY_BASE: u64 = 20 << 20;

/// Measured peak over the polynomials the model counts (allocator slack, transient copies:
/// FFT buffers, the proving key's serialization while it is cached). Fitted to the peak
/// resident memory of one-shot `zkml prove` on the fixtures (BENCHMARKS.md, "Memory model").
pub const MEMORY_FACTOR: f64 = 1.6;

/// Estimated peak resident memory, in bytes, of generating keys for and proving a shape at
/// size `k` with the CPU prover.
///
/// halo2 holds, as vectors of `2^k` field elements (32 bytes each): the proving key's fixed
/// and permutation columns as values and coefficients (two each) and three row indicators;
/// the witness's advice and instance columns, lookups' permuted columns and products, and the
/// permutation products, as values and coefficients; and while the quotient is computed, one
/// coset part of every one of those, and the extended domain's values (`degree - 1` rounded up
/// to a power of two parts) with the quotient's pieces.
pub fn memory_estimate(p: &CircuitParams, k: u32) -> u64 {
    let c = Commitments::of(p);
    let columns = c.advice + c.fixed + c.equality + 3 * c.lookups + c.perm + 1;
    let parts = (p.degree - 1).next_power_of_two();
    let polys = 3 * columns + 3 + 2 * parts;
    MEMORY_BASE + (MEMORY_FACTOR * 32.0 * (1u64 << k) as f64 * polys as f64) as u64
}

/// How many polynomials of each kind a shape commits to (selector columns after halo2's
/// compression estimated).
#[derive(Clone, Copy, Debug)]
struct Commitments {
    advice: usize,
    /// Fixed columns, selectors and lookup tables included.
    fixed: usize,
    /// Columns in the permutation (each has a fixed permutation polynomial).
    equality: usize,
    /// Permutation products.
    perm: usize,
    lookups: usize,
    quotient: usize,
}

impl Commitments {
    fn of(p: &CircuitParams) -> Self {
        let function = usize::from(p.table_streams > 0);
        let (advice, fixed, selectors, tables, equality, lookups) = if p.fold == 0 {
            (
                p.advice_columns() + p.challenge_columns(),
                p.fixed_columns(),
                SELECTOR_COLUMNS,
                // The range table, and the function tables' columns (declared even unused).
                2 + 3 * p.banks(),
                p.lanes
                    + p.results
                    + p.range_streams
                    + 2 * p.table_streams
                    + 1
                    + p.challenge_columns(),
                p.range_streams + p.table_streams,
            )
        } else {
            // One advice column; the coefficient columns, the function tags and tables; the
            // row selector; no range table.
            (1, p.fold + function, 1, 3 * function, 2, function)
        };
        Self {
            advice,
            fixed: fixed + selectors + tables,
            equality,
            perm: equality.div_ceil(p.degree - 2),
            lookups,
            quotient: p.degree - 1,
        }
    }
}

/// Selector columns after halo2's selector compression, roughly.
const SELECTOR_COLUMNS: usize = 3;

/// What the chosen shape minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Proving time (the default).
    #[default]
    Proving,
    /// The gas of verifying a proof on chain; proving time breaks ties.
    EvmGas,
}

/// Estimated gas of verifying one proof of shape `p` with the generated Solidity verifier:
/// one `ecMul` + `ecAdd` per commitment opened, the pairing, the transaction base and the
/// calldata of the proof (`instances` public values add the same for every shape).
pub fn evm_gas(p: &CircuitParams, instances: usize) -> f64 {
    let c = Commitments::of(p);
    let commitments = c.advice + c.fixed + c.equality + c.perm + 3 * c.lookups + c.quotient + 1 + 3;
    let proof_points = c.advice + 3 * c.lookups + c.perm + 1 + c.quotient + 2;
    // Evaluations: advice and fixed queries (a folded row's cells are rotations of one
    // column), permutation and lookup openings.
    let advice_evals = if p.fold == 0 {
        c.advice + p.results
    } else {
        p.lanes + 2 * p.results + 3 * usize::from(p.poseidon) + usize::from(p.table_streams > 0)
    };
    let fixed_evals = if p.fold == 0 {
        c.fixed
    } else {
        c.fixed - p.fold + p.coefficients()
    };
    let proof_scalars = advice_evals + fixed_evals + 1 + c.equality + 3 * c.perm + 5 * c.lookups;
    let calldata = 64 * proof_points + 32 * (proof_scalars + instances);
    21_000.0 + 113_000.0 + 6_150.0 * commitments as f64 + 16.0 * calldata as f64
}

/// Widest value a folded circuit range-checks in one bit decomposition (wider ones are split
/// into limbs first).
pub const FOLDED_RANGE_BITS: u32 = 24;

/// Range table widths `R` the unfolded shapes are tried with.
const RANGE_BITS: [u32; 5] = [6, 8, 10, 12, 14];

/// Largest `k` a folded shape may take: beyond it the gas saved is not worth the proving time.
pub const MAX_FOLDED_K: u32 = 17;

/// The shape with the lowest estimated proving cost among the candidates, with its `k`.
pub fn choose(
    program: &Program,
    visibility: VisibilityConfig,
) -> Result<CircuitParams, LayoutError> {
    choose_for(program, visibility, Objective::Proving)
}

/// A candidate shape, sized for a program, with its estimated costs.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// The shape, with the `k` its layout needs.
    pub params: CircuitParams,
    /// Estimated proving cost ([`estimate`]).
    pub prove: f64,
    /// Estimated verification gas ([`evm_gas`]), the public values' calldata included.
    pub gas: f64,
}

/// Whether a circuit for `program` looks anything up in function tables: the program's own
/// tables, or constant data gathered by runtime indices (parameters count as constants when
/// they are fixed in the circuit).
pub fn uses_function_tables(program: &Program, visibility: VisibilityConfig) -> bool {
    let fixed_params = visibility.params == crate::visibility::ParamVisibility::Fixed;
    !program.tables.is_empty()
        || program.nodes.iter().any(|n| {
            matches!(n.op, zkml_ir::Op::Take { .. })
                && matches!(program.nodes[n.inputs[0]].op,
                    zkml_ir::Op::Const { param, .. } if !param || fixed_params)
        })
}

/// Every candidate shape for `objective`, sized for `program`.
pub fn candidates(
    program: &Program,
    visibility: VisibilityConfig,
    objective: Objective,
) -> Result<Vec<Candidate>, LayoutError> {
    candidates_bounded(
        program,
        visibility,
        objective,
        &bounds_of(program, visibility)?,
    )
}

/// The program's bounds under `visibility`'s parameter bounds (every layout reads them).
fn bounds_of(program: &Program, visibility: VisibilityConfig) -> Result<Vec<u64>, LayoutError> {
    program
        .bounds_with(visibility.param_bounds())
        .map_err(|e| LayoutError::Program(e.to_string()))
}

/// [`candidates`], given the program's bounds ([`bounds_of`]).
fn candidates_bounded(
    program: &Program,
    visibility: VisibilityConfig,
    objective: Objective,
    bounds: &[u64],
) -> Result<Vec<Candidate>, LayoutError> {
    let has_tables = uses_function_tables(program, visibility);
    let mut out = Vec::new();
    let hashes = visibility.hashes();
    // (lanes, results, fold columns)
    let shapes: &[(usize, usize, usize)] = match objective {
        Objective::Proving => &[(4, 2, 0), (8, 4, 0), (16, 4, 0), (16, 8, 0), (32, 8, 0)],
        Objective::EvmGas => &[
            (4, 2, 0),
            (8, 2, 0),
            (8, 4, 0),
            (4, 2, 1),
            (4, 2, 2),
            (8, 2, 1),
            (8, 2, 2),
            (8, 4, 2),
            (8, 4, 3),
            (16, 8, 6),
        ],
    };
    // One layout per (shape, range bits); stream counts scale analytically. The layouts are
    // independent: they are made on every core. Every shape is first laid out with the widest
    // range table; narrower tables are tried only for shapes whose main region is shorter
    // than that table. A narrower table splits values into more limbs, so it never shortens
    // the main region or the streams: it can only win where the table itself sets `k`.
    let base = |lanes: usize, results: usize, fold: usize, range_bits: u32| CircuitParams {
        k: 26,
        lanes,
        results,
        range_streams: usize::from(fold == 0),
        // Unfolded, the tables are measured as two banks lay them out: the large ones split
        // into parts, from which the load of any number of banks is predicted
        // ([`bank_load`]). Their counts are the same with one bank.
        table_streams: if has_tables && fold == 0 {
            2
        } else {
            usize::from(has_tables)
        },
        range_bits,
        degree: if fold > 0 { 5 } else { 4 },
        poseidon: hashes,
        fold,
        // Products are checked by Freivalds' test where that is cheaper (unfolded shapes for
        // proving speed); a layout that never chooses it has no second-phase columns.
        freivalds: fold == 0 && objective == Objective::Proving,
        table_banks: if has_tables && fold == 0 { 2 } else { 0 },
    };
    let widest = *RANGE_BITS.last().expect("range table widths");
    let mut bases: Vec<CircuitParams> = shapes
        .iter()
        .filter(|&&(lanes, _, _)| !hashes || lanes >= 8)
        .map(|&(lanes, results, fold)| {
            // Folded circuits check ranges by bits: the table width only bounds limb sizes.
            let bits = if fold > 0 { FOLDED_RANGE_BITS } else { widest };
            base(lanes, results, fold, bits)
        })
        .collect();
    let mut all = layout_all(program, visibility, &bases, bounds)?;
    let narrower: Vec<CircuitParams> = bases
        .iter()
        .zip(&all)
        .filter(|(p, stats)| {
            p.fold == 0 && stats.main_rows < crate::circuit::range_table_rows(widest)
        })
        .flat_map(|(p, _)| {
            RANGE_BITS[..RANGE_BITS.len() - 1]
                .iter()
                .map(|&bits| base(p.lanes, p.results, 0, bits))
        })
        .collect();
    all.extend(layout_all(program, visibility, &narrower, bounds)?);
    bases.extend(narrower);
    // A layout that checks products by Freivalds' test is also weighed without them: its
    // direct rows are estimated, and the second-phase columns are not paid for.
    let variants = bases.iter().zip(&all).flat_map(|(base, stats)| {
        let with = (stats.freivalds, stats.main_rows);
        let without = (false, stats.main_rows + stats.saved_rows);
        let list = if stats.freivalds {
            vec![with, without]
        } else {
            vec![with]
        };
        list.into_iter().map(move |v| (base, stats, v))
    });
    for (base, stats, (freivalds, main_rows)) in variants {
        let base = CircuitParams { freivalds, ..*base };
        let fold = base.fold;
        // Banks pay off only where the function tables set `k`.
        let one_bank = bank_load(&stats.tables, 1).0;
        let bank_options: &[usize] = if fold == 0 && has_tables && one_bank > main_rows {
            &BANKS
        } else {
            &[1]
        };
        for &banks in bank_options {
            let (fullest, lookups) = bank_load(&stats.tables, banks);
            let mut table_rows = fullest;
            if fold == 0 {
                table_rows = table_rows.max(crate::circuit::range_table_rows(base.range_bits));
            }
            // A folded circuit looks up every function slot of a row through one argument, so
            // more streams only shorten the rows; unfolded, each stream is an argument, and
            // every bank has the same number of them.
            let (range_options, per_bank): (&[usize], &[usize]) = match (fold, has_tables) {
                (0, true) if banks == 1 => (&[1, 2, 3, 4, 6, 8], &[1, 2, 4]),
                (0, true) => (&[1, 2, 3, 4, 6, 8], &[1, 2]),
                (0, false) => (&[1, 2, 3, 4, 6, 8], &[0]),
                (_, true) => (&[0], &[1, 2]),
                (_, false) => (&[0], &[0]),
            };
            // Degree 5 takes a third permutation column into each product for one more
            // quotient piece; the extended domain (four times the rows) is the same.
            let degrees: &[usize] = if fold == 0 { &[4, 5] } else { &[5] };
            for &range_streams in range_options {
                for (&streams, &degree) in per_bank
                    .iter()
                    .flat_map(|s| degrees.iter().map(move |d| (s, d)))
                {
                    let mut p = CircuitParams {
                        range_streams,
                        table_streams: streams * banks,
                        table_banks: if banks > 1 { banks } else { 0 },
                        degree,
                        ..base
                    };
                    let table_logical = if streams > 0 {
                        lookups
                            .iter()
                            .map(|l| l.div_ceil(streams))
                            .max()
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    let logical = main_rows
                        .max(if range_streams > 0 {
                            stats.checks.div_ceil(range_streams)
                        } else {
                            0
                        })
                        .max(table_logical);
                    let rows = (logical * p.stride()).max(table_rows).max(stats.instances);
                    let need = rows + reserved_rows(p);
                    p.k = (need.max(2) - 1).ilog2() + 1;
                    if p.k > 26 || (p.fold > 0 && p.k > MAX_FOLDED_K) {
                        continue;
                    }
                    out.push(Candidate {
                        params: p,
                        prove: estimate(&p, p.k),
                        gas: evm_gas(&p, stats.instances),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// What the sizing needs from a candidate layout.
struct LayoutStats {
    freivalds: bool,
    saved_rows: usize,
    main_rows: usize,
    checks: usize,
    /// Every function table's entries and lookups, in the order they were placed.
    tables: Vec<(usize, usize)>,
    instances: usize,
}

/// Bank counts tried for programs whose function tables are longer than their other rows.
const BANKS: [usize; 10] = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16];

/// How `banks` function-table banks are loaded by tables given as `(entries, lookups)` in the
/// order a layout places them (each in the first of the least filled banks, as
/// `Layout::place_table` does): the rows of the fullest bank, its zero row included, and the
/// lookups into each bank.
pub fn bank_load(tables: &[(usize, usize)], banks: usize) -> (usize, Vec<usize>) {
    let mut fill = vec![0usize; banks.max(1)];
    let mut lookups = vec![0usize; banks.max(1)];
    for &(entries, uses) in tables {
        let b = crate::layout::least_filled(&fill);
        fill[b] += entries;
        lookups[b] += uses;
    }
    (1 + fill.iter().copied().max().unwrap_or(0), lookups)
}

/// Lays out `program` in every shape of `bases` (without a witness), on every core, keeping
/// only the counts the sizing needs.
fn layout_all(
    program: &Program,
    visibility: VisibilityConfig,
    bases: &[CircuitParams],
    bounds: &[u64],
) -> Result<Vec<LayoutStats>, LayoutError> {
    let stats = |p: &CircuitParams| -> Result<LayoutStats, LayoutError> {
        let layout = measure_bounded(program, *p, visibility, bounds)?;
        let count = |tags: &[Vec<u64>]| {
            tags.iter()
                .map(|t| t.iter().filter(|&&v| v != 0).count())
                .sum::<usize>()
        };
        let mut uses: rustc_hash::FxHashMap<u64, usize> = Default::default();
        for &tag in layout.table_tags.iter().flatten() {
            *uses.entry(tag).or_default() += 1;
        }
        Ok(LayoutStats {
            freivalds: layout.uses_freivalds(),
            saved_rows: layout.freivalds_saved_rows,
            main_rows: layout.main_rows,
            checks: count(&layout.range_tags),
            tables: layout
                .tables
                .iter()
                .map(|t| (t.values.len(), uses.get(&t.tag).copied().unwrap_or(0)))
                .collect(),
            instances: layout.instance.len(),
        })
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(bases.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<LayoutStats, LayoutError>>> =
        (0..bases.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= bases.len() {
                    break;
                }
                let r = stats(&bases[i]);
                slots.lock().expect("no worker panics")[i] = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every shape laid out"))
        .collect()
}

/// Gas within this fraction of the cheapest candidate's counts as cheapest: among those, the
/// fastest to prove is chosen (a folded shape saves gas at the price of many more rows).
pub const GAS_TOLERANCE: f64 = 0.02;

/// Which challenge phases a circuit may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phases {
    /// Any: products may be checked by Freivalds' test, whose challenge is drawn after a first
    /// phase of commitments (the CPU prover).
    #[default]
    Any,
    /// One phase only, no second-phase columns (the CUDA prover supports no others).
    One,
}

/// The shape that minimises `objective` among the candidates, with its `k`.
pub fn choose_for(
    program: &Program,
    visibility: VisibilityConfig,
    objective: Objective,
) -> Result<CircuitParams, LayoutError> {
    choose_within(program, visibility, objective, Phases::Any)
}

/// [`choose_for`] among the candidates that use only the challenge phases `phases` allows.
pub fn choose_within(
    program: &Program,
    visibility: VisibilityConfig,
    objective: Objective,
    phases: Phases,
) -> Result<CircuitParams, LayoutError> {
    choose_fitting(program, visibility, objective, phases, &|_| true)
}

/// [`choose_within`] among the candidates that `fits` accepts (a memory or row budget, given
/// each candidate with its `k`); if none does, among all of them.
pub fn choose_fitting(
    program: &Program,
    visibility: VisibilityConfig,
    objective: Objective,
    phases: Phases,
    fits: &dyn Fn(&CircuitParams) -> bool,
) -> Result<CircuitParams, LayoutError> {
    let bounds = bounds_of(program, visibility)?;
    let mut all = candidates_bounded(program, visibility, objective, &bounds)?;
    if phases == Phases::One {
        // A candidate whose params allow the test but whose layout never chose it has no
        // second-phase columns; the sizing already lists each such shape with `freivalds` off.
        all.retain(|c| !c.params.freivalds);
    }
    if all.iter().any(|c| fits(&c.params)) {
        all.retain(|c| fits(&c.params));
    }
    let fastest = |c: &&Candidate| c.prove;
    let best = match objective {
        Objective::Proving => all.iter().min_by(|a, b| fastest(a).total_cmp(&fastest(b))),
        Objective::EvmGas => {
            let cheapest = all.iter().map(|c| c.gas).fold(f64::INFINITY, f64::min);
            all.iter()
                .filter(|c| c.gas <= cheapest * (1.0 + GAS_TOLERANCE))
                .min_by(|a, b| fastest(a).total_cmp(&fastest(b)))
        }
    };
    let mut p = best.expect("candidates exist").params;
    // Confirm with the real layout (stream balancing is exact, so this only guards the model).
    let layout = measure_bounded(program, p, visibility, &bounds)?;
    debug_assert!(phases == Phases::Any || !layout.uses_freivalds());
    p.k = minimal_k(&layout).max(p.k);
    Ok(p)
}
