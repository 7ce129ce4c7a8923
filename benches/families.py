#!/usr/bin/env python3
"""Models of the exporter fixtures' families, built as a new user would and checked end to end.

Each model is built from a config with seeded random weights (nothing is downloaded), exported
by the tool people use for it, and then:

- `zkml run` is compared with onnxruntime: the largest absolute error of each output over the
  output's largest magnitude, and whether the arg-max of every row agrees;
- with `--prove`, `zkml prove` (one shot, fresh keys) proves it and checks the proof, and the
  proven outputs must equal `zkml run`'s.

Families: decoders (Qwen2, Qwen3, Mistral, Phi, Gemma, GPT-NeoX, OPT), encoders (RoBERTa,
DistilBERT, ALBERT, ELECTRA, with an attention mask), vision (DeiT, ConvNeXt) from
`transformers` through `torch.onnx.export`; tree ensembles and linear models through skl2onnx,
onnxmltools (XGBoost, LightGBM) and hummingbird (GEMM and both tree-traversal strategies);
recurrent classifiers through both torch exporters.

Needs the exporters (`fixtures/requirements-export.txt`) and a release build of zkml:

    .venv-export/bin/python benches/families.py [--prove] [--out DIR] [NAME ...]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SMALL = dict(num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4,
             vocab_size=256, max_position_embeddings=64)
TOKENS = 16


def decoders(T):
    return {
        "qwen2": lambda: T.Qwen2ForCausalLM(T.Qwen2Config(**SMALL, num_key_value_heads=2)),
        "qwen3": lambda: T.Qwen3ForCausalLM(T.Qwen3Config(**SMALL, num_key_value_heads=2,
                                                          head_dim=16)),
        "mistral": lambda: T.MistralForCausalLM(T.MistralConfig(**SMALL, num_key_value_heads=2)),
        "phi": lambda: T.PhiForCausalLM(T.PhiConfig(**SMALL)),
        "gemma": lambda: T.GemmaForCausalLM(T.GemmaConfig(**SMALL, num_key_value_heads=1,
                                                          head_dim=16)),
        "gpt_neox": lambda: T.GPTNeoXForCausalLM(T.GPTNeoXConfig(**SMALL)),
        "opt": lambda: T.OPTForCausalLM(T.OPTConfig(
            num_hidden_layers=2, hidden_size=64, ffn_dim=128, num_attention_heads=4,
            vocab_size=256, max_position_embeddings=64, word_embed_proj_dim=64)),
    }


def encoders(T):
    return {
        "roberta": lambda: T.RobertaModel(T.RobertaConfig(**{**SMALL, "max_position_embeddings": 70}),
                                          add_pooling_layer=False),
        "distilbert": lambda: T.DistilBertModel(T.DistilBertConfig(
            n_layers=2, dim=64, hidden_dim=128, n_heads=4, vocab_size=256,
            max_position_embeddings=64)),
        "albert": lambda: T.AlbertModel(T.AlbertConfig(**SMALL, embedding_size=32),
                                        add_pooling_layer=False),
        "electra": lambda: T.ElectraModel(T.ElectraConfig(**SMALL, embedding_size=64)),
    }


def vision(T):
    return {
        "deit": lambda: T.DeiTModel(T.DeiTConfig(
            num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4,
            image_size=32, patch_size=8), add_pooling_layer=False),
        "convnext": lambda: T.ConvNextModel(T.ConvNextConfig(
            depths=[1, 1], hidden_sizes=[16, 32], num_stages=2, image_size=32)),
    }


def export_torch(module, args, names, path, dynamo=True, opset=None):
    import torch

    kw = dict(dynamo=dynamo, input_names=names)
    if opset:
        kw["opset_version"] = opset
    with torch.no_grad():
        torch.onnx.export(module.eval(), args, path, **kw)
    return {n: a.numpy() for n, a in zip(names, args)}


def transformer_models():
    import torch
    import transformers as T

    class Wrap(torch.nn.Module):
        """Calls a `transformers` model by keyword and returns its first output."""

        def __init__(self, model, names, **kw):
            super().__init__()
            self.model, self.names, self.kw = model, names, kw

        def forward(self, *args):
            return self.model(**dict(zip(self.names, args)), **self.kw)[0]

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 256, (1, TOKENS), generator=g)
    mask = torch.ones(1, TOKENS, dtype=torch.long)
    mask[0, TOKENS - 3:] = 0
    pixels = torch.randn(1, 3, 32, 32, generator=g)
    out = {}
    for kind, table in (("decoder", decoders(T)), ("encoder", encoders(T)), ("vision", vision(T))):
        for name, make in table.items():
            def build(path, make=make, kind=kind):
                torch.manual_seed(1)
                model = make().eval()
                if kind == "decoder":
                    names, args, kw = ["input_ids"], (ids,), {"use_cache": False}
                elif kind == "encoder":
                    names, args, kw = ["input_ids", "attention_mask"], (ids, mask), {}
                else:
                    names, args, kw = ["pixel_values"], (pixels,), {}
                return export_torch(Wrap(model, names, **kw), args, names, path)
            out[name] = (f"transformers {kind}", build)
    return out


def classic_data():
    from sklearn.datasets import make_classification, make_regression

    x, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_redundant=1,
                               n_classes=3, random_state=0)
    xr, yr = make_regression(n_samples=300, n_features=8, n_informative=5, noise=0.1,
                             random_state=0)
    return x.astype(np.float32), y, xr.astype(np.float32), yr.astype(np.float32)


def classic_models():
    def fitted():
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler
        import lightgbm
        import xgboost

        x, y, xr, yr = classic_data()
        return {
            "rfc": (RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y), x),
            "rfr": (RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(xr, yr), xr),
            "logreg": (LogisticRegression(max_iter=500).fit(x, y), x),
            "scaler_logreg": (Pipeline([("scale", StandardScaler()),
                                        ("lr", LogisticRegression(max_iter=500))]).fit(x, y), x),
            "xgb": (xgboost.XGBClassifier(n_estimators=5, max_depth=3, random_state=0,
                                          n_jobs=1).fit(x, y), x),
            "lgbm": (lightgbm.LGBMClassifier(n_estimators=5, max_depth=3, num_leaves=8,
                                             random_state=0, n_jobs=1, verbose=-1).fit(x, y), x),
        }

    def skl2onnx(key, zipmap):
        def build(path):
            from skl2onnx import to_onnx

            model, x = fitted()[key]
            options = None
            if zipmap is False:
                last = model.steps[-1][1] if hasattr(model, "steps") else model
                options = {id(last): {"zipmap": False}}
            onx = to_onnx(model, x[:4], options=options)
            open(path, "wb").write(onx.SerializeToString())
            return {onx.graph.input[0].name: x[:4]}
        return build

    def onnxmltools(key):
        def build(path):
            import onnxmltools
            from onnxmltools.convert.common.data_types import FloatTensorType

            model, x = fitted()[key]
            types = [("X", FloatTensorType([None, 8]))]
            if key == "xgb":
                onx = onnxmltools.convert_xgboost(model, initial_types=types)
            else:
                onx = onnxmltools.convert_lightgbm(model, initial_types=types, zipmap=False)
            open(path, "wb").write(onx.SerializeToString())
            return {"X": x[:4]}
        return build

    def hummingbird(key, strategy):
        def build(path):
            import torch
            from hummingbird.ml import convert

            model, x = fitted()[key]
            # hummingbird calls torch.onnx.export without `dynamo=`; it was written for the
            # TorchScript exporter, which newer torch no longer picks by default.
            original = torch.onnx.export

            def export(*a, **kw):
                kw.setdefault("dynamo", False)
                return original(*a, **kw)
            torch.onnx.export = export
            try:
                onx = convert(model, "onnx", x[:4],
                              extra_config={"tree_implementation": strategy}).model
            finally:
                torch.onnx.export = original
            open(path, "wb").write(onx.SerializeToString())
            return {onx.graph.input[0].name: x[:4]}
        return build

    return {
        "skl_random_forest_regressor": ("skl2onnx", skl2onnx("rfr", None)),
        "skl_logistic_regression": ("skl2onnx (ZipMap)", skl2onnx("logreg", None)),
        "skl_scaler_logistic_regression": ("skl2onnx", skl2onnx("scaler_logreg", False)),
        "omt_xgboost": ("onnxmltools", onnxmltools("xgb")),
        "omt_lightgbm": ("onnxmltools", onnxmltools("lgbm")),
        "hb_random_forest_gemm": ("hummingbird", hummingbird("rfc", "gemm")),
        "hb_xgboost_perf_tree_trav": ("hummingbird", hummingbird("xgb", "perf_tree_trav")),
        "hb_lightgbm_tree_trav": ("hummingbird", hummingbird("lgbm", "tree_trav")),
    }


def recurrent_models():
    def build_for(kind, layers, bidirectional, dynamo):
        def build(path):
            import torch

            class Classifier(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
                    self.rnn = layer(input_size=4, hidden_size=16, num_layers=layers,
                                     batch_first=True, bidirectional=bidirectional)
                    self.fc = torch.nn.Linear(16 * (2 if bidirectional else 1), 3)

                def forward(self, x):
                    out, _ = self.rnn(x)
                    return self.fc(out[:, -1, :])

            torch.manual_seed(0)
            x = torch.randn(1, 8, 4, generator=torch.Generator().manual_seed(1))
            return export_torch(Classifier(), (x,), ["x"], path, dynamo=dynamo,
                                opset=None if dynamo else 17)
        return build

    return {
        "torch_lstm_2layer_bidirectional": ("torch (dynamo)", build_for("lstm", 2, True, True)),
        "torch_gru_2layer_bidirectional": ("torch (TorchScript)", build_for("gru", 2, True, False)),
        "torch_rnn_tanh": ("torch (TorchScript)", build_for("rnn", 1, False, False)),
    }


def onnxruntime_outputs(path, feeds):
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def numeric(values):
    """A ZipMap output (a list of per-row maps) as the [rows, classes] array zkml gives."""
    if isinstance(values, list) and values and isinstance(values[0], dict):
        return np.array([[row[k] for k in sorted(row)] for row in values], dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


def compare(zkml, onnx_path, input_path, reference):
    r = subprocess.run([zkml, "run", onnx_path, "--input", input_path, "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, (r.stderr.strip().splitlines() or ["failed"])[-1]
    run = json.loads(r.stdout)
    worst, agree, rows = 0.0, 0, 0
    for ours, ref in zip(run["outputs"], reference):
        ref = numeric(ref)
        ours = np.asarray(ours, dtype=np.float64).reshape(ref.shape)
        worst = max(worst, float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-12)))
        if ref.ndim >= 2 and ref.shape[-1] > 1 and np.issubdtype(ref.dtype, np.floating):
            a = ours.reshape(-1, ref.shape[-1]).argmax(-1)
            b = ref.reshape(-1, ref.shape[-1]).argmax(-1)
            agree += int((a == b).sum())
            rows += a.size
    return run, {"relative_error": worst, "top1": f"{agree}/{rows}" if rows else "–"}


def prove(zkml, onnx_path, input_path, out_dir, run):
    start = time.time()
    r = subprocess.run([zkml, "prove", onnx_path, "--input", input_path, "--out", out_dir,
                        "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    result = json.loads(r.stdout)
    proven = json.load(open(result["proof"]))
    same = proven.get("outputs") == run["outputs"] if "outputs" in proven else None
    return {
        "verified": result["verified"] and same is not False,
        "k": result["circuit"]["k"],
        "prove_s": sum(v for k, v in result["timings"].items() if k.split(" (")[0] == "prove"),
        "total_s": time.time() - start,
        "proof_bytes": result["proof_bytes"],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="models to try (default: all)")
    p.add_argument("--zkml", default=os.path.join(ROOT, "target/release/zkml"))
    p.add_argument("--out", default=os.path.join(ROOT, "target/families"))
    p.add_argument("--prove", action="store_true", help="also prove each model one-shot")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)

    models = {**transformer_models(), **classic_models(), **recurrent_models()}
    unknown = [n for n in args.names if n not in models]
    if unknown:
        sys.exit(f"unknown models {unknown}; known: {', '.join(models)}")
    header = "| model | exporter | max error / max output | top-1 |"
    rule = "|---|---|---|---|"
    if args.prove:
        header += " k | prove (s) | total (s) | proof (B) | verified |"
        rule += "---|---|---|---|---|"
    lines = [header, rule]
    failures = 0
    for name, (exporter, build) in models.items():
        if args.names and name not in args.names:
            continue
        path = os.path.join(args.out, f"{name}.onnx")
        input_path = os.path.join(args.out, f"{name}.json")
        try:
            feeds = build(path)
        except Exception as e:  # an exporter failure is the exporter's, not ours: report it
            lines.append(f"| {name} | {exporter} | export failed: {type(e).__name__} | |")
            continue
        reference = onnxruntime_outputs(path, feeds)
        json.dump({"input_data": [np.asarray(v).ravel().tolist() for v in feeds.values()]},
                  open(input_path, "w"))
        run, check = compare(args.zkml, path, input_path, reference)
        if run is None:
            failures += 1
            lines.append(f"| {name} | {exporter} | **failed**: {check} | |")
            print(lines[-1], flush=True)
            continue
        line = f"| {name} | {exporter} | {check['relative_error']:.3%} | {check['top1']} |"
        if check["relative_error"] > 0.01:
            failures += 1
        if args.prove:
            proof = prove(args.zkml, path, input_path, os.path.join(args.out, name), run)
            if "error" in proof or not proof["verified"]:
                failures += 1
                line += f" **failed**: {proof.get('error', 'not verified')} | | | | |"
            else:
                line += (f" {proof['k']} | {proof['prove_s']:.1f} | {proof['total_s']:.1f} "
                         f"| {proof['proof_bytes']:,} | yes |")
        lines.append(line)
        print(line, flush=True)
    print("\n".join(lines))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
