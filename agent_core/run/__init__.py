"""One run: the loop, each tool call's step and approval gate, the conversation rebuilt from the
record, how a session ends, crash recovery, and the halt watcher that cuts waits short."""
