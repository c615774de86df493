"""The agent core: the loop, its models and tools, the policy, the worker and the CLI."""
