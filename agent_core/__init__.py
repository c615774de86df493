"""The agent core, in rooms with arrows only downward: tools < models < oversight < run < worker <
cli (all above storage). See docs/architecture.md."""
