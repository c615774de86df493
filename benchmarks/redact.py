"""How long redaction takes on a large tool output (1 MB), with the encoded forms of the secrets.

    python benchmarks/redact.py [--secrets 5] [--megabytes 1]

Prints the median of several runs for ordinary text, for base64 text with a secret inside, and for
text that holds no secret at all. No assertion: a figure for the README and the reviewer."""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import string
import time

from agent_core.oversight.redact import Redactor


def _median_ms(redact: Redactor, text: str, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        redact(text)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secrets", type=int, default=5)
    parser.add_argument("--megabytes", type=float, default=1.0)
    options = parser.parse_args()
    rng = random.Random(7)
    size = int(options.megabytes * 1_000_000)
    secrets = {
        f"SECRET_{i}_TOKEN": "".join(rng.choices(string.ascii_letters + string.digits, k=24))
        for i in range(options.secrets)
    }
    words = [
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(size // 6)
    ]
    prose = " ".join(words)[:size]
    blob = base64.encodebytes(rng.randbytes(size * 3 // 4)).decode()[:size]
    leaking = blob[: size // 2] + base64.b64encode(next(iter(secrets.values())).encode()).decode()
    leaking += blob[size // 2 :]
    redact = Redactor(secrets)
    print(f"{options.secrets} secrets, {size:,} characters of output (median of 7 runs)")
    for label, text in (("prose", prose), ("base64", blob), ("base64 + a secret", leaking)):
        print(f"  {label:<20} {_median_ms(redact, text):8.1f} ms")


if __name__ == "__main__":
    main()
