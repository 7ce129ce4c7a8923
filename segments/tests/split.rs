//! Cutting every fixture: the segments, evaluated in order on each other's outputs, give
//! exactly the values the whole program gives, at every allowed cut of the small fixtures and
//! at the planned cuts into 2 and 3 segments of all of them.

use zkml_circuits::VisibilityConfig;
use zkml_ir::segment::{cut_problem, segment_place, split, Segment};
use zkml_ir::{evaluate, Program, Tensor, Trace};
use zkml_segments::plan::plan_cuts;
use zkml_segments::CutProgram;
use zkml_test_support::{Fixture, MODEL_FIXTURES};

const EXPORTED: &[&str] = &[
    "exported/gpt2",
    "exported/llama",
    "exported/llama_decode",
    "exported/bert",
    "exported/vit",
    "exported/lstm",
    "exported/gru",
    "exported/random_forest",
];

/// Runs the segments in order; each segment's outputs must be the whole trace's values at the
/// nodes it hands over, and the last segment's the program's outputs.
fn run_chain(name: &str, segments: &[Segment], inputs: &[Tensor], trace: &Trace) {
    let mut carried: Vec<Tensor> = inputs.to_vec();
    for (i, s) in segments.iter().enumerate() {
        assert_eq!(
            segment_place(&s.program).map(|p| p.0),
            (segments.len() > 1).then_some(i),
            "{name}: segment {i}'s place"
        );
        let expected: Vec<&Tensor> = s.inputs.iter().map(|&j| &trace.values[j]).collect();
        assert_eq!(
            carried.iter().collect::<Vec<_>>(),
            expected,
            "{name}: segment {i}'s inputs"
        );
        let t = evaluate(&s.program, &carried)
            .unwrap_or_else(|e| panic!("{name}: segment {i} does not evaluate: {e}"));
        carried = t.outputs().into_iter().cloned().collect();
        for (k, &j) in s.outputs.iter().enumerate() {
            assert_eq!(
                carried[k], trace.values[j],
                "{name}: segment {i} output {k}"
            );
        }
    }
    let outputs: Vec<Tensor> = trace.outputs().into_iter().cloned().collect();
    assert_eq!(carried, outputs, "{name}: the chain's outputs");
}

fn check_planned(f: &Fixture, vis: VisibilityConfig) {
    for n in [1, 2, 3] {
        let cuts = plan_cuts(&f.program, vis, n).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(cuts.len(), n - 1, "{}: {n} segments", f.name);
        let cut = CutProgram::new(f.program.clone(), vis, cuts)
            .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        if n == 1 {
            assert_eq!(
                cut.segments[0].program, f.program,
                "one segment is the program"
            );
        }
        run_chain(&f.name, &cut.segments, &f.inputs, &f.trace);
    }
}

#[test]
fn every_allowed_cut_of_the_small_fixtures_is_exact() {
    for name in ["mlp_small", "mlp", "pytorch_style", "transformer"] {
        let f = Fixture::load(name);
        let bounds = f.program.bounds_with(zkml_ir::ParamBounds::Exact).unwrap();
        let mut cuts = 0;
        for c in 1..f.program.nodes.len() {
            if cut_problem(&f.program, &bounds, c).is_some() {
                continue;
            }
            let Ok(segments) = split(&f.program, &[c], &bounds) else {
                continue; // a side computes nothing
            };
            run_chain(name, &segments, &f.inputs, &f.trace);
            cuts += 1;
        }
        assert!(cuts >= 3, "{name}: only {cuts} cuts tried");
    }
}

#[test]
fn planned_cuts_of_every_fixture_are_exact() {
    for name in MODEL_FIXTURES.iter().chain(EXPORTED) {
        check_planned(&Fixture::load(name), VisibilityConfig::default());
    }
}

#[test]
fn witness_parameters_widen_the_bounds_handed_over() {
    let f = Fixture::load("mlp");
    let vis = VisibilityConfig {
        params: zkml_circuits::ParamVisibility::Private,
        ..VisibilityConfig::default()
    };
    check_planned(&f, vis);
    let cut = CutProgram::new(
        f.program.clone(),
        vis,
        plan_cuts(&f.program, vis, 2).unwrap(),
    )
    .unwrap();
    let envelope = f
        .program
        .bounds_with(zkml_ir::ParamBounds::Envelope)
        .unwrap();
    let second = &cut.segments[1];
    for (k, &j) in second.inputs.iter().enumerate() {
        let node = &second.program.nodes[second.program.inputs[k]];
        assert_eq!(
            node.bound, envelope[j],
            "input {k} keeps its producer's bound"
        );
    }
}

#[test]
fn bad_cuts_are_refused_with_reasons() {
    let f = Fixture::load("mlp_small");
    let p: &Program = &f.program;
    let bounds = p.bounds_with(zkml_ir::ParamBounds::Exact).unwrap();
    let n = p.nodes.len();
    for cuts in [vec![0], vec![n], vec![3, 3], vec![4, 2]] {
        let e = split(p, &cuts, &bounds).unwrap_err().to_string();
        assert!(e.contains("cannot cut"), "{cuts:?}: {e}");
    }
    // A cut where a product's unrescaled values cross leaves the value range.
    let wide = (1..n)
        .find(|&c| cut_problem(p, &bounds, c).is_some_and(|r| r.contains("value range")))
        .expect("some product crosses a cut unrescaled");
    let e = split(p, &[wide], &bounds).unwrap_err().to_string();
    assert!(e.contains("beyond the"), "{e}");
    let e = plan_cuts(p, VisibilityConfig::default(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least one"), "{e}");
    let e = plan_cuts(p, VisibilityConfig::default(), 10_000)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot be cut into 10000"), "{e}");
}

/// LLaMA's decode step hands its new keys out as an output whose values are wider than the
/// value range (the past keys rescaled up), so no cut may fall after the node that makes it:
/// every cut of a chain comes before it, each leaving the cuts still to come room.
#[test]
fn cuts_leave_room_for_those_still_to_come() {
    let f = Fixture::load("exported/llama_decode");
    let p: &Program = &f.program;
    let vis = VisibilityConfig::default();
    let bounds = p.bounds_with(vis.param_bounds()).unwrap();
    let last_allowed = (1..p.nodes.len())
        .rev()
        .find(|&c| cut_problem(p, &bounds, c).is_none())
        .unwrap();
    assert!(
        last_allowed < p.nodes.len() / 2,
        "a wide output lives from early on to the end"
    );
    let cutter = zkml_segments::plan::Cutter::new(p, vis).unwrap();
    let most = cutter.most_segments();
    for n in [2, 3, 4, most] {
        let cuts = plan_cuts(p, vis, n).unwrap_or_else(|e| panic!("{n} segments: {e}"));
        assert_eq!(cuts.len(), n - 1);
        assert!(cuts.iter().all(|&c| c <= last_allowed));
        let segments = split(p, &cuts, &bounds).unwrap();
        assert_eq!(segments.len(), n);
        // The segments before the last share the weight the last leaves them (as evenly as
        // the nodes' weights allow: the inputs' range checks weigh on the first one).
        if n <= 4 {
            let weights: Vec<u64> = segments[..n - 1]
                .iter()
                .map(|s| cutter.weight(&s.nodes))
                .collect();
            let even = weights.iter().sum::<u64>() / (n as u64 - 1);
            assert!(
                weights.iter().all(|&w| 4 * w >= even),
                "{n} segments: unbalanced {weights:?}"
            );
        }
    }
    let e = plan_cuts(p, vis, most + 1).unwrap_err().to_string();
    assert!(e.contains(&format!("at most {most} segments")), "{e}");
}
