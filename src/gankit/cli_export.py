"""``gankit export``: parse, call :func:`gankit.run.export_run`, print. No logic here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

out = Console()


def export_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (it holds config.toml and checkpoints/).")],
    file_format: Annotated[str, typer.Option(
        "--format", "-f", help="onnx (onnxruntime, web, C++/C#; needs gankit's 'export' extra), "
                               "torchscript (torch.jit.load, no gankit) or safetensors (weights + architecture, "
                               "for gankit.load_generator).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write, e.g. generator.onnx; the model "
                                                                "card goes beside it as FILE.json and FILE.md.")],
    checkpoint: Annotated[str, typer.Option(help="last, best, or a .pt path.")] = "last",
    uint8: Annotated[bool, typer.Option("--uint8", help="Images only: output uint8 pixels in [0, 255] instead of "
                                                        "floats in [-1, 1].")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace the file and its card if gankit wrote them "
                                                        "(never files of yours).")] = False,
) -> None:
    """Export the trained generator (the EMA copy when the run kept one) for use without gankit.

    The exported model takes a latent batch z (batch, latent_dim), any batch size, and returns images in [-1, 1] or points. A model card beside the file lists the data, objective, epochs, latent distribution, final metrics and how to load it.
    """
    from gankit.export import card_paths
    from gankit.run import export_run

    path = export_run(run_dir, output, file_format, checkpoint=checkpoint, uint8=uint8, force=force)
    card_json, card_md = card_paths(path)
    out.print(f"wrote {path} ({file_format}) and its model card {card_json.name}, {card_md.name}", highlight=False)
