"""The worker: the claim loop, the `--processes N` supervisor, and warm-up."""
