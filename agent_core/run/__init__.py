"""One run: its call ids and its crash recovery (the loop, tool step and gate move here in time)."""
