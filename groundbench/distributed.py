"""Data-parallel training under torchrun: one process per device, DistributedDataParallel, rank 0 writes.

``torchrun --nproc_per_node N -m groundbench train ...`` (or ``groundbench train ... --nproc N``, which runs
exactly that through ``torch.distributed.run``) starts N copies of the ordinary command; torchrun sets RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT and does all process management (also across nodes:
README, "GPU and multi-GPU"). Without those variables nothing here runs and training is the ordinary
single-process path, unchanged bit for bit. The only state is torch.distributed's own process group.

The design, and why:

* Data (``ShardedBatches``): every rank builds the ordinary training DataLoader with the run's seed, so every
  rank draws the SAME global permutation, epoch after epoch, from the same ``train_loader`` generator (the
  property DistributedSampler gets from ``set_epoch``: a permutation that is a function of (seed, epoch) and
  agreed by all ranks). Global batch i is exactly the single-process run's batch i; rank r trains on the r-th
  contiguous slice of it. ``--batch-size`` stays the GLOBAL batch (per rank: batch / N; a batch that N does
  not divide is refused). The last, partial batch is split as evenly as possible; a rank whose slice is empty
  runs one example of the batch with weight 0 (DDP needs every rank in every step).
* Gradients: each rank's loss is a mean over its slice; DDP averages gradients over ranks, which is the mean
  over the global batch when slices are equal. For an unequal last batch the rank's loss is scaled by
  n_r * N / m (n_r its examples, m the batch's), making the average exactly the global mean for losses that
  are means over examples (VQA's BCE; HINT's ranking term when every row is valid, as in human-only
  fine-tuning with answers in the vocabulary). Losses normalised otherwise (captioning's mean over tokens)
  are the usual DDP approximation of the global mean. Gradient clipping and the optimizer then see the same
  averaged gradients on every rank, so the replicas stay equal.
* HINT's second-order step works with plain DistributedDataParallel (no ``static_graph``, no
  ``find_unused_parameters``): ``autograd.grad(create_graph=True)`` is taken w.r.t. the proposal features v,
  an input, so it never runs the parameters' AccumulateGrad nodes where DDP's reducer hooks sit; the single
  ``loss.backward()`` through the double-backward graph then fires each hook once and DDP all-reduces as
  usual. tests/test_distributed.py checks it against a single-process run.
* Random streams: rank 0 keeps the run's streams (so a 1-process torchrun run is the ordinary run); ranks
  r > 0 reseed torch/NumPy/Python (dropout, hint-random) from (seed, r) after the model is built, so the
  ranks' dropout masks are independent, as they are across a single process's batch. The data order comes
  from the shared loader generator, untouched.
* Rank 0 alone validates, writes checkpoints, history and records, holds the run folder's lock and prints;
  the validation score is broadcast so every rank agrees on "best". ``--resume`` is refused under torchrun
  (the ranks' random streams are not all checkpointed); resume a run single-process, or restart it.
"""
from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from .errors import GroundbenchError

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched_by_torchrun() -> bool:
    """Whether torchrun (torch.distributed.run) started this process: RANK, WORLD_SIZE and LOCAL_RANK are set."""
    return all(name in os.environ for name in TORCHRUN_VARS)


def active() -> bool:
    """Whether this process is one rank of an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0, or the only process: the one that writes files and prints."""
    return rank() == 0


def _device_for(device: str) -> str:
    """The per-rank device: ``cuda`` becomes cuda:LOCAL_RANK (one GPU per process); cpu stays cpu."""
    parsed = torch.device(device)
    if parsed.type != "cuda":
        return device
    if parsed.index is not None:
        raise GroundbenchError(f"--device {device} under torchrun: each process uses cuda:LOCAL_RANK; pass "
                               "--device cuda (or CUDA_VISIBLE_DEVICES to choose the GPUs)")
    local = int(os.environ["LOCAL_RANK"])
    if local >= torch.cuda.device_count():
        raise GroundbenchError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s) here: "
                               "lower --nproc_per_node")
    torch.cuda.set_device(local)
    return f"cuda:{local}"


@contextlib.contextmanager
def process_group(device: str) -> Iterator[str]:
    """Under torchrun: join the process group (nccl for CUDA, gloo for CPU) for the block and leave it after;
    yields this rank's device. Without torchrun: yields ``device`` and does nothing."""
    if not launched_by_torchrun() or active():
        yield device
        return
    device = _device_for(device)
    backend = "nccl" if device.startswith("cuda") else "gloo"
    dist.init_process_group(backend=backend)
    try:
        yield device
    finally:
        dist.destroy_process_group()


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def barrier() -> None:
    if active():
        dist.barrier()


def broadcast_float(value: float, src: int = 0) -> float:
    """``value`` as rank ``src`` has it, on every rank (float64, exact)."""
    if not active():
        return float(value)
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=_collective_device())
    dist.broadcast(tensor, src)
    return float(tensor.item())


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """Each value averaged over the ranks (every rank passes the same keys)."""
    if not active() or not values:
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(tensor)
    return {k: float(v) / world_size() for k, v in zip(keys, tensor.tolist())}


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. generating the synthetic world into the cache), then the others."""
    if not active():
        yield
        return
    if not is_main():
        dist.barrier()
    yield
    if is_main():
        dist.barrier()


def check_global_batch(batch_size: int) -> None:
    """The global batch must split evenly over the ranks (per-rank batch = batch / world size)."""
    if active() and batch_size % world_size():
        raise GroundbenchError(f"--batch-size {batch_size} is the global batch and must be divisible by the "
                               f"{world_size()} processes")


def seed_rank_streams(seed: int) -> None:
    """Ranks r > 0: reseed torch, NumPy and Python from (seed, r), so dropout differs between ranks. Rank 0 and
    single-process runs are untouched."""
    if rank() == 0:
        return
    state = np.random.SeedSequence([int(seed), rank()]).generate_state(2)
    value = int(state[0]) << 32 | int(state[1])
    random.seed(value)
    np.random.seed(int(state[0]))
    torch.manual_seed(value)


class ShardedBatches:
    """Batch sampler: the wrapped (global) batch sampler's batches, each cut to this rank's contiguous slice."""

    def __init__(self, batch_sampler, rank_: int, world: int):
        self.batch_sampler, self.rank, self.world = batch_sampler, rank_, world

    def _bounds(self, size: int) -> tuple[int, int]:
        base, extra = divmod(size, self.world)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (self.rank < extra)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batch_sampler:
            start, stop = self._bounds(len(batch))
            yield list(batch[start:stop]) if stop > start else list(batch[:1])

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def weight(self, step: int) -> float:
        """Loss weight of this rank at ``step``: n_r * N / m (1.0 for every full batch, 0.0 for an empty slice)."""
        size = self.batch_sampler.batch_size
        total = len(self.batch_sampler.sampler)
        m = size if self.batch_sampler.drop_last else min(size, total - step * size)
        start, stop = self._bounds(m)
        return (stop - start) * self.world / m


def shard_loader(loader: DataLoader) -> DataLoader:
    """This rank's share of ``loader``: same dataset, collate and generator (so the same global permutation and
    the same draws from the generator per epoch as the single-process loader), ``ShardedBatches``."""
    batches = ShardedBatches(loader.batch_sampler, rank(), world_size())
    return DataLoader(loader.dataset, batch_sampler=batches, collate_fn=loader.collate_fn,
                      num_workers=loader.num_workers, generator=loader.generator)


def wrap(model: torch.nn.Module, device: str) -> torch.nn.Module:
    """``model`` in DistributedDataParallel (rank 0's weights broadcast to all at construction)."""
    parsed = torch.device(device)
    ids = [parsed.index] if parsed.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def launch(nproc: int, args: Sequence[str]) -> int:
    """``python -m torch.distributed.run --standalone --nproc_per_node NPROC -m groundbench ARGS``: torchrun
    starts and watches the processes; returns its exit status."""
    if launched_by_torchrun():
        raise GroundbenchError("--nproc is for launching; under torchrun pass --nproc_per_node to torchrun instead")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={int(nproc)}",
               "-m", "groundbench", *args]
    return subprocess.call(command)
