"""Calls per second of the Python package with one loaded model, against the command-line tool
(one process and one model load per hop). The bundled example hop; 2 threads.

    PYTHONPATH=build/python/lib python3 bench/python_calls.py [N]
"""
import os
import subprocess
import sys
import time

import ionhop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INI = os.path.join(ROOT, "examples", "LiFePO4_hop", "initial.vasp")
FIN = os.path.join(ROOT, "examples", "LiFePO4_hop", "final.vasp")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 20

t0 = time.perf_counter()
model = ionhop.Model()
load = time.perf_counter() - t0
s_ini, s_fin = ionhop.read(INI), ionhop.read(FIN)
model.predict_hop(s_ini, s_fin)  # warm-up
t0 = time.perf_counter()
for _ in range(N):
    model.predict_hop(s_ini, s_fin)
per_call = (time.perf_counter() - t0) / N
cli = os.path.join(ROOT, "build", "ionhop")
t0 = time.perf_counter()
for _ in range(max(3, N // 4)):
    subprocess.run([cli, "predict", "--initial", INI, "--final", FIN], check=True, capture_output=True)
per_cli = (time.perf_counter() - t0) / max(3, N // 4)
print(f"model load {load:.3f} s; Python {1 / per_call:.1f} calls/s ({per_call * 1e3:.1f} ms per hop); "
      f"CLI {1 / per_cli:.1f} calls/s ({per_cli * 1e3:.1f} ms per hop, process start and model load included); "
      f"ratio {per_cli / per_call:.1f}x")
