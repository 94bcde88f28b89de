"""Time ``lab up`` (2 hosts, flannel agents, dockerd restarted with their options, the seed's scene) and
``lab down`` on this machine, with a throwaway prefix.

    python -m tests.perf.bench_lab [--hosts N]
"""

from __future__ import annotations

import argparse
import time
import uuid

from netcon.core.context import HostContext
from netcon.core.lab import lab


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=2)
    args = parser.parse_args()
    ctx, prefix = HostContext(), f"b{uuid.uuid4().hex[:5]}"
    t0 = time.perf_counter()
    try:
        lab.up(ctx, prefix, hosts=args.hosts)
        up_s = time.perf_counter() - t0
    finally:
        t1 = time.perf_counter()
        lab.down(ctx, prefix)
        down_s = time.perf_counter() - t1
    print(f"lab hosts={args.hosts} up_s={up_s:.1f} down_s={down_s:.1f}")


if __name__ == "__main__":
    main()
