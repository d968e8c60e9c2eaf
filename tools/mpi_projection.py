#!/usr/bin/python3
"""Projected wall time of multi-property pre-training at the published scale on 1, 8 and 64 nodes
(docs/mpi.md, docs/results.md "Data-parallel training"), from a measured per-structure training
time and an all-reduce cost model. Standard library only; never used by the build or the tests.

usage: tools/mpi_projection.py --step-seconds S [--data-dir ../shared/data/pretrain] [options]

Model of one data-parallel step, one MPI rank per node running the node's cores as OpenMP threads:
  * each rank trains --per-rank structures (a micro-batch or a few) per step, so the global batch
    is per_rank × nodes and an epoch of --structures takes structures / (per_rank × nodes) steps;
  * compute: the slowest rank's structures. A structure's cost is taken proportional to its atom
    count (its line graph, k neighbours per atom, is); the ratio of the slowest rank's sum to the
    mean over ranks is drawn by Monte Carlo from the atom counts of the pre-training records
    (--data-dir; the published 132k structures are assumed to be sized like these 30k);
  * per-structure time on a node of C cores: the measured time on the measuring machine's cores
    (--step-seconds, --measured-cores) × measured_cores / C / efficiency(C), with the thread
    efficiency an assumption (--efficiency, for the cores beyond the measured ones);
  * communication: the gradient all-reduce as a reduce-scatter plus all-gather (what ionhop's
    fixed-order reduction does): 2(N−1)/N · bytes / bandwidth + 2(N−1) · latency; plus the
    all-gather of the BatchNorm statistics logs (every rank receives every other rank's log):
    (N−1) · log_bytes / bandwidth + (N−1) · latency.
"""
import argparse
import glob
import json
import os
import random


def atom_counts(data_dir):
    counts = []
    for path in sorted(glob.glob(os.path.join(data_dir, "*.json"))):
        with open(path) as f:
            for rec in json.load(f):
                counts.append(len(rec["atoms"]["elements"]))
    return counts


def balanced_sums(batch, groups, size):
    """ih_balance_micro_batches (src/train/train.c), written again: largest first, each into the
    group with the least work that has room (ties: the first); the groups' sums"""
    load, fill = [0] * groups, [0] * groups
    for cost in sorted(batch, reverse=True):
        best = min((g for g in range(groups) if fill[g] < size), key=lambda g: (load[g], g))
        load[best] += cost
        fill[best] += 1
    return load


def imbalance(counts, nodes, per_rank, trials, rng, balanced=False):
    """E[max over ranks of a rank's atoms] / E[mean over ranks]: the slowest rank's share; with
    balanced, the batch's micro-batches arranged as `--micro-batch` arranges them"""
    if nodes == 1:
        return 1.0
    worst = mean = 0.0
    for _ in range(trials):
        batch = [rng.choice(counts) for _ in range(per_rank * nodes)]
        if balanced:
            sums = balanced_sums(batch, nodes, per_rank)
        else:
            sums = [sum(batch[r * per_rank:(r + 1) * per_rank]) for r in range(nodes)]
        worst += max(sums)
        mean += sum(sums) / nodes
    return worst / mean


def allreduce_seconds(nodes, grad_bytes, log_bytes, bandwidth, latency):
    if nodes == 1:
        return 0.0
    n = nodes
    grad = 2 * (n - 1) / n * grad_bytes / bandwidth + 2 * (n - 1) * latency
    logs = (n - 1) * log_bytes / bandwidth + (n - 1) * latency
    return grad + logs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step-seconds", type=float, required=True,
                    help="measured training seconds per structure (hidden 256, full edges) on --measured-cores")
    ap.add_argument("--measured-cores", type=int, default=2)
    ap.add_argument("--measured-atoms", type=float, default=None,
                    help="mean atoms of the measured structures: the time is scaled to the data's mean (cost ∝ atoms)")
    ap.add_argument("--data-dir", default="../shared/data/pretrain")
    ap.add_argument("--structures", type=int, default=132000)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--per-rank", type=int, default=16, help="structures per rank per step (16)")
    ap.add_argument("--grad-mb", type=float, default=17.49,
                    help="all-reduce size, MB (ionhop-bench allreduce --hidden 256 --edges full --tasks 7)")
    ap.add_argument("--log-kb", type=float, default=None,
                    help="BatchNorm statistics log per rank and step, kB (default: from --buffers)")
    ap.add_argument("--buffers", type=int, default=14080,
                    help="BatchNorm buffer floats of the network (a log entry is one double per buffer float)")
    ap.add_argument("--bandwidth-gbit", type=float, default=100.0, help="interconnect, Gb/s (100: EDR InfiniBand)")
    ap.add_argument("--latency-us", type=float, default=2.0)
    ap.add_argument("--cores", default="2,32", help="cores per node, comma-separated")
    ap.add_argument("--efficiency", type=float, default=0.75,
                    help="OpenMP efficiency of a node's cores beyond the measured ones (assumed)")
    ap.add_argument("--nodes", default="1,8,64")
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--balanced", action="store_true",
                    help="micro-batches arranged by work as --micro-batch does (else dealt as drawn)")
    a = ap.parse_args()

    rng = random.Random(1)
    counts = atom_counts(a.data_dir)
    bandwidth = a.bandwidth_gbit * 1e9 / 8
    latency = a.latency_us * 1e-6
    grad_bytes = a.grad_mb * 1e6
    mean_atoms = sum(counts) / len(counts)
    step_seconds = a.step_seconds * (mean_atoms / a.measured_atoms if a.measured_atoms else 1.0)
    log_bytes = (a.log_kb * 1e3) if a.log_kb is not None else a.per_rank / 16 * (a.buffers * 8 + 2000)
    print(f"{len(counts)} pre-training records, mean {sum(counts) / len(counts):.1f} atoms; "
          f"{a.structures} structures × {a.epochs} epochs; {a.per_rank} structures per rank per step")
    if a.measured_atoms:
        print(f"measured {a.step_seconds:.4f} s per structure of {a.measured_atoms:g} atoms on average: "
              f"{step_seconds:.4f} s at the data's {mean_atoms:.1f}")
    print(f"per structure {step_seconds:.4f} s on {a.measured_cores} cores; all-reduce {a.grad_mb:.2f} MB, "
          f"statistics log {log_bytes / 1e3:.0f} kB per rank; interconnect {a.bandwidth_gbit:g} Gb/s, "
          f"{a.latency_us:g} µs")
    print()
    print("cores/node  nodes  global batch  steps/epoch  compute/step  imbalance  comm/step  epoch h  total h")
    for cores in [int(c) for c in a.cores.split(",")]:
        eff = 1.0 if cores <= a.measured_cores else a.efficiency
        per_structure = step_seconds * a.measured_cores / cores / eff
        for nodes in [int(n) for n in a.nodes.split(",")]:
            batch = a.per_rank * nodes
            steps = -(-a.structures // batch)
            imb = imbalance(counts, nodes, a.per_rank, a.trials, rng, a.balanced)
            compute = a.per_rank * per_structure * imb
            comm = allreduce_seconds(nodes, grad_bytes, log_bytes, bandwidth, latency)
            epoch_h = steps * (compute + comm) / 3600
            print(f"{cores:10d}  {nodes:5d}  {batch:12d}  {steps:11d}  {compute:10.2f} s  {imb:9.3f}  "
                  f"{1e3 * comm:6.1f} ms  {epoch_h:7.2f}  {epoch_h * a.epochs:7.1f}")


if __name__ == "__main__":
    main()
