"""A short account of the whole run for the progress judge: what was called, which files were
changed, what the recent results were. Kept as the run goes, in bounded memory."""

from __future__ import annotations

from collections import Counter, deque

FILES_SHOWN = 30
RESULTS_KEPT = 8


def _line(text: str, limit: int) -> str:
    first = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return first if len(first) <= limit else first[: limit - 1] + "…"


class RunDigest:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.errors = 0
        self.files: dict[str, str] = {}  # path -> "changed" | "deleted", latest last
        self.results: deque[str] = deque(maxlen=RESULTS_KEPT)

    def note(self, tool: str, call: str, output: str, error: bool, news: bool) -> None:
        self.calls[tool] += 1
        self.errors += error
        if news or error:
            mark = "error: " if error else ""
            self.results.append(f"{call[:120]} -> {mark}{_line(output, 160)}")

    def touched(self, path: str, deleted: bool) -> None:
        self.files.pop(path, None)
        self.files[path] = "deleted" if deleted else "changed"
        if len(self.files) > 4 * FILES_SHOWN:
            del self.files[next(iter(self.files))]

    def summary(self) -> str:
        total = sum(self.calls.values())
        if not total:
            return "No tool calls yet."
        tools = ", ".join(f"{name} x{count}" for name, count in self.calls.most_common(8))
        lines = [f"{total} tool calls ({tools}); {self.errors} failed."]
        if self.files:
            shown = list(self.files.items())[-FILES_SHOWN:]
            named = ", ".join(f"{p}{' (deleted)' if s == 'deleted' else ''}" for p, s in shown)
            more = len(self.files) - len(shown)
            lines.append(f"Files changed: {named}{f' and {more} more' if more > 0 else ''}.")
        else:
            lines.append("No files changed.")
        if self.results:
            lines.append("Latest new results:")
            lines += [f"- {item}" for item in self.results]
        return "\n".join(lines)
