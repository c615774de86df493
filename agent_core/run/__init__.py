"""One run: the loop, its tool step, the approval gate, the halt watch."""
