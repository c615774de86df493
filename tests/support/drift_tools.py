"""The scripted tools the drift scenarios call: each answers what the scenario scripted for it
next (an answer starting "ERR:" is raised as a ToolError), under the name a real tool would have.
All are low risk but `click` and `send_message`, side-effecting actions as real ones would be."""

from __future__ import annotations

from collections import deque

from agent_core.tools import ToolError, tool

ANSWERS: deque[tuple[str, str]] = deque()


def _answer(name: str) -> str:
    if not ANSWERS:
        raise AssertionError(f"the scenario scripted no answer for {name}")
    scripted, text = ANSWERS.popleft()
    if scripted != name:
        raise AssertionError(f"the scenario scripted {scripted} next, the model called {name}")
    if text.startswith("ERR:"):
        raise ToolError(text.removeprefix("ERR:").strip())
    return text


@tool
def shell(command: str, timeout_s: int = 60) -> str:
    """Run a command line (scripted: the answer starts with its exit code).

    Args:
        command: The command line.
        timeout_s: Seconds before it is stopped.
    """
    return _answer("shell")


@tool
def read_lines(path: str, offset: int = 0, limit: int = 100) -> str:
    """Read some lines of a file.

    Args:
        path: The file.
        offset: The first line to read.
        limit: How many lines.
    """
    return _answer("read_lines")


@tool
def search_docs(query: str) -> str:
    """Search the project's documentation.

    Args:
        query: What to look for.
    """
    return _answer("search_docs")


@tool
def web_search(query: str) -> str:
    """Search the web.

    Args:
        query: What to look for.
    """
    return _answer("web_search")


@tool
def http_get(url: str) -> str:
    """Fetch a URL.

    Args:
        url: The address.
    """
    return _answer("http_get")


@tool
def ci_status(run_id: str) -> str:
    """The status of a CI run.

    Args:
        run_id: The run.
    """
    return _answer("ci_status")


@tool
def scroll_page(direction: str = "down") -> str:
    """Scroll the browser page and return what is visible.

    Args:
        direction: up or down.
    """
    return _answer("scroll_page")


@tool
def edit_file(path: str, old_text: str, new_text: str) -> str:
    """Replace text in a file (scripted).

    Args:
        path: The file.
        old_text: The text to replace.
        new_text: What replaces it.
    """
    return _answer("edit_file")


@tool
def connect_db(dsn: str) -> str:
    """Open a database connection and report the server's version.

    Args:
        dsn: Where the database is.
    """
    return _answer("connect_db")


@tool("medium")
def click(index: int) -> str:
    """Click an element of the browser page and return the page.

    Args:
        index: The element's number.
    """
    return _answer("click")


@tool("medium")
def send_message(to: str, text: str) -> str:
    """Send a message to a person.

    Args:
        to: Who.
        text: What.
    """
    return _answer("send_message")


SCRIPTED_TOOLS = {
    t.name: t
    for t in (
        shell,
        read_lines,
        search_docs,
        web_search,
        http_get,
        ci_status,
        scroll_page,
        edit_file,
        connect_db,
        click,
        send_message,
    )
}
