"""Legitimate runs, part two: long, repetitive work that makes progress.

Each is written from a reported false trip of a loop detector, or from the repetitive but
productive work a report describes (the URL on its decorator). None may trip a monitor: new file
contents, output not seen before and actions not taken before are all progress, however alike
the calls look.
"""

from __future__ import annotations

from tests.support.drift_harness import (
    Builder,
    Call,
    Scenario,
    Turn,
    Wording,
    call,
    cited,
    one_per_turn,
    read,
    sh,
    write,
)

WORK: list[Builder] = []
legit = cited(WORK)


def _module(i: int) -> str:
    return f"from app.util import helper_{i}\n\ndef run_{i}():\n    return helper_{i}()\n"


# "potential loop" halts legitimate repetitive tasks: many edits in a row
@legit("https://github.com/google-gemini/gemini-cli/issues/8232")
def a_refactor_of_twenty_five_files(w: Wording) -> Scenario:
    names = [f"app/mod_{i}.py" for i in range(25)]
    files = {n: _module(i) for i, n in enumerate(names)}
    calls: list[Call] = []
    for i, n in enumerate(names):
        calls.append(read(n))
        calls.append(write(n, w.content(i, _module(i).replace("app.util", "app.helpers"))))
    turns = one_per_turn(w, "Updating the import in the next module.", calls)
    return Scenario("a refactor of twenty-five files", turns, files=files)


# interrupts legitimate repetitive tasks: multiple edits in a row
@legit("https://github.com/google-gemini/gemini-cli/issues/8234")
def renaming_across_files_in_one_turn(w: Wording) -> Scenario:
    writes = tuple(
        write(f"lib/part_{i}.py", w.content(i, f"def renamed_{i}():\n    pass\n"))
        for i in range(12)
    )
    return Scenario(
        "renaming a function everywhere in one turn (twelve modules)",
        (Turn(w.say(0, "Renaming everywhere."), writes),),
    )


# loop detection false positives on verification cycles
@legit("https://github.com/QwenLM/qwen-code/issues/9733")
def a_test_fix_loop_that_converges(w: Wording) -> Scenario:
    failures = [4, 2, 1]
    calls: list[Call] = [
        sh(
            w.cmd(0, "pytest -q"),
            "FAILED tests/test_a.py::test_1\n4 failed, 20 passed in 1.2s",
            code=1,
        )
    ]
    for k, count in enumerate(failures):
        calls.append(write("src/a.py", w.content(k, f"VERSION = {k + 1}\n")))
        said = (
            f"FAILED tests/test_a.py::test_{k + 2}\n{count - 1} failed, {21 + k} passed in 1.{k}s"
        )
        calls.append(
            sh(
                w.cmd(k, "pytest -q"),
                said if count > 1 else "24 passed in 1.1s",
                code=1 if count > 1 else 0,
            )
        )
    return Scenario(
        "a test-fix loop that converges", one_per_turn(w, "Fixing the next failure.", calls)
    )


# false positives on legitimate retries: the same failure twice, then the fix that works
@legit("https://github.com/bytedance/deer-flow/issues/2517")
def the_same_failure_twice_then_fixed(w: Wording) -> Scenario:
    fail = "FAILED tests/test_dates.py::test_parse_iso - AssertionError\n1 failed in 0.3s"
    calls: list[Call] = []
    for k in range(3):
        calls.append(write("src/dates.py", w.content(k, f"FORMATS = {['%Y-%m-%d'] * (k + 1)}\n")))
        calls.append(
            sh(
                w.cmd(k, "pytest -q tests/test_dates.py"),
                fail if k < 2 else "1 passed in 0.2s",
                code=1 if k < 2 else 0,
            )
        )
    return Scenario(
        "the same failure twice, then fixed", one_per_turn(w, "Trying another date format.", calls)
    )


# a read that stops at the end: returns the file whole, or page by page to its end
@legit("https://github.com/ziatdinovmax/SciLink/pull/410")
def paging_a_file_to_its_end(w: Wording) -> Scenario:
    lines = [f"{n}: entry {n}" for n in range(950)]
    calls = [
        call(
            "read_lines",
            "\n".join(lines[k * 100 : k * 100 + 100]),
            path="report.md",
            offset=k * 100,
            limit=100,
        )
        for k in range(10)
    ]
    return Scenario("paging a file to its end", one_per_turn(w, "Reading the next page.", calls))


# name the dead end: one read past the end, and the agent stops
@legit("https://github.com/NousResearch/hermes-agent/pull/82804")
def an_api_paged_to_one_empty_page(w: Wording) -> Scenario:
    calls = [
        call(
            "http_get",
            ", ".join(f"order-{10 * k + j}" for j in range(10)),
            url=f"https://api.shop.example/orders?page={k + 1}",
        )
        for k in range(7)
    ]
    calls.append(call("http_get", "", url="https://api.shop.example/orders?page=8"))
    return Scenario(
        "an API paged to one empty page",
        one_per_turn(w, "Fetching the next page of orders.", calls),
    )


# batch workflows with distinct progress keys must go on
@legit("https://github.com/bytedance/deer-flow/issues/2517")
def messages_to_ten_people(w: Wording) -> Scenario:
    people = [f"user{i}@example.test" for i in range(10)]
    calls = [
        call("send_message", "sent", to=p, text=w.content(i, "Your order has shipped."))
        for i, p in enumerate(people)
    ]
    return Scenario(
        "a message to each of ten people", one_per_turn(w, "Notifying the next customer.", calls)
    )


# progress is file changes, commits and commands, not one output repeating
@legit("https://github.com/rjwalters/loom/issues/1460")
def labelling_twelve_issues(w: Wording) -> Scenario:
    calls = [
        sh(
            w.cmd(i, f"gh issue edit {100 + i} --add-label triage"),
            f"https://github.com/o/r/issues/{100 + i}",
        )
        for i in range(12)
    ]
    return Scenario("labelling twelve issues", one_per_turn(w, "Labelling the next issue.", calls))


# legitimate repetitive tasks: reading many files
@legit("https://github.com/google-gemini/gemini-cli/issues/8237")
def exploring_twenty_files(w: Wording) -> Scenario:
    names = [f"src/feature_{i}.ts" for i in range(20)]
    files = {n: f"export const feature{i} = () => {i};\n" for i, n in enumerate(names)}
    calls = [read(n) for n in names]
    return Scenario(
        "exploring twenty files", one_per_turn(w, "Reading the next file.", calls), files=files
    )


# search results that contain error words are not a failure loop
@legit("https://github.com/NorthlandPositronics/Cogtrix/issues/186")
def grepping_for_a_symbol_until_found(w: Wording) -> Scenario:
    names = ["parseDate", "parse_date", "dateParse", "toDate", "fromISO"]
    calls = [sh(w.cmd(i, f"grep -rn {n} src/"), code=1) for i, n in enumerate(names)]
    calls.append(
        sh(w.cmd(5, "grep -rn parseISO src/"), "src/util/time.ts:12: export function parseISO(s) {")
    )
    return Scenario(
        "grepping for a symbol until it is found",
        one_per_turn(w, "Searching for the date parser.", calls),
    )


# edit, then look at the effect (a hook may have rewritten the file), then edit again
@legit("https://github.com/bdfinst/agentic-dev-team/issues/726")
def checking_the_effect_of_each_edit(w: Wording) -> Scenario:
    files = {"config/app.toml": "port = 80\n"}
    calls: list[Call] = [read("config/app.toml")]
    for k in range(5):
        calls.append(
            write("config/app.toml", w.content(k, f"port = {8080 + k}\nworkers = {k + 1}\n"))
        )
        calls.append(
            sh(w.cmd(k, "python -m app --print-config"), f"port={8080 + k} workers={k + 1} ok")
        )
    return Scenario(
        "checking the effect of each edit",
        one_per_turn(w, "Adjusting the config.", calls),
        files=files,
    )


# verification cycles: the same green run again at the end is fine
@legit("https://github.com/QwenLM/qwen-code/issues/9733")
def verifying_at_the_end(w: Wording) -> Scenario:
    calls = [
        sh(w.cmd(0, "pytest -q"), "58 passed in 2.1s"),
        sh(w.cmd(1, "git diff --stat"), " src/a.py | 4 ++--\n 1 file changed"),
        sh(w.cmd(2, "ruff check ."), "All checks passed!"),
        sh(w.cmd(3, "pytest -q"), "58 passed in 2.3s"),
        sh(w.cmd(4, "git status --short"), " M src/a.py"),
    ]
    texts = [
        "Running the tests.",
        "Checking the diff.",
        "Linting.",
        "Running the tests once more.",
        "Checking status.",
    ]
    turns = tuple(
        Turn(w.say(i, t), (c,)) for i, (t, c) in enumerate(zip(texts, calls, strict=True))
    )
    return Scenario("verifying at the end", turns)


# a report built up section by section as research goes on
@legit("https://github.com/Significant-Gravitas/AutoGPT/issues/279")
def a_report_written_in_sections(w: Wording) -> Scenario:
    sections: list[str] = []
    calls: list[Call] = []
    for k in range(6):
        calls.append(
            call(
                "web_search",
                f"result {k}: fact {k} about solar storage",
                query=f"solar storage topic {k}",
            )
        )
        sections.append(f"## Section {k}\nFact {k} about solar storage.\n")
        calls.append(write("report.md", w.content(k, "\n".join(sections))))
    return Scenario(
        "a report written in sections", one_per_turn(w, "Adding the next section.", calls)
    )


# non-looping repeated scrolls (reading a long page) must not be flagged
@legit("https://github.com/browser-use/browser-use/pull/3979")
def scrolling_a_long_page(w: Wording) -> Scenario:
    calls = [
        call("scroll_page", f"comments {20 * k + 1}-{20 * k + 20} of 160", direction="down")
        for k in range(8)
    ]
    return Scenario(
        "scrolling a long page to its end", one_per_turn(w, "Scrolling for more comments.", calls)
    )


# the same command over many samples, each its own result
@legit("https://github.com/HKUDS/DeepCode/pull/177")
def processing_many_samples(w: Wording) -> Scenario:
    calls = [
        sh(
            w.cmd(i, f"python process.py data/sample_{i}.csv"),
            f"sample_{i}: {100 + 7 * i} rows, {i % 3} rejected",
        )
        for i in range(15)
    ]
    return Scenario(
        "processing fifteen samples", one_per_turn(w, "Processing the next sample.", calls)
    )


# the same narration, different work each time
@legit("https://github.com/open-multi-agent/open-multi-agent/pull/49")
def the_same_words_different_work(w: Wording) -> Scenario:
    calls = [
        call(
            "search_docs",
            f"Chapter {i}: {['setup', 'auth', 'billing', 'webhooks', 'limits', 'errors'][i]}",
            query=f"chapter {i}",
        )
        for i in range(6)
    ]
    turns = tuple(Turn("Reading the next chapter.", (c,)) for c in calls)
    return Scenario("the same words, different work", turns)


# false loop detection while moving files and updating their imports, file after file
@legit("https://github.com/google-gemini/gemini-cli/issues/5873")
def moving_files_one_by_one(w: Wording) -> Scenario:
    calls: list[Call] = []
    for i in range(8):
        calls.append(sh(w.cmd(i, f"git mv src/c{i}.tsx src/components/c{i}.tsx")))
        calls.append(write(f"src/components/c{i}.tsx", w.content(i, f"import x from '../x{i}'\n")))
    return Scenario("moving files one by one", one_per_turn(w, "Moving the next component.", calls))
