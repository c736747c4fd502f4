"""The model card written beside an exported generator: ``FILE.json`` (for programs) and
``FILE.md`` (for people).

It says what the file is without the run folder: the data and objective it was trained on,
the epochs, the latent size and distribution to feed it, the metrics of the exported
checkpoint with their sample count and feature space (metric values mean nothing without
them), the gankit and torch versions, and three lines that load and run it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

# Keys of a metrics record that are bookkeeping, not results.
_NOT_METRICS = frozenset({"step", "time", "epoch", "epoch_seconds", "samples_per_second", "d_loss_real",
                          "d_loss_fake", "g_loss", "d_real_score", "d_fake_score", "d_real_prob", "d_fake_prob",
                          "g_grad_norm", "diagnostics", "warnings"})


def usage_lines(file_format: str, file_name: str, architecture: dict[str, Any]) -> list[str]:
    """Three lines of Python that load ``file_name`` and generate 16 samples from it."""
    dim, uniform = architecture["latent_dim"], architecture["latent_distribution"] == "uniform"
    conditional = bool(architecture.get("class_names"))  # then the second input is the class of each sample
    if file_format == "onnx":
        draw = f"np.random.uniform(-1, 1, (16, {dim}))" if uniform else f"np.random.randn(16, {dim})"
        labels = ", 'labels': np.full(16, 0, dtype=np.int64)" if conditional else ""
        return ["import numpy as np, onnxruntime as ort",
                f"session = ort.InferenceSession({file_name!r}, providers=['CPUExecutionProvider'])",
                f"{architecture['output']['name']} = session.run(None, {{'z': {draw}.astype(np.float32){labels}}})[0]"]
    draw = f"torch.rand(16, {dim}) * 2 - 1" if uniform else f"torch.randn(16, {dim})"
    if conditional:
        draw += ", torch.full((16,), 0)"
    if file_format == "torchscript":
        return ["import torch", f"generator = torch.jit.load({file_name!r}).eval()",
                f"{architecture['output']['name']} = generator({draw})"]
    return ["import gankit, torch", f"generator = gankit.load_generator({file_name!r})",
            f"{architecture['output']['name']} = generator({draw})"]


def checkpoint_metrics(history: list[dict[str, Any]], epoch: int | None) -> dict[str, Any] | None:
    """The last evaluated record at or before ``epoch`` (the exported checkpoint's), as
    {epoch, n, n_real, feature_space, values}; None when the run was never evaluated."""
    evaluated = [r for r in history if ("n_fake" in r or "s1" in r) and (epoch is None or r.get("epoch", 0) <= epoch)]
    if not evaluated:
        return None
    record = evaluated[-1]
    values = {k: v for k, v in record.items() if k not in _NOT_METRICS and k not in ("n_fake", "n_real", "features")}
    return {"epoch": record.get("epoch"), "n": record.get("n_fake"), "n_real": record.get("n_real"),
            "feature_space": record.get("features") or "raw sample coordinates", "values": values}


def model_card(run: Any, architecture: dict[str, Any], *, file_name: str, file_format: str,
               epoch: int | None, uses_ema: bool) -> dict[str, Any]:
    """The card of ``run``'s generator exported as ``file_name`` (keys described in the module docstring)."""
    config = run.config
    output = architecture["output"]
    versions = {"gankit": _gankit_version(), "torch": torch.__version__}
    if file_format == "onnx":
        from gankit.export.formats import ONNX_OPSET

        versions["onnx_opset"] = ONNX_OPSET
    data = {"name": config.data.name, "sample_shape": architecture["sample_shape"]}
    if config.data.path:
        data["path"] = config.data.path
    return {
        "file": file_name, "format": file_format,
        "run": str(run.path), "checkpoint": Path(run.checkpoint).name, "ema_generator": uses_ema,
        "data": data, "objective": asdict(config.objective),
        "training": {"epochs": epoch, "epochs_configured": config.train.epochs,
                     "batch_size": config.train.batch_size},
        "latent": {"dim": architecture["latent_dim"], "distribution": architecture["latent_distribution"],
                   "truncation": architecture["truncation"] or None},
        "output": output,
        "metrics": checkpoint_metrics(run.history, epoch),
        "versions": versions,
        "usage": usage_lines(file_format, file_name, architecture),
        "architecture": architecture,
    }


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a short Markdown page."""
    latent, metrics, output = card["latent"], card["metrics"], card["output"]
    classes = card["architecture"].get("class_names") or []
    distribution = "N(0, I)" if latent["distribution"] == "normal" else "U(-1, 1)"
    truncation = f", truncated to ±{latent['truncation']}" if latent["truncation"] else ""
    shape = " × ".join(str(d) for d in output["shape"][1:])
    family = card["architecture"]["family"].upper()  # MLP, DCGAN: "an MLP", "a DCGAN"
    lines = [
        f"# {card['file']}", "",
        f"{'An' if family[0] in 'AEIMO' else 'A'} {family} generator trained with gankit, exported as {card['format']}.",
        "",
        f"- data: {card['data']['name']}" + (f" ({card['data']['path']})" if "path" in card["data"] else ""),
        f"- objective: {card['objective']['name']}",
        f"- trained: {card['training']['epochs']} epochs (checkpoint {card['checkpoint']}"
        + (", EMA generator)" if card["ema_generator"] else ")"),
        f"- input: `z` float32 of shape (batch, {latent['dim']}), z ~ {distribution}{truncation}",
        *(["- input: `labels` int64 of shape (batch,), the class of each sample: "
           + ", ".join(f"{index} = {name}" for index, name in enumerate(classes[:30]))
           + (f", … ({len(classes)} classes)" if len(classes) > 30 else "")] if classes else []),
        f"- output: `{output['name']}` {output['dtype']} of shape (batch, {shape})"
        + (f", values in {output['range']}" if output.get("range") else ""),
        "- versions: " + ", ".join(f"{name} {value}" for name, value in card["versions"].items()), "",
        "## Metrics", "",
    ]
    if metrics is None:
        lines.append("Not evaluated (the run had eval.every=0); score it with `gankit eval RUN`.")
    else:
        lines.append(f"At epoch {metrics['epoch']}, n = {metrics['n']} generated vs {metrics['n_real']} real samples, "
                     f"feature space: {metrics['feature_space']}.")
        lines += ["", "| metric | value |", "| --- | --- |"]
        lines += [f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |"
                  for key, value in metrics["values"].items()]
    lines += ["", "## Load it", "", "```python", *card["usage"], "```", ""]
    return "\n".join(lines)


def card_bytes(card: dict[str, Any]) -> tuple[bytes, bytes]:
    """(JSON, Markdown) encodings of ``card``."""
    return (json.dumps(card, indent=2, default=str) + "\n").encode("utf-8"), card_markdown(card).encode("utf-8")


def _gankit_version() -> str:
    """The installed gankit's version (read from its metadata: the package itself is a layer above)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gankit")
    except PackageNotFoundError:
        return "unknown"
