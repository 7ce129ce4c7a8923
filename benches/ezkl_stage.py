#!/usr/bin/env python3
"""Runs one EZKL stage in this process, so the caller can time it and read its peak memory.

    ezkl_stage.py STAGE WORKDIR MODEL INPUT [TARGET]

Stages: settings (gen_settings + calibrate_settings), compile, srs, setup, witness, prove,
verify, evm (create_evm_verifier and encode_evm_calldata: EZKL writes the Solidity source, then
fails trying to download a compiler; the caller compiles the source with zkml's pinned solc).
Artifacts go to WORKDIR. Prints one JSON line with the stage's result.
"""

import asyncio
import json
import os
import shutil
import sys

import ezkl


def run(awaitable_or_value):
    if asyncio.iscoroutine(awaitable_or_value):
        return asyncio.run(awaitable_or_value)
    return awaitable_or_value


def in_loop(fn, *args):
    """Calls `fn` inside a running event loop (some EZKL calls need one to exist)."""

    async def go():
        r = fn(*args)
        return (await r) if asyncio.iscoroutine(r) or asyncio.isfuture(r) else r

    return asyncio.run(go())


def main():
    stage, work, model, data = sys.argv[1:5]
    target = sys.argv[5] if len(sys.argv) > 5 else "resources"
    p = lambda name: os.path.join(work, name)
    os.makedirs(work, exist_ok=True)
    out = {"stage": stage}
    if stage == "settings":
        args = ezkl.PyRunArgs()
        args.input_visibility = "public"
        args.output_visibility = "public"
        args.param_visibility = "fixed"
        run(ezkl.gen_settings(model, p("settings.json"), py_run_args=args))
        run(ezkl.calibrate_settings(data, model, p("settings.json"), target))
        settings = json.load(open(p("settings.json")))
        out["logrows"] = settings["run_args"]["logrows"]
        out["scales"] = [settings["run_args"].get("input_scale"), settings["run_args"].get("param_scale")]
    elif stage == "compile":
        run(ezkl.compile_circuit(model, p("model.compiled"), p("settings.json")))
    elif stage == "srs":
        logrows = json.load(open(p("settings.json")))["run_args"]["logrows"]
        # A test SRS depends only on its size: generated once per size into $EZKL_SRS_CACHE (if
        # set) and copied from there. The benchmark does not count this stage.
        cache = os.environ.get("EZKL_SRS_CACHE")
        cached = os.path.join(cache, f"kzg-{logrows}.srs") if cache else None
        if cached and os.path.exists(cached):
            shutil.copyfile(cached, p("kzg.srs"))
            out["cached"] = True
        else:
            run(ezkl.gen_srs(p("kzg.srs"), logrows))
            if cached:
                os.makedirs(cache, exist_ok=True)
                shutil.copyfile(p("kzg.srs"), cached + ".tmp")
                os.replace(cached + ".tmp", cached)
        out["logrows"] = logrows
    elif stage == "setup":
        run(ezkl.setup(p("model.compiled"), p("vk.key"), p("pk.key"), p("kzg.srs")))
    elif stage == "witness":
        run(ezkl.gen_witness(data, p("model.compiled"), p("witness.json")))
        w = json.load(open(p("witness.json")))
        pretty = w.get("pretty_elements") or {}
        out["outputs"] = [[float(v) for v in o] for o in pretty.get("rescaled_outputs", [])]
    elif stage == "prove":
        run(ezkl.prove(p("witness.json"), p("model.compiled"), p("pk.key"), p("proof.json"), p("kzg.srs")))
        proof = json.load(open(p("proof.json")))
        out["proof_bytes"] = len(bytes.fromhex(proof["proof"][2:] if proof["proof"].startswith("0x") else proof["proof"])) if isinstance(proof.get("proof"), str) else len(proof.get("proof", []))
        out["instances"] = sum(len(i) for i in proof.get("instances", []))
    elif stage == "verify":
        out["verified"] = bool(run(ezkl.verify(p("proof.json"), p("settings.json"), p("vk.key"), p("kzg.srs"))))
    elif stage == "evm":
        if os.path.exists(p("Verifier.sol")):
            os.remove(p("Verifier.sol"))
        try:
            in_loop(ezkl.create_evm_verifier, p("vk.key"), p("settings.json"), p("Verifier.sol"), p("Verifier.abi"), p("kzg.srs"))
        except Exception as e:  # noqa: BLE001 - without internet it fails after writing the source
            out["compiler_error"] = str(e)[:200]
        if not os.path.exists(p("Verifier.sol")):
            sys.exit(f"create_evm_verifier wrote no Solidity source: {out.get('compiler_error')}")
        in_loop(ezkl.encode_evm_calldata, p("proof.json"), p("calldata.bin"))
        out["solidity_bytes"] = os.path.getsize(p("Verifier.sol"))
    else:
        sys.exit(f"unknown stage {stage}")
    print(json.dumps(out), flush=True)
    # EZKL's runtime threads can abort the interpreter while it finalizes (after the evm stage);
    # the stage is done, so leave without finalizing.
    os._exit(0)


if __name__ == "__main__":
    main()
