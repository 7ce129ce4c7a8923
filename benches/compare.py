#!/usr/bin/env python3
"""Side-by-side benchmark: zkml against EZKL 23.0.5 on the same ONNX files and inputs.

    python3 benches/compare.py [--quick] [--models a,b] [--no-accuracy] [--out BENCHMARKS.md]

Installs EZKL and onnxruntime with pip into target/bench-venv and the pinned solc with npm
(first run only), builds zkml and the EVM gas probe in release mode, then for each model runs
every stage of both systems in its own process, measuring wall time and the process's peak
resident memory (getrusage via wait4). Both systems get public inputs and outputs and fixed
parameters; EZKL is calibrated for "resources", and then, within a 15-minute cap per model,
for "accuracy". Both systems' Solidity verifiers are compiled with the same pinned solc and
called with their real proofs in the same in-process EVM.

Models: every fixture and a larger MLP (benches/large_model.py); --quick runs three small
fixtures and finishes within 10 minutes, the full run within 60.

Writes BENCHMARKS.md (tables with ratios ours / EZKL; what follows the file's keep marker is
kept) and target/bench/results.json (every raw figure). A stage that fails, runs out of time or exceeds the memory cap is reported with
its error in the table; the row is never dropped.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "target", "bench-venv")
PY = os.path.join(VENV, "bin", "python")
ZKML = os.path.join(ROOT, "target", "release", "zkml")
EVM_GAS = os.path.join(ROOT, "target", "release", "evm-gas")
STAGE = os.path.join(ROOT, "benches", "ezkl_stage.py")
PIP = ["ezkl==23.0.5", "onnxruntime==1.31.1", "onnx==1.23.2", "numpy==2.4.6"]

FIXTURES = ["mlp_small", "mlp", "lenet", "depthwise_separable", "pytorch_style", "transformer"]
# Not a fixture: a larger model, written by benches/large_model.py, that EZKL takes minutes on.
LARGE = "mlp_large"
FULL = FIXTURES + [LARGE]
QUICK = ["mlp_small", "mlp", "pytorch_style"]
STAGE_TIMEOUT = 20 * 60
# EZKL calibrated for "accuracy" is reported where it finishes within this.
ACCURACY_CAP = 15 * 60
# Wall-clock budgets of the whole run; EZKL's "accuracy" runs come last and are skipped (and
# reported as skipped) once the budget would be overrun.
BUDGET = {"quick": 10 * 60, "full": 60 * 60}


def memory_cap():
    """A stage whose resident memory passes this many bytes is stopped and reported, so that
    a model too large for the machine fails one cell instead of the whole run (default: 90%
    of the machine's memory; BENCH_MEMORY_CAP_GB overrides)."""
    gb = os.environ.get("BENCH_MEMORY_CAP_GB")
    if gb:
        return int(float(gb) * 2**30)
    return int(memory_total() * 0.9)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def memory_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


MEMORY_CAP = memory_cap()


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
            killed = f"exceeded the {MEMORY_CAP / 2**30:.1f} GiB memory cap"
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
    if not os.path.exists(os.path.join(ROOT, "contracts", "node_modules", "solc", "soljson.js")):
        log("installing the pinned solc (npm ci --prefix contracts)")
        subprocess.run(["npm", "ci", "--prefix", "contracts", "--no-audit", "--no-fund"], cwd=ROOT, check=True)
    log("building zkml and the EVM gas probe (release)")
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "zkml", "--bin", "evm-gas"], cwd=ROOT, check=True
    )


def float_reference(model, data):
    """onnxruntime's outputs, as flat float lists (run in the benchmark's virtualenv)."""
    code = r"""
import json, sys
import numpy as np, onnxruntime as ort
model, data = sys.argv[1:3]
inputs = json.load(open(data))["input_data"]
s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
types = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
         "tensor(double)": np.float64}
feed = {}
for meta, flat in zip(s.get_inputs(), inputs):
    shape = [d if isinstance(d, int) else 1 for d in meta.shape]
    feed[meta.name] = np.asarray(flat, dtype=types.get(meta.type, np.float32)).reshape(shape)
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


def fresh_dir(path):
    """An empty directory: figures never come from an earlier run's files."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def run_zkml(name, model, data, work):
    fresh_dir(work)
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
            res["prove_only_s"] = next(
                (v for k, v in (info.get("timings") or {}).items() if k.split(" (")[0] == "prove"), None
            )
        if stage == "verify" and m["error"] is None and not info.get("verified"):
            m["error"] = "proof rejected"
        if m["error"]:
            res["error"] = f"{stage}: {m['error']}"
            break
    res["pk_bytes"] = file_size(p("keys/pk.bin"))
    res["vk_bytes"] = file_size(p("keys/vk.bin"))
    res["logrows"] = (res.get("circuit") or {}).get("k")
    if not res.get("error"):
        res["evm"] = zkml_evm(name, work, env, "keys", p("proof.json"))
        res["evm_gas_shape"] = zkml_evm_shape(name, data, work, env)
    return res


def zkml_evm(name, work, env, keys, proof):
    """`create-evm-verifier` then `verify-evm`: gas and sizes, or the error."""
    p = lambda f: os.path.join(work, f)
    out = p(keys + "-evm")
    log(f"zkml {name}: EVM verifier ({keys})")
    m = measure([ZKML, "create-evm-verifier", "--vk", p(keys + "/vk.bin"), "--out", out, "--force", "--json"], env=env)
    info = last_json(m["stdout"])
    if m["error"]:
        return {"error": f"create-evm-verifier: {m['error']}"}
    m = measure([ZKML, "verify-evm", "--proof", proof, "--verifier", out, "--json"], env=env)
    r, _ = evm_outcome(m, "verify-evm")
    r.update(runtime_bytes=info.get("runtime_size"), key_bytes=info.get("key_size"))
    return r


def evm_outcome(m, what):
    """The gas and verdict a verifier call printed, and the call's own JSON."""
    run = last_json(m["stdout"])
    r = {"gas": run.get("gas_used"), "verified": run.get("verified")}
    if not run.get("verified"):
        r["error"] = f"{what}: {run.get('error') or m['error'] or 'returned false'}"
    return r, run


def zkml_evm_shape(name, data, work, env):
    """The same model set up with `--optimize evm-gas`, proved, and verified in the EVM."""
    p = lambda f: os.path.join(work, f)
    for stage, cmd in [
        # No --srs: the SRS for this shape's size is generated into the run's cache.
        ("setup", [ZKML, "setup", p("model.zkml"), "--optimize", "evm-gas", "--out", p("keys-gas"),
                   "--force", "--json"]),
        ("prove", [ZKML, "prove", p("model.zkml"), "--input", data, "--pk", p("keys-gas/pk.bin"), "--out", work,
                   "-o", p("proof-gas.json"), "--force", "--json"]),
    ]:
        log(f"zkml {name}: {stage} --optimize evm-gas")
        m = measure(cmd, env=env)
        if m["error"]:
            return {"error": f"{stage} --optimize evm-gas: {m['error']}"}
        if stage == "setup":
            circuit = last_json(m["stdout"]).get("circuit")
    r = zkml_evm(name, work, env, "keys-gas", p("proof-gas.json"))
    r["circuit"] = circuit
    return r


def run_ezkl(name, model, data, work, target, budget=None, evm=True):
    """EZKL's stages; with `budget` (seconds), the stages together get at most that long."""
    fresh_dir(work)
    res = {"stages": {}, "target": target}
    start = time.monotonic()
    for stage in ["settings", "compile", "srs", "setup", "witness", "prove", "verify"]:
        log(f"ezkl {name} ({target}): {stage}")
        timeout = STAGE_TIMEOUT
        if budget is not None:
            timeout = min(timeout, max(1, budget - (time.monotonic() - start)))
        env = dict(os.environ, EZKL_SRS_CACHE=os.path.join(ROOT, "target", "bench", "ezkl-srs"))
        m = measure([PY, STAGE, stage, work, model, data, target], env=env, timeout=timeout)
        if budget is not None and m["error"] and m["error"].startswith("timed out"):
            m["error"] = f"did not finish within {budget / 60:.0f} minutes (stopped in {stage})"
        info = last_json(m.pop("stdout"))
        res["stages"][stage] = m
        if stage == "settings":
            res["logrows"] = info.get("logrows")
            res["scales"] = info.get("scales")
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
    if evm and not res.get("error"):
        res["evm"] = ezkl_evm(name, model, data, work)
    return res


def ezkl_evm(name, model, data, work):
    """EZKL's Solidity verifier, compiled with zkml's pinned solc and run in the same EVM."""
    log(f"ezkl {name}: EVM verifier")
    m = measure([PY, STAGE, "evm", work, model, data])
    if m["error"]:
        return {"error": f"create_evm_verifier: {m['error']}"}
    m = measure([EVM_GAS, "--source", os.path.join(work, "Verifier.sol"), "--contract", "Halo2Verifier",
                 "--calldata", os.path.join(work, "calldata.bin")])
    r, run = evm_outcome(m, "EVM call")
    r.update(runtime_bytes=run.get("runtime_bytes"), tampered_rejected=run.get("tampered_rejected"))
    return r


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
        "python3 benches/compare.py" + (" --quick" if args.quick else "") + (" --no-accuracy" if args.no_accuracy else "")
        + (f" --models {args.models}" if args.models else ""),
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
        "Models: the fixtures (`fixtures/`, see the README) and `mlp_large`, an MLP 784-512-256-10 with",
        "535,818 weights written by `benches/large_model.py`.",
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
        # The largest stage of a system that failed part way is not comparable.
        za = None if z.get("error") else max((s["peak_rss"] for s in z["stages"].values()), default=None)
        ea = None if e.get("error") else max((s["peak_rss"] for s in e["stages"].values()), default=None)
        lines.append(
            f"| {name} | {cell(z, zs, fmt_b)} | {cell(e, es, fmt_b)} | {ratio(zs, es)} "
            f"| {cell(z, zp, fmt_b)} | {cell(e, ep, fmt_b)} | {ratio(zp, ep)} "
            f"| {cell(z, za, fmt_b)} | {cell(e, ea, fmt_b)} | {ratio(za, ea)} |"
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
            f"EZKL's `calibrate_settings` with target \"accuracy\" (larger scales), each model capped at",
            f"{ACCURACY_CAP // 60} minutes for all its stages; compared with our single (default) configuration.",
            "",
            "| model | logrows | scales (input, param) | setup | prove | prove peak memory | max abs error | arg-max | prove ratio ours / EZKL | error ratio ours / EZKL |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, a in acc.items():
            z = results[name]["zkml"]
            if a.get("skipped"):
                lines.append(f"| {name} | not run: {a['skipped']} | | | | | | | | |")
                continue
            ap = stage(a, "witness", "prove")
            zp = stage(z, "prove")
            ae = a.get("accuracy") and a["accuracy"]["max_abs_error"]
            ze = z.get("accuracy") and z["accuracy"]["max_abs_error"]
            sc = a.get("scales") or []
            agree = "–" if not a.get("accuracy") else ("yes" if a["accuracy"]["argmax_agrees"] else "no")
            lines.append(
                f"| {name} | {a.get('logrows') or '–'} | {', '.join(str(v) for v in sc) or '–'} "
                f"| {cell(a, stage(a, 'setup'), fmt_s)} | {cell(a, ap, fmt_s)} "
                f"| {cell(a, stage(a, 'prove', key='peak_rss'), fmt_b)} | {'failed' if ae is None else f'{ae:.4g}'} "
                f"| {agree} | {ratio(zp, ap)} | {ratio(ze, ae)} |"
            )
    lines += [
        "",
        "## EVM verification gas",
        "",
        "Both verifiers compiled with the same pinned solc (0.8.28, optimizer on, 200 runs) and called",
        "with their real proofs in the same in-process EVM (revm, current mainnet rules); gas is the",
        "whole transaction's, the 21,000 base and the calldata included. Ours: `zkml create-evm-verifier`",
        "+ `zkml verify-evm`, for the key above (default shape) and for a key set up with",
        "`--optimize evm-gas`. EZKL: the `Verifier.sol` its `create_evm_verifier` writes (it then fails",
        "trying to download a compiler), called with `encode_evm_calldata`'s calldata; the harness also",
        "checks that EZKL's contract rejects the same call with the last public value changed by one.",
        "",
        "| model | gas ours (default) | gas ours (evm-gas) | gas EZKL | ratio (evm-gas) | ratio (default) | runtime ours (default / evm-gas) | runtime EZKL | EZKL rejects tampered |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        zd, zg, ev = (r["zkml"].get("evm") or {}), (r["zkml"].get("evm_gas_shape") or {}), (r["ezkl"].get("evm") or {})
        g = lambda e: "failed" if e.get("error") or e.get("gas") is None else f"{e['gas']:,}"
        sz = lambda e: "–" if e.get("runtime_bytes") is None else f"{e['runtime_bytes']:,} B"
        ok = lambda e: e.get("gas") if not e.get("error") else None
        rej = {True: "yes", False: "NO"}.get(ev.get("tampered_rejected"), "–")
        lines.append(
            f"| {name} | {g(zd)} | {g(zg)} | {g(ev)} | {ratio(ok(zg), ok(ev))} | {ratio(ok(zd), ok(ev))} "
            f"| {sz(zd)} / {sz(zg)} | {sz(ev)} | {rej} |"
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
    errors += [
        (name, label, r[key][sub]["error"])
        for name, r in results.items()
        for key, sub, label in [("zkml", "evm", "zkml EVM"), ("zkml", "evm_gas_shape", "zkml EVM (evm-gas)"),
                                ("ezkl", "evm", "EZKL EVM")]
        if (r[key].get(sub) or {}).get("error")
    ]
    lines += targets(results)
    if errors:
        lines += ["", "## Failures", ""]
        lines += [f"- {name}, {s}: {err}" for name, s, err in errors]
    lines.append("")
    return "\n".join(lines)


def targets(results):
    """The ratio targets the project has set itself, each met or reported with the reason."""
    def worst(fn):
        vals = {n: fn(r) for n, r in results.items()}
        return vals, [n for n, v in vals.items() if v is None]

    def rat(a, b):
        return None if a is None or b is None or not b else a / b

    lines = ["", "## Targets", ""]
    prove, _ = worst(lambda r: rat(stage(r["zkml"], "prove"), stage(r["ezkl"], "witness", "prove")))
    mem, _ = worst(lambda r: rat(
        max((s["peak_rss"] for s in r["zkml"]["stages"].values()), default=None) if not r["zkml"].get("error") else None,
        max((s["peak_rss"] for s in r["ezkl"]["stages"].values()), default=None) if not r["ezkl"].get("error") else None,
    ))

    def verdict(label, vals, limit):
        bad = [n for n, v in vals.items() if v is None or v > limit]
        known = [v for v in vals.values() if v is not None]
        span = f"{min(known):.3g} to {max(known):.3g}" if known else "no figures"
        if not bad:
            return f"- {label} at most {limit} on every model: **met** ({span})."
        why = ", ".join(f"{n} ({'failed' if vals[n] is None else f'{vals[n]:.3g}'})" for n in bad)
        return f"- {label} at most {limit} on every model: **not met** on {why}; others {span}."

    lines.append(verdict("Prove time ratio", prove, 0.2))
    lines.append(verdict("Peak memory ratio (largest stage)", mem, 0.5))
    small = {n: (r["zkml"].get("evm_gas_shape") or {}).get("gas") for n, r in results.items()
             if (r["zkml"].get("public_values") or 0) <= 64}
    if small:
        bad = {n: g for n, g in small.items() if g is None or g > 350_000}
        if bad:
            lines.append(
                "- EVM gas at most 350,000 for small-instance circuits (at most 64 public values, "
                "`--optimize evm-gas`): **not met** ("
                + ", ".join(f"{n}: {'failed' if g is None else f'{g:,}'}" for n, g in bad.items())
                + ")."
            )
        else:
            lines.append(
                "- EVM gas at most 350,000 for small-instance circuits (at most 64 public values, "
                "`--optimize evm-gas`): **met** ("
                + ", ".join(f"{n}: {g:,}" for n, g in small.items())
                + ")."
            )
    lines.append(
        "- EVM gas with hashed inputs and outputs not growing with the input size: checked by"
        " `cargo test -p zkml-contracts --test evm hashed -- --nocapture` (mlp_small's 16 inputs and"
        " mlp's 784 in the shape `--optimize evm-gas` picks for mlp: equal within 2%, the test fails"
        " otherwise); this harness"
        " benchmarks public inputs and outputs, the peer's configuration."
    )
    return lines


KEEP_MARKER = "<!-- Everything below this line is kept when benches/compare.py rewrites the file. -->"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}, within 10 minutes")
    ap.add_argument("--models", help=f"comma-separated fixture names, {LARGE}, or paths to model directories")
    ap.add_argument("--no-accuracy", action="store_true", help='skip EZKL calibrated for "accuracy"')
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = ap.parse_args()
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    t0 = time.monotonic()
    budget = BUDGET["quick" if args.quick else "full"]
    ensure_tools()
    names = args.models.split(",") if args.models else (QUICK if args.quick else FULL)
    work = os.path.join(ROOT, "target", "bench")
    os.makedirs(work, exist_ok=True)
    results, models = {}, {}

    def save():
        with open(os.path.join(work, "results.json"), "w") as f:
            json.dump(results, f, indent=1)

    for name in names:
        d = name if os.path.isdir(name) else os.path.join(ROOT, "fixtures", name)
        if name == LARGE:
            d = os.path.join(work, LARGE, "model")
            subprocess.run([PY, os.path.join(ROOT, "benches", "large_model.py"), d], check=True)
        name = os.path.basename(os.path.normpath(d)) if os.path.isdir(name) else name
        model, data = os.path.join(d, "model.onnx"), os.path.join(d, "input.json")
        models[name] = (model, data)
        r = {}
        try:
            r["reference"] = float_reference(model, data)
        except subprocess.CalledProcessError as e:
            r["reference"] = None
            log(f"{name}: onnxruntime failed: {e.stderr.strip().splitlines()[-1:]}")
        r["zkml"] = run_zkml(name, model, data, os.path.join(work, name, "zkml"))
        r["ezkl"] = run_ezkl(name, model, data, os.path.join(work, name, "ezkl"), "resources")
        for key in ["zkml", "ezkl"]:
            r[key]["accuracy"] = accuracy(r[key].get("outputs"), r["reference"] or [])
        results[name] = r
        save()
    if not args.no_accuracy:
        # Cheapest first, so the time budget covers as many models as it can.
        order = sorted(results, key=lambda n: stage(results[n]["ezkl"], "witness", "prove") or float("inf"))
        for name in order:
            r = results[name]
            left = budget - (time.monotonic() - t0) - 30
            if left < 60:
                r["ezkl_accuracy"] = {"skipped": f"the run's {budget // 60}-minute budget was spent", "stages": {}}
                continue
            cap = min(ACCURACY_CAP, left)
            model, data = models[name]
            a = run_ezkl(name, model, data, os.path.join(work, name, "ezkl-accuracy"), "accuracy", budget=cap, evm=False)
            a["accuracy"] = accuracy(a.get("outputs"), r["reference"] or [])
            r["ezkl_accuracy"] = a
            save()
        for name in results:  # table order: the models' order
            results[name]["ezkl_accuracy"] = results[name].pop("ezkl_accuracy")
    save()
    text = report(results, args, started, time.monotonic() - t0)
    # Sections below the marker (other runs, other harnesses) survive a rewrite.
    if os.path.exists(args.out):
        previous = open(args.out).read()
        if KEEP_MARKER in previous:
            text = text.rstrip("\n") + "\n\n" + KEEP_MARKER + previous.split(KEEP_MARKER, 1)[1]
    with open(args.out, "w") as f:
        f.write(text)
    log(f"wrote {args.out} and {os.path.join(work, 'results.json')}")


if __name__ == "__main__":
    main()
