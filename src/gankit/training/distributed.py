"""Multi-process data-parallel training on PyTorch's own engine: torch.distributed,
DistributedDataParallel (DDP) and torchrun.

``torchrun --nproc_per_node=N -m gankit train ...`` starts N copies of the command; each
reads its place (RANK, WORLD_SIZE, LOCAL_RANK) from the environment torchrun sets, and
:func:`setup` joins the process group: gloo on CPU, NCCL on CUDA (one GPU per local rank).
``gankit train ... --nproc N`` runs exactly that command (training/launch.py).

How a DDP run stays equal to a one-process run with the same (global) ``train.batch_size``:
every rank holds the whole in-memory dataset and the same seeded ``torch.Generator``, so all
ranks draw the same per-epoch permutation and the same global batch of latents (and WGAN-GP
mixing weights); each rank trains on its own contiguous slice (:func:`rank_rows`) of the
global batch. DDP averages the gradients of the slices, which for per-sample losses (no
batch norm, no dropout) is the gradient of the global batch. Batch-norm statistics are per
rank (``train.sync_batch_norm`` shares them, CUDA only), minibatch std and minibatch
discrimination compare the rows of a rank's slice only, and dropout masks differ per rank.

Only rank 0 writes the run folder (metrics, checkpoints, samples, report, TensorBoard) and
evaluates; decisions that end the run (stop rules, Ctrl-C) are shared so that every rank
stops at the same step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from torch import nn

from gankit.config import TrainConfig
from gankit.errors import ConfigError

if TYPE_CHECKING:  # only for the annotation
    from gankit.training.types import AdversarialModels

# Evaluation runs on rank 0 while the other ranks wait in a collective: allow it minutes.
COLLECTIVE_TIMEOUT = timedelta(minutes=60)


@dataclass(frozen=True)
class Distributed:
    """This process's place in the run: ``rank`` of ``world_size``, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = Distributed()


def from_environment() -> Distributed:
    """The place torchrun gave this process (one process when started without torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return Distributed(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def is_main_process() -> bool:
    """True unless this is a rank other than 0 of a torchrun launch (the CLI prints on rank 0 only)."""
    return from_environment().is_main


def resolve_device(name: str, place: Distributed = SINGLE) -> torch.device:
    """``train.device``: auto (CUDA when available), cpu or cuda; under DDP on CUDA each
    process uses the GPU of its local rank."""
    if name not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"train.device: one of auto, cpu, cuda; got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: cuda requested but no CUDA device is available (use auto or cpu)")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    if place.enabled and place.local_rank >= torch.cuda.device_count():
        raise ConfigError(f"local rank {place.local_rank} has no GPU ({torch.cuda.device_count()} visible): "
                          "use at most one process per GPU (--nproc_per_node)")
    return torch.device("cuda", place.local_rank if place.enabled else torch.cuda.current_device())


def setup(device_name: str) -> tuple[Distributed, torch.device]:
    """Join the process group when started by torchrun (idempotent); returns this process's
    place and device."""
    place = from_environment()
    device = resolve_device(device_name, place)
    if place.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
            dist.init_process_group("nccl", timeout=COLLECTIVE_TIMEOUT, device_id=device)
        else:
            dist.init_process_group("gloo", timeout=COLLECTIVE_TIMEOUT)
    return place, device


def teardown(place: Distributed) -> None:
    """Leave the process group (end of ``gankit.train`` under torchrun)."""
    if place.enabled and dist.is_initialized():
        dist.destroy_process_group()


def rank_rows(batch_size: int, pack: int, place: Distributed) -> slice:
    """This rank's rows of a global batch: ``batch_size / world_size`` contiguous rows, whole packs."""
    if not place.enabled:
        return slice(0, batch_size)
    share, rest = divmod(batch_size, place.world_size)
    if rest or share % pack:
        raise ConfigError(f"train.batch_size: {batch_size} must split into {place.world_size} equal per-process "
                          f"batches that are multiples of model.pack={pack} (it is the global batch under DDP)")
    return slice(place.rank * share, (place.rank + 1) * share)


def wrap(module: nn.Module, place: Distributed, device: torch.device, *, sync_batch_norm: bool = False) -> nn.Module:
    """``module`` as trained: a DDP wrapper sharing its parameters under DDP, else itself.

    Checkpoints keep storing ``module``'s own state dict (no ``module.`` prefix), so DDP and
    one-process runs resume each other's checkpoints.
    """
    if not place.enabled:
        return module
    if sync_batch_norm:
        if device.type != "cuda":
            raise ConfigError("train.sync_batch_norm: SyncBatchNorm needs CUDA devices (gloo on CPU has none)")
        nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def prepare_training_passes(models: AdversarialModels, place: Distributed, device: torch.device,
                            train_config: TrainConfig) -> None:
    """Set ``models.generator_train``/``discriminator_train`` (an ``AdversarialModels``): DDP
    wrappers under several processes, then ``torch.compile`` when ``train.compile``; None where
    the training passes call the module itself."""
    nets = [wrap(net, place, device, sync_batch_norm=train_config.sync_batch_norm)
            for net in (models.generator, models.discriminator)]
    if train_config.compile:
        nets = [torch.compile(net) for net in nets]
    models.generator_train, models.discriminator_train = (
        None if net is plain else net for net, plain in zip(nets, (models.generator, models.discriminator)))


def average_(tensor: torch.Tensor, place: Distributed) -> torch.Tensor:
    """In place: the mean of ``tensor`` over all ranks (SUM / world: gloo has no AVG)."""
    if place.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor.div_(place.world_size)
    return tensor


def any_rank(flag: bool, place: Distributed, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on some rank (e.g. Ctrl-C reached one process)."""
    if not place.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def from_main(value: str, place: Distributed) -> str:
    """Rank 0's ``value`` on every rank (a run folder name, a stop reason)."""
    if not place.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return str(box[0])


def barrier(place: Distributed) -> None:
    if place.enabled:
        dist.barrier()
