#!/usr/bin/env python3
"""The scale set: models people run, proven one shot with fresh keys, against a baseline build.

    python3 benches/scale.py --make [--python PY]
    python3 benches/scale.py [--baseline BIN] [--models a,b] [--cap S] [--ezkl] [--out BENCHMARKS.md]

--make writes the models into target/bench/scale/ with torch and torchvision (PY, default the
running interpreter): torchvision's MobileNetV2, ResNet-18 and EfficientNet-B0 with seeded
weights at a 32x32 input (1000 classes, as published), and a 2-layer transformer encoder
(width 128, 4 heads, feed-forward 512, 64 tokens). Same seeds, same files.

Each model is then proven one shot (`zkml prove model.onnx --input in.json`: import,
calibration, circuit sizing, SRS, fresh keys, proof, verification) by this build
(target/release/zkml) and, with --baseline, by another build in the same run (for example the
previous main), each in its own process with its own empty cache, measuring wall time per
stage and peak resident memory. Every proof is verified again by `zkml verify`. With --ezkl
EZKL 23.0.5 runs the same model within the cap (benches/compare.py's harness).

Writes the "Scale set" section of BENCHMARKS.md (below the keep marker, replacing an earlier
one) and target/bench/scale.json.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the shared measurement harness)

ROOT = compare.ROOT
DIR = os.path.join(ROOT, "target", "bench", "scale")
MODELS = ["transformer_64", "mobilenet_v2", "resnet18", "efficientnet_b0"]
SEED = 20261203
MARKER = "<!-- Everything below this line is kept when benches/compare.py rewrites the file. -->"

MAKE = r"""
import json, sys, torch
out, names = sys.argv[1], sys.argv[2].split(",")
for name in names:
    torch.manual_seed(%d)
    if name == "transformer_64":
        layer = torch.nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=512,
                                                 batch_first=True, dropout=0.0)
        m = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
        x = torch.randn(1, 64, 128)
    else:
        import torchvision
        m = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.rand(1, 3, 32, 32)
    torch.onnx.export(m, (x,), f"{out}/{name}.onnx", input_names=["input"],
                      output_names=["output"], opset_version=17, dynamo=False)
    json.dump({"input_data": [x.flatten().tolist()]}, open(f"{out}/{name}.json", "w"))
    print(name, sum(p.numel() for p in m.parameters()))
""" % SEED


def make(python, names):
    os.makedirs(DIR, exist_ok=True)
    subprocess.run([python, "-c", MAKE, DIR, ",".join(names)], check=True)


def paths(name):
    """The model and input of a scale-set model, or of a fixture (to check that the fixtures
    do not get slower)."""
    fixture = os.path.join(ROOT, "fixtures", name)
    if os.path.exists(os.path.join(fixture, "model.onnx")):
        return os.path.join(fixture, "model.onnx"), os.path.join(fixture, "input.json")
    return os.path.join(DIR, f"{name}.onnx"), os.path.join(DIR, f"{name}.json")


def one_shot(binary, name, work, cap):
    """`prove` one shot with an empty cache, then `verify`; per-stage seconds and peak memory."""
    compare.fresh_dir(work)
    env = dict(os.environ, ZKML_CACHE_DIR=os.path.join(work, "cache"))
    model, data = paths(name)
    proof = os.path.join(work, "proof.json")
    compare.log(f"{name}: {binary} prove")
    m = compare.measure(
        [binary, "prove", model, "--input", data, "-o", proof, "--out", work, "--json"],
        env=env,
        timeout=cap,
    )
    info = compare.last_json(m.pop("stdout"))
    res = {
        "wall_s": m["wall_s"],
        "peak_rss": m["peak_rss"],
        "error": m["error"],
        "timings": info.get("timings") or {},
        "circuit": info.get("circuit"),
        "proof_bytes": info.get("proof_bytes"),
    }
    if info.get("segments"):
        # Proven as a chain of segments (over the memory budget): the chain file names its keys.
        res["circuit"] = {"k": "/".join(str(s["k"]) for s in info["segments"])}
    if m["error"] is None:
        pin = [] if info.get("segments") else ["--vk", os.path.join(work, "vk.bin")]
        v = compare.measure([binary, "verify", "--proof", proof, *pin, "--json"], env=env)
        ok = compare.last_json(v.pop("stdout")).get("verified")
        res["verify_s"] = v["wall_s"]
        if v["error"] or not ok:
            res["error"] = f"verify: {v['error'] or 'proof rejected'}"
    return res


def fmt(v, unit="s"):
    if v is None:
        return "-"
    return f"{v:.1f} {unit}" if unit == "s" else f"{v / 1e9:.2f} GB"


def stage(res, *names):
    """Seconds of the stages named, summed over a chain's segments ("segment 2/6: prove")."""
    t = res.get("timings") or {}
    bare = lambda k: k.split(": ", 1)[1] if k.startswith("segment ") and ": " in k else k
    vals = [v for k, v in t.items() if any(bare(k) == n or bare(k).startswith(n + " (") for n in names)]
    return sum(vals) if vals else None


def row(name, label, res):
    if res is None:
        return None
    err = res.get("error")
    c = res.get("circuit") or {}
    k = c.get("k", "-")
    if err and not res.get("timings"):
        return f"| {name} | {label} | - | - | - | - | - | {fmt(res['wall_s'])} ({err}) | - |"
    return (
        f"| {name} | {label} | {k} | {fmt(stage(res, 'size circuit'))} | "
        f"{fmt(stage(res, 'load SRS', 'generate SRS'))} | "
        f"{fmt(stage(res, 'generate keys', 'cache keys', 'load cached keys'))} | "
        f"{fmt(stage(res, 'prove'))} | {fmt(res['wall_s'])}{' (' + err + ')' if err else ''} | "
        f"{fmt(res['peak_rss'], 'GB')} |"
    )


def ratio(a, b):
    if a is None or b is None or a.get("error") or b.get("error"):
        return "-"
    return f"{a['wall_s'] / b['wall_s']:.2f}"


def report(results, args, started):
    lines = [
        "## Scale set",
        "",
        f"Made by `python3 benches/scale.py{' --baseline BIN' if args.baseline else ''}"
        f" --models {args.models} --cap {args.cap}`"
        f"{' (BIN: ' + args.baseline_label + ')' if args.baseline else ''}"
        f" on {started:%Y-%m-%d}; {compare.cpu_model()}, {os.cpu_count()} cores, "
        f"{compare.memory_total() / 2**30:.0f} GiB. One-shot `zkml prove model.onnx` with an empty "
        "cache (circuit sizing, SRS, fresh keys, proof, verification), each in its own process; "
        f"runs stopped at {args.cap} s are marked. Models: torchvision architectures with seeded "
        "weights at 32x32 (1000 classes) and a 2-layer transformer encoder (width 128, 4 heads, "
        "64 tokens).",
        "",
        "| model | build | k | size circuit | SRS | keys | prove | total | peak memory |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        for label in ("baseline", "this build"):
            line = row(name, label, r.get(label))
            if line:
                lines.append(line)
    if args.baseline:
        lines += ["", "| model | total, this / baseline | prove, this / baseline | peak memory, this / baseline |", "|---|---|---|---|"]
        for name, r in results.items():
            a, b = r.get("this build"), r.get("baseline")
            if not a or not b or a.get("error") or b.get("error"):
                lines.append(f"| {name} | - | - | - |")
                continue
            pa, pb = stage(a, "prove"), stage(b, "prove")
            lines.append(
                f"| {name} | {a['wall_s'] / b['wall_s']:.2f} | "
                f"{(pa / pb) if pa and pb else float('nan'):.2f} | {a['peak_rss'] / b['peak_rss']:.2f} |"
            )
    if any(r.get("ezkl") for r in results.values()):
        lines += ["", "| model | EZKL 23.0.5 |", "|---|---|"]
        for name, r in results.items():
            e = r.get("ezkl")
            if e:
                total = sum(s["wall_s"] for s in e["stages"].values())
                lines.append(f"| {name} | {e.get('error') or f'{total:.1f} s'} |")
    return "\n".join(lines) + "\n"


def write_section(path, section):
    text = open(path).read() if os.path.exists(path) else ""
    head, sep, tail = text.partition(MARKER)
    if not sep:
        head, tail = text, ""
    start = tail.find("## Scale set")
    if start >= 0:
        end = tail.find("\n## ", start + 1)
        tail = tail[:start] + (tail[end + 1:] if end >= 0 else "")
    tail = tail.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(head + sep + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--make", action="store_true", help="write the models (needs torch and torchvision)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch for --make")
    ap.add_argument("--models", default=",".join(MODELS), help="scale-set models or fixture names")
    ap.add_argument("--baseline", help="another zkml binary to run in the same run (e.g. the previous main)")
    ap.add_argument("--baseline-label", default="BIN", help="how the baseline is named in the report")
    ap.add_argument("--cap", type=int, default=900, help="seconds per one-shot run")
    ap.add_argument("--ezkl", action="store_true", help="also run EZKL 23.0.5 within the cap")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = ap.parse_args()
    names = args.models.split(",")
    if args.make:
        make(args.python, names)
        return
    started = datetime.datetime.now()
    results = {}
    work = os.path.join(ROOT, "target", "bench", "scale-runs")
    for name in names:
        r = {}
        if args.baseline:
            r["baseline"] = one_shot(os.path.abspath(args.baseline), name, os.path.join(work, name, "baseline"), args.cap)
        r["this build"] = one_shot(compare.ZKML, name, os.path.join(work, name, "this"), args.cap)
        if args.ezkl:
            compare.ensure_tools()
            r["ezkl"] = compare.run_ezkl(
                name, *paths(name),
                os.path.join(work, name, "ezkl"), "resources", budget=args.cap, evm=False,
            )
        results[name] = r
        with open(os.path.join(ROOT, "target", "bench", "scale.json"), "w") as f:
            json.dump(results, f, indent=1, default=str)
    section = report(results, args, started)
    write_section(args.out, section)
    print(section)


if __name__ == "__main__":
    main()
