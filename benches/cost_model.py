#!/usr/bin/env python3
"""The sizing's cost model against measured proving time.

For each model: `zkml compile` (calibrated on its input), `zkml setup --json` (the chosen shape,
its estimate and the counts the estimate weighs: `cost_terms`), then `zkml prove --pk --json`
(proving alone, keys given). Prints the table of BENCHMARKS.md's "Cost model" section: if the
model is right, the measured microseconds per unit of estimate are about the same for every
model, and it prints the spread (largest over smallest) over the circuits of 2^10 rows or more
(below that, fixed per-proof costs dominate).

    python3 benches/cost_model.py [--bin target/release/zkml] [--models a,b,...] [--out FILE]

Models are fixture names (`fixtures/NAME` or `fixtures/exported/NAME`) or scale-set models
(`target/bench/scale/NAME.onnx`, made by `benches/scale.py --make`).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import last_json  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = (
    "mlp_small,mlp,lenet,depthwise_separable,pytorch_style,transformer,"
    "random_forest,gradient_boosting,lstm,bert,gpt2,mobilenet_v2"
)


def paths(name):
    for d in [os.path.join(ROOT, "fixtures", name), os.path.join(ROOT, "fixtures", "exported", name)]:
        if os.path.exists(os.path.join(d, "model.onnx")):
            return os.path.join(d, "model.onnx"), os.path.join(d, "input.json")
    d = os.path.join(ROOT, "target", "bench", "scale")
    return os.path.join(d, f"{name}.onnx"), os.path.join(d, f"{name}.json")


def run(cmd, env):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    out = last_json(r.stdout)
    if not out:
        raise ValueError(f"{' '.join(cmd)}: no JSON object in the output")
    return out


def measure(binary, name, work):
    model, data = paths(name)
    env = dict(os.environ, ZKML_CACHE_DIR=os.path.join(work, "cache"))
    prog = os.path.join(work, "model.zkml")
    run([binary, "compile", model, "--calibration", data, "-o", prog, "--force", "--json"], env)
    setup = run([binary, "setup", prog, "--out", os.path.join(work, "keys"), "--force", "--json"], env)
    prove = run(
        [binary, "prove", prog, "--pk", os.path.join(work, "keys", "pk.bin"), "--input", data,
         "-o", os.path.join(work, "proof.json"), "--out", os.path.join(work, "out"), "--force", "--json"],
        env,
    )
    seconds = next(v for stage, v in prove["timings"].items() if stage.startswith("prove"))
    keys = next(v for stage, v in setup["timings"].items() if stage.startswith("generate keys"))
    return {
        "circuit": setup["circuit"],
        "estimate": setup["cost_estimate"],
        "terms": setup.get("cost_terms"),
        "prove_s": seconds,
        "keys_s": keys,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "zkml"))
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--out", help="also write the results as JSON here")
    args = ap.parse_args()
    results = {}
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as work:
            try:
                results[name] = measure(args.bin, name, work)
            except (RuntimeError, ValueError, StopIteration, KeyError) as e:
                print(f"{name}: {e}", file=sys.stderr)
                continue
        r = results[name]
        print(f"{name}: k {r['circuit']['k']}, prove {r['prove_s']:.2f} s", file=sys.stderr)
    print("| model | k | lanes | results | degree | range streams | table streams | estimate (units) | keys (s) | prove (s) | µs per unit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        c = r["circuit"]
        print(
            f"| {name} | {c['k']} | {c['lanes']} | {c['results']} | {c['degree']} | {c['range_streams']} "
            f"| {c['table_streams']} | {r['estimate']:,.0f} | {r['keys_s']:.2f} | {r['prove_s']:.2f} "
            f"| {r['prove_s'] / r['estimate'] * 1e6:.3f} |"
        )
    per_unit = [r["prove_s"] / r["estimate"] for r in results.values() if r["circuit"]["k"] >= 10]
    if per_unit:
        print(f"\nSpread of µs per unit over k >= 10: {max(per_unit) / min(per_unit):.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
