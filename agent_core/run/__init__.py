"""One run: call ids, crash recovery, the halt watch (the loop, tool step and gate move here in time)."""
