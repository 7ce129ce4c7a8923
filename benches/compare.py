#!/usr/bin/env python3
"""Side-by-side benchmark: zkml against EZKL 23.0.5 on the same ONNX files and inputs.

    python3 benches/compare.py [--quick] [--models a,b] [--out BENCHMARKS.md]

Installs EZKL and onnxruntime with pip into target/bench-venv (first run only), builds the
zkml binary in release mode, then for each model runs every stage of both systems in its own
process, measuring wall time and the process's peak resident memory (getrusage via wait4).
Both systems get public inputs and outputs and fixed parameters; EZKL is calibrated for
"resources" (and, with --accuracy, also for "accuracy").

Writes BENCHMARKS.md (tables with ratios ours / EZKL) and target/bench/results.json (every
raw figure). A stage that fails, runs out of time or exceeds the memory cap is reported with
its error in the table; the row is never dropped.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "target", "bench-venv")
PY = os.path.join(VENV, "bin", "python")
ZKML = os.path.join(ROOT, "target", "release", "zkml")
STAGE = os.path.join(ROOT, "benches", "ezkl_stage.py")
PIP = ["ezkl==23.0.5", "onnxruntime==1.31.1", "onnx==1.23.2", "numpy==2.4.6"]

FIXTURES = ["mlp_small", "mlp", "lenet", "depthwise_separable", "pytorch_style", "transformer"]
QUICK = ["mlp_small", "mlp", "pytorch_style"]
STAGE_TIMEOUT = 20 * 60
# A stage whose resident memory passes this many bytes is stopped and reported, so that a
# model too large for the machine fails one cell instead of the whole run.
MEMORY_CAP = int(os.environ.get("BENCH_MEMORY_CAP_GB", "0") or 0) * 2**30


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def memory_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(cmd, env=None, timeout=STAGE_TIMEOUT):
    """Runs `cmd` in its own process; returns wall seconds, peak RSS bytes, stdout, error."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT, text=True
    )
    out, err = [], []
    readers = [
        threading.Thread(target=lambda: out.append(proc.stdout.read())),
        threading.Thread(target=lambda: err.append(proc.stderr.read())),
    ]
    for t in readers:
        t.start()
    killed = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - start > timeout:
            killed = f"timed out after {timeout} s"
        elif MEMORY_CAP and rss(proc.pid) > MEMORY_CAP:
            killed = f"exceeded the {MEMORY_CAP / 2**30:.0f} GiB memory cap"
        if killed:
            proc.send_signal(signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    wall = time.monotonic() - start
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = "".join(out), "".join(err)
    error = killed
    if error is None and proc.returncode != 0:
        lines = [l for l in stderr.strip().splitlines() if l.strip()]
        error = (lines[-1] if lines else f"exit code {proc.returncode}")[:200]
    return {"wall_s": wall, "peak_rss": usage.ru_maxrss * 1024, "stdout": stdout, "error": error}


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {}


def ensure_tools():
    if not os.path.exists(os.path.join(VENV, ".complete")):
        log(f"installing {' '.join(PIP)} into {VENV}")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PIP], check=True)
        open(os.path.join(VENV, ".complete"), "w").close()
    log("building zkml (release)")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "zkml"], cwd=ROOT, check=True)


def float_reference(model, data):
    """onnxruntime's outputs, as flat float lists (run in the benchmark's virtualenv)."""
    code = r"""
import json, sys
import numpy as np, onnxruntime as ort
model, data = sys.argv[1:3]
inputs = json.load(open(data))["input_data"]
s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
feed = {}
for meta, flat in zip(s.get_inputs(), inputs):
    shape = [d if isinstance(d, int) else 1 for d in meta.shape]
    feed[meta.name] = np.asarray(flat, dtype=np.float32).reshape(shape)
print(json.dumps([o.astype(np.float64).ravel().tolist() for o in s.run(None, feed)]))
"""
    r = subprocess.run([PY, "-c", code, model, data], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def accuracy(outputs, reference):
    if not outputs or len(outputs) != len(reference):
        return None
    err = max(
        (abs(a - b) for o, r in zip(outputs, reference) for a, b in zip(o, r)), default=0.0
    )
    agree = all(
        max(range(len(o)), key=o.__getitem__) == max(range(len(r)), key=r.__getitem__)
        for o, r in zip(outputs, reference)
        if o
    )
    return {"max_abs_error": err, "argmax_agrees": agree}


def file_size(path):
    return os.path.getsize(path) if os.path.exists(path) else None


def run_zkml(name, model, data, work):
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, ZKML_CACHE_DIR=os.path.join(work, "cache"))
    p = lambda f: os.path.join(work, f)
    steps = [
        ("compile", [ZKML, "compile", model, "--calibration", data, "-o", p("model.zkml"), "--force", "--json"]),
        ("srs", [ZKML, "gen-srs", "--for", p("model.zkml"), "--seed", "1", "-o", p("kzg.srs"), "--force", "--json"]),
        ("setup", [ZKML, "setup", p("model.zkml"), "--srs", p("kzg.srs"), "--out", p("keys"), "--force", "--json"]),
        ("prove", [ZKML, "prove", p("model.zkml"), "--input", data, "--pk", p("keys/pk.bin"), "--srs", p("kzg.srs"),
                   "--out", work, "-o", p("proof.json"), "--force", "--json"]),
        ("verify", [ZKML, "verify", "--proof", p("proof.json"), "--vk", p("keys/vk.bin"), "--json"]),
    ]
    res = {"stages": {}}
    for stage, cmd in steps:
        log(f"zkml {name}: {stage}")
        m = measure(cmd, env=env)
        info = last_json(m.pop("stdout"))
        res["stages"][stage] = m
        if stage == "setup":
            res["circuit"] = info.get("circuit")
            res["cost_estimate"] = info.get("cost_estimate")
        if stage == "prove":
            res["outputs"] = info.get("outputs")
            res["proof_bytes"] = info.get("proof_bytes")
            res["public_values"] = info.get("public_values")
            res["prove_only_s"] = (info.get("timings") or {}).get("prove")
        if stage == "verify" and m["error"] is None and not info.get("verified"):
            m["error"] = "proof rejected"
        if m["error"]:
            res["error"] = f"{stage}: {m['error']}"
            break
    res["pk_bytes"] = file_size(p("keys/pk.bin"))
    res["vk_bytes"] = file_size(p("keys/vk.bin"))
    res["logrows"] = (res.get("circuit") or {}).get("k")
    return res


def run_ezkl(name, model, data, work, target):
    os.makedirs(work, exist_ok=True)
    res = {"stages": {}, "target": target}
    for stage in ["settings", "compile", "srs", "setup", "witness", "prove", "verify"]:
        log(f"ezkl {name} ({target}): {stage}")
        m = measure([PY, STAGE, stage, work, model, data, target])
        info = last_json(m.pop("stdout"))
        res["stages"][stage] = m
        if stage == "settings":
            res["logrows"] = info.get("logrows")
        if stage == "witness":
            res["outputs"] = info.get("outputs")
        if stage == "prove":
            res["proof_bytes"] = info.get("proof_bytes")
            res["public_values"] = info.get("instances")
        if stage == "verify" and m["error"] is None and not info.get("verified"):
            m["error"] = "proof rejected"
        if m["error"]:
            res["error"] = f"{stage}: {m['error']}"
            break
    res["pk_bytes"] = file_size(os.path.join(work, "pk.key"))
    res["vk_bytes"] = file_size(os.path.join(work, "vk.key"))
    return res


# ---- report -------------------------------------------------------------------------------


def fmt_s(v):
    return "–" if v is None else (f"{v:.2f} s" if v < 10 else f"{v:.1f} s")


def fmt_b(v):
    if v is None:
        return "–"
    for unit, scale in [("GB", 1e9), ("MB", 1e6), ("kB", 1e3)]:
        if v >= scale:
            return f"{v / scale:.2f} {unit}" if v < 10 * scale else f"{v / scale:.1f} {unit}"
    return f"{v} B"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def stage(res, *names, key="wall_s"):
    """Sum of a figure over stages (max for memory); None when any stage is missing or failed."""
    vals = []
    for n in names:
        s = res["stages"].get(n)
        if s is None or s["error"]:
            return None
        vals.append(s[key])
    return max(vals) if key == "peak_rss" else sum(vals)


def cell(res, value, fmt):
    if value is None and res.get("error"):
        return "failed"
    return fmt(value)


def report(results, args, started, elapsed):
    mem = memory_total()
    lines = [
        "# Benchmarks",
        "",
        "zkml against EZKL 23.0.5, on the same ONNX files and inputs, on the same machine, in the",
        "same run. Both systems: public inputs and outputs, fixed parameters; EZKL calibrated for",
        '"resources". Every stage runs in its own process; times are wall-clock seconds of that',
        "process (loading keys and SRS included) and memory is the process's peak resident set.",
        "Ratios are ours / EZKL (below 1 is better for us).",
        "",
        "Produced by:",
        "",
        "```sh",
        "python3 benches/compare.py" + (" --quick" if args.quick else "") + (" --accuracy" if args.accuracy else ""),
        "```",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), {mem / 2**30:.1f} GiB memory, "
        f"{platform.system()} {platform.release()}. Run started {started}, took {elapsed / 60:.1f} min.",
        "",
        "Stages. zkml: `compile` (ONNX import and calibration), `gen-srs --for`, `setup`",
        "(circuit sizing, key generation), `prove --pk` (witness, proof, and a check of the proof),",
        "`verify`. EZKL: `gen_settings` + `calibrate_settings`, `compile_circuit`, `gen_srs`, `setup`,",
        "`gen_witness` + `prove`, `verify`. The SRS is generated locally by both (testing only) and",
        "is not counted in setup.",
        "",
        "## Time",
        "",
        "| model | logrows (ours / EZKL) | compile ours | compile EZKL | setup ours | setup EZKL | ratio | prove ours | prove EZKL | ratio | verify ours | verify EZKL | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        z, e = r["zkml"], r["ezkl"]
        zc, ec = stage(z, "compile"), stage(e, "settings", "compile")
        zs, es = stage(z, "setup"), stage(e, "setup")
        zp, ep = stage(z, "prove"), stage(e, "witness", "prove")
        zv, ev = stage(z, "verify"), stage(e, "verify")
        lines.append(
            f"| {name} | {z.get('logrows') or '–'} / {e.get('logrows') or '–'} | {cell(z, zc, fmt_s)} | {cell(e, ec, fmt_s)} "
            f"| {cell(z, zs, fmt_s)} | {cell(e, es, fmt_s)} | {ratio(zs, es)} "
            f"| {cell(z, zp, fmt_s)} | {cell(e, ep, fmt_s)} | {ratio(zp, ep)} "
            f"| {cell(z, zv, fmt_s)} | {cell(e, ev, fmt_s)} | {ratio(zv, ev)} |"
        )
    lines += [
        "",
        "## Peak memory",
        "",
        "| model | setup ours | setup EZKL | ratio | prove ours | prove EZKL | ratio | largest stage ours | largest stage EZKL | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        z, e = r["zkml"], r["ezkl"]
        zs, es = stage(z, "setup", key="peak_rss"), stage(e, "setup", key="peak_rss")
        zp, ep = stage(z, "prove", key="peak_rss"), stage(e, "prove", key="peak_rss")
        za = max((s["peak_rss"] for s in z["stages"].values()), default=None)
        ea = max((s["peak_rss"] for s in e["stages"].values()), default=None)
        lines.append(
            f"| {name} | {cell(z, zs, fmt_b)} | {cell(e, es, fmt_b)} | {ratio(zs, es)} "
            f"| {cell(z, zp, fmt_b)} | {cell(e, ep, fmt_b)} | {ratio(zp, ep)} "
            f"| {fmt_b(za)} | {fmt_b(ea)} | {ratio(za, ea)} |"
        )
    lines += [
        "",
        "## Sizes",
        "",
        "| model | public values (ours / EZKL) | proof ours | proof EZKL | ratio | pk ours | pk EZKL | ratio | vk ours | vk EZKL | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        z, e = r["zkml"], r["ezkl"]
        lines.append(
            f"| {name} | {z.get('public_values') or '–'} / {e.get('public_values') or '–'} "
            f"| {fmt_b(z.get('proof_bytes'))} | {fmt_b(e.get('proof_bytes'))} | {ratio(z.get('proof_bytes'), e.get('proof_bytes'))} "
            f"| {fmt_b(z.get('pk_bytes'))} | {fmt_b(e.get('pk_bytes'))} | {ratio(z.get('pk_bytes'), e.get('pk_bytes'))} "
            f"| {fmt_b(z.get('vk_bytes'))} | {fmt_b(e.get('vk_bytes'))} | {ratio(z.get('vk_bytes'), e.get('vk_bytes'))} |"
        )
    lines += [
        "",
        "## Accuracy against onnxruntime",
        "",
        "Max absolute error of the proven outputs against onnxruntime's float outputs, and whether",
        "the arg-max of each output agrees.",
        "",
        "| model | largest abs output | max abs error ours | max abs error EZKL | ratio | arg-max ours | arg-max EZKL |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        z, e = r["zkml"].get("accuracy"), r["ezkl"].get("accuracy")
        big = max((abs(v) for o in r.get("reference") or [] for v in o), default=None)
        fe = lambda a: "failed" if a is None else f"{a['max_abs_error']:.4g}"
        fa = lambda a: "–" if a is None else ("yes" if a["argmax_agrees"] else "no")
        lines.append(
            f"| {name} | {'–' if big is None else f'{big:.3g}'} | {fe(z)} | {fe(e)} "
            f"| {ratio(z and z['max_abs_error'], e and e['max_abs_error'])} | {fa(z)} | {fa(e)} |"
        )
    acc = {n: r["ezkl_accuracy"] for n, r in results.items() if "ezkl_accuracy" in r}
    if acc:
        lines += [
            "",
            '## EZKL calibrated for "accuracy"',
            "",
            "| model | logrows | setup | prove | prove peak memory | max abs error | ours: prove ratio | ours: error ratio |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, a in acc.items():
            z = results[name]["zkml"]
            ap = stage(a, "witness", "prove")
            zp = stage(z, "prove")
            ae = a.get("accuracy") and a["accuracy"]["max_abs_error"]
            ze = z.get("accuracy") and z["accuracy"]["max_abs_error"]
            lines.append(
                f"| {name} | {a.get('logrows') or '–'} | {cell(a, stage(a, 'setup'), fmt_s)} | {cell(a, ap, fmt_s)} "
                f"| {cell(a, stage(a, 'prove', key='peak_rss'), fmt_b)} | {'failed' if ae is None else f'{ae:.4g}'} "
                f"| {ratio(zp, ap)} | {ratio(ze, ae)} |"
            )
    lines += [
        "",
        "## Cost model",
        "",
        "`zkml setup` picks the circuit shape (rows 2^k, lanes, lookup streams) minimising the cost",
        "model in `circuits/src/cost.rs`. If the model is right, measured proving time per unit of",
        "estimated cost is roughly constant across models:",
        "",
        "| model | k | lanes | range streams | table streams | estimate (units) | prove (s) | µs per unit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        z = r["zkml"]
        c, est, t = z.get("circuit"), z.get("cost_estimate"), z.get("prove_only_s")
        if not c or not est or t is None:
            lines.append(f"| {name} | failed | | | | | | |")
            continue
        lines.append(
            f"| {name} | {c['k']} | {c['lanes']} | {c['range_streams']} | {c['table_streams']} "
            f"| {est:,.0f} | {t:.2f} | {t / est * 1e6:.3f} |"
        )
    errors = [
        (name, sys_name, r[key]["error"])
        for name, r in results.items()
        for sys_name, key in [("zkml", "zkml"), ("EZKL", "ezkl"), ("EZKL accuracy", "ezkl_accuracy")]
        if key in r and r[key].get("error")
    ]
    if errors:
        lines += ["", "## Failures", ""]
        lines += [f"- {name}, {s}: {err}" for name, s, err in errors]
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    ap.add_argument("--models", help="comma-separated fixture names or paths to model directories")
    ap.add_argument("--accuracy", action="store_true", help='also run EZKL calibrated for "accuracy"')
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = ap.parse_args()
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.monotonic()
    ensure_tools()
    names = args.models.split(",") if args.models else (QUICK if args.quick else FIXTURES)
    work = os.path.join(ROOT, "target", "bench")
    results = {}
    for name in names:
        d = name if os.path.isdir(name) else os.path.join(ROOT, "fixtures", name)
        if name == "large":
            d = os.path.join(work, "large-model")
            subprocess.run([PY, os.path.join(ROOT, "benches", "large_model.py"), d], check=True)
        name = os.path.basename(os.path.normpath(d)) if os.path.isdir(name) else name
        model, data = os.path.join(d, "model.onnx"), os.path.join(d, "input.json")
        reference = float_reference(model, data)
        r = {"reference": reference}
        r["zkml"] = run_zkml(name, model, data, os.path.join(work, name, "zkml"))
        r["ezkl"] = run_ezkl(name, model, data, os.path.join(work, name, "ezkl"), "resources")
        if args.accuracy:
            r["ezkl_accuracy"] = run_ezkl(name, model, data, os.path.join(work, name, "ezkl-accuracy"), "accuracy")
        for key in ["zkml", "ezkl", "ezkl_accuracy"]:
            if key in r:
                r[key]["accuracy"] = accuracy(r[key].get("outputs"), reference)
        results[name] = r
        with open(os.path.join(work, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
    text = report(results, args, started, time.monotonic() - t0)
    with open(args.out, "w") as f:
        f.write(text)
    log(f"wrote {args.out} and {os.path.join(work, 'results.json')}")


if __name__ == "__main__":
    main()
