#!/usr/bin/env python3
"""halo2 against Groth16 on the fixtures, in one run, through the release `zkml` binary.

For each fixture and backend, with a fresh key cache: one-shot `zkml prove` (keys generated),
the same again (cached keys: the proving time a node pays per inference), `zkml verify`, and
`create-evm-verifier` + `verify-evm`. Prints a Markdown table of constraints or rows, key
generation and prove times, peak memory (the whole process, from /usr/bin/time), proof and key
sizes, verify time and EVM gas.

    cargo build --release --bin zkml
    python3 benches/backends.py [--hashed] [FIXTURE ...]

With --hashed, inputs and outputs are hashed (one public value each: their Poseidon hashes).
"""

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZKML = os.environ.get("ZKML_BIN", os.path.join(ROOT, "target", "release", "zkml"))
DEFAULT = ["mlp_small", "mlp", "lenet", "depthwise_separable", "transformer", "pytorch_style"]


def run(args, env):
    """Runs zkml with --json under /usr/bin/time; returns (JSON, peak RSS in bytes)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", t.name, ZKML, *args, "--json"],
            env=env, capture_output=True, text=True,
        )
        if p.returncode != 0:
            sys.exit(f"zkml {' '.join(args)} failed:\n{p.stderr}")
        peak = int(t.read().strip().splitlines()[-1]) * 1024
    return json.loads(p.stdout), peak


def mb(b):
    return f"{b / 1e6:.1f} MB" if b < 1e9 else f"{b / 1e9:.2f} GB"


def measure(name, backend, work, extra):
    fixture = os.path.join(ROOT, "fixtures", name)
    env = dict(os.environ, ZKML_CACHE_DIR=os.path.join(work, "cache-" + backend))
    out = os.path.join(work, f"{name}-{backend}")
    prove = ["prove", os.path.join(fixture, "model.onnx"), "--input",
             os.path.join(fixture, "input.json"), "--backend", backend, "--out", out, "--force",
             *extra]
    first, first_peak = run(prove, env)
    again, again_peak = run(prove, env)
    keygen = sum(v for k, v in first["timings"].items() if k.startswith("generate keys"))
    srs = sum(v for k, v in first["timings"].items() if "SRS" in k)
    prove_s = sum(v for k, v in again["timings"].items() if k.startswith("prove"))
    verify, _ = run(["verify", "--proof", os.path.join(out, "proof.json"),
                     "--vk", os.path.join(out, "vk.bin")], env)
    evm = os.path.join(out, "evm")
    run(["create-evm-verifier", "--vk", os.path.join(out, "vk.bin"), "--out", evm, "--force"], env)
    onchain, _ = run(["verify-evm", "--proof", os.path.join(out, "proof.json"), "--verifier", evm],
                     env)
    assert first["verified"] and again["verified"] and verify["verified"] and onchain["verified"]
    size = again.get("constraints")
    if size is None:
        size = f"2^{again['circuit']['k']} rows"
    else:
        size = f"{size:,} constraints"
    pk = os.path.getsize(first["pk"])
    return {
        "size": size, "keygen": keygen + srs, "first_total": sum(first["timings"].values()),
        "first_peak": first_peak, "prove": prove_s, "prove_peak": again_peak,
        "proof": again["proof_bytes"], "pk": pk, "vk": os.path.getsize(os.path.join(out, "vk.bin")),
        "verify": verify["seconds"], "gas": onchain["gas_used"],
        "public": again["public_values"], "outputs": again["outputs"],
    }


def main():
    args = sys.argv[1:]
    extra = []
    if "--hashed" in args:
        args.remove("--hashed")
        extra = ["--input-visibility", "hashed", "--output-visibility", "hashed"]
    names = args or DEFAULT
    print("| fixture | backend | size | SRS + keys | one-shot total | peak (one-shot) | prove, cached keys "
          "| peak (cached) | proof | pk | vk | verify | EVM gas | public values |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            rows = {b: measure(name, b, work, extra) for b in ("halo2", "groth16")}
            assert rows["halo2"]["outputs"] == rows["groth16"]["outputs"], name
            for b, r in rows.items():
                print(f"| {name} | {b} | {r['size']} | {r['keygen']:.2f} s | {r['first_total']:.2f} s "
                      f"| {mb(r['first_peak'])} | {r['prove']:.2f} s | {mb(r['prove_peak'])} "
                      f"| {r['proof']:,} B | {mb(r['pk'])} | {r['vk']:,} B | {r['verify'] * 1e3:.1f} ms "
                      f"| {r['gas']:,} | {r['public']} |", flush=True)


if __name__ == "__main__":
    main()
