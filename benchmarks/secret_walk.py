"""CPU of finding a workspace's secret files, which happens before every tool call (the values
of `.env`, key files and the like are redacted from what the call returns).

Run from the repo root: `python benchmarks/secret_walk.py [--files 1000 2000] [--per-folder 20]`.
Builds a throwaway workspace of N files in folders of `--per-folder` (one `.env` among them),
then prints the least thread CPU per look-up of 3 rounds of 20 after a warm-up, with the load
average. The walk stops at 2,000 files (secret_files.FILES_CAP).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT

sys.path.insert(0, str(ROOT))

PATTERNS = ("**/.env", "**/.env.*", "**/*.pem", "**/id_rsa*", "**/*.key", "**/secrets/**")


def build(root: Path, files: int, per_folder: int) -> None:
    for n in range(files - 1):
        folder = root / f"pkg{n // per_folder}" / "src"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module{n}.py").write_text("x = 1\n")
    (root / ".env").write_text("API_KEY=abcdefgh12345678\n")


def per_lookup_ms(root: Path) -> float:
    from agent_core.oversight.secret_files import secret_file_values
    from agent_core.tools.workspace import Workspace

    space = Workspace(root)
    assert secret_file_values(space, PATTERNS), "the .env was not found"
    rounds = []
    for _ in range(3):
        start = time.thread_time()
        for _ in range(20):
            secret_file_values(space, PATTERNS)
        rounds.append((time.thread_time() - start) / 20 * 1e3)
    return min(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[100, 1000, 2000])
    parser.add_argument("--per-folder", type=int, default=20)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    for files in args.files:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            build(root, files, args.per_folder)
            print(f"{files} files, {args.per_folder} a folder: {per_lookup_ms(root):.2f} ms CPU")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
