"""PyTorch's Gloo all-reduce of ResNet-18 x 2's gradients (22.4M fp32 values in 25 MB buckets, as
DDP buckets them) between 2 processes on this machine, one intra-op thread each: the reference for
the exchange time per step that bench/distributed_scaling.sh reads from crmt's log.

    /usr/bin/python3 bench/pytorch_allreduce.py [iterations]
"""
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

PARAMS = 22_353_024  # two ResNet-18 trunks with 1-channel stems (crmt's resnet18 encoders), no fc
BUCKET = 25 * 1024 * 1024 // 4


def worker(rank, world, port, iterations, out):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    buckets = [torch.ones(min(BUCKET, PARAMS - i)) for i in range(0, PARAMS, BUCKET)]
    times = []
    for it in range(iterations + 2):
        dist.barrier()
        start = time.perf_counter()
        works = [dist.all_reduce(b, async_op=True) for b in buckets]
        for w in works:
            w.wait()
        if it >= 2:
            times.append(time.perf_counter() - start)
    if rank == 0:
        times.sort()
        out.put(times[len(times) // 2])
    dist.destroy_process_group()


if __name__ == "__main__":
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, 2, 29731, iterations, out)) for r in range(2)]
    for p in procs:
        p.start()
    median = out.get()
    for p in procs:
        p.join()
    print(f"PyTorch {torch.__version__} Gloo all-reduce, 2 processes, {PARAMS / 1e6:.1f}M fp32 values "
          f"({PARAMS * 4 / 1e6:.1f} MB) in {len(range(0, PARAMS, BUCKET))} buckets: {1000 * median:.1f} ms (median)")
