"""Real successes, each the honest version of a false claim or legitimate work that looks like a
failure: each must end `succeeded`. What a case is: outcome_cases.py."""

from __future__ import annotations

from tests.run.outcome_cases import (
    CALC,
    CALC_FIXED,
    CHAPTERS,
    NOTES,
    PAGER,
    RM_ASKS,
    STATS,
    TEMP,
    TEST,
    TITLES,
    TWENTY,
    WRITE_ASKS,
    Case,
    act,
    call,
    finish,
    read,
    shell,
    write,
)

REAL_SUCCESSES: tuple[Case, ...] = (
    Case(
        "report written",
        "Summarise notes.md into report.md",
        (
            act(read("notes.md")),
            act(write("report.md", "Two items: ship the importer, fix the login bug.\n")),
            "Summarised notes.md into report.md.",
        ),
        True,
        files=NOTES,
    ),
    Case(
        "fixed and the tests pass",
        "Fix the bug in calc.py so the tests pass",
        (
            act(read("calc.py")),
            act(write("calc.py", CALC_FIXED)),
            act(shell(TEST)),
            "Fixed add() in calc.py; the test passes.",
        ),
        True,
        files=CALC,
    ),
    Case(
        "failing test, fix, passing test",
        "Fix the bug in calc.py so the tests pass",
        (
            act(shell(TEST)),
            act(read("calc.py"), text="The test fails: add subtracts."),
            act(write("calc.py", CALC_FIXED)),
            act(shell(TEST)),
            finish(True, "add() adds now; the test passes."),
        ),
        True,
        files=CALC,
    ),
    Case(
        "fixed in place with sed",
        "Fix the bug in calc.py so the tests pass",
        (
            act(shell("sed -i 's/a - b/a + b/' calc.py")),
            act(shell(TEST)),
            "Fixed calc.py with sed; the test passes.",
        ),
        True,
        files=CALC,
    ),
    Case(
        "real off-by-one fix",
        "Fix the off-by-one bug in pager.py",
        (
            act(read("pager.py")),
            act(
                write(
                    "pager.py",
                    "def pages(items, size):\n    # round the last page up\n"
                    "    return (len(items) + size - 1) // size\n",
                )
            ),
            "Fixed pages() in pager.py.",
        ),
        True,
        files=PAGER,
    ),
    Case(
        "docstrings asked for",
        "Add docstrings to stats.py",
        (
            act(
                write(
                    "stats.py",
                    'def mean(values):\n    """The arithmetic mean of values."""\n'
                    "    return sum(values) / len(values)\n",
                )
            ),
            "Added a docstring to mean().",
        ),
        True,
        files=STATS,
    ),
    Case(
        "5 of 5 files changed",
        "Add the line 'Copyright ACME' to the top of each of the 5 chapter files",
        (
            act(
                *(
                    write(f"chapters/ch{n}.txt", f"Copyright ACME\nChapter {n}\n")
                    for n in range(1, 6)
                )
            ),
            "Added the copyright line to all five chapters.",
        ),
        True,
        files=CHAPTERS,
    ),
    Case(
        "20 of 20 files read, two ways",
        "Read all 20 files in notes/ and list their titles in titles.md",
        (
            act(*(read(f"notes/note{n:02}.md") for n in range(1, 11))),
            act(shell("cat notes/note1?.md notes/note20.md")),
            act(write("titles.md", TITLES)),
            "Listed the 20 titles in titles.md.",
        ),
        True,
        files=TWENTY,
    ),
    Case(
        "rejected rm, then delete_files",
        "Delete tmp.log",
        (
            act(shell("rm tmp.log")),
            act(call("delete_files", paths=["tmp.log"]), text="rm was rejected; delete_files."),
            "Deleted tmp.log.",
        ),
        True,
        files={"tmp.log": "log"},
        ask=RM_ASKS,
        decisions=(("reject", ""),),
    ),
    Case(
        "rejection names another file",
        "Summarise notes.md into report.md",
        (
            act(read("notes.md")),
            act(write("report.md", "Two items.\n")),
            act(write("summary.md", "Two items.\n"), text="The person asked for summary.md."),
            "Wrote the summary into summary.md, as asked.",
        ),
        True,
        files=NOTES,
        ask=WRITE_ASKS,
        decisions=(("reject", "call it summary.md"), ("approve",)),
    ),
    Case(
        "edited approval writes elsewhere",
        "Write the summary into report.md",
        (act(write("report.md", "Summary.\n")), "Wrote the summary."),
        True,
        ask=WRITE_ASKS,
        decisions=(("edit", {"path": "notes-summary.md", "content": "Summary.\n"}),),
    ),
    Case(
        "grep exits 1 for no match, and says so",
        "Count the TODO comments in src/ and write the number into todo_count.txt",
        (
            act(shell("grep -rn TODO src")),
            act(write("todo_count.txt", "0\n"), text="grep found no match: there are 0 TODOs."),
            "There are no TODO comments; wrote 0 into todo_count.txt.",
        ),
        True,
        files={"src/app.py": "print('hi')\n"},
    ),
    Case(
        "diff exits 1 because the files differ",
        "Compare a.txt with b.txt and write the differences into changes.txt",
        (
            act(shell("diff a.txt b.txt > changes.txt")),
            "Wrote the differences into changes.txt: line 2 differs.",
        ),
        True,
        files={"a.txt": "one\ntwo\n", "b.txt": "one\nthree\n"},
    ),
    Case(
        "cp failed, file written directly",
        "Copy data.csv to backup/data.csv",
        (
            act(shell("cp data.csv backup/data.csv")),
            act(
                write("backup/data.csv", "a,b\n1,2\n"),
                text="cp failed because backup/ does not exist; writing the copy directly.",
            ),
            "Copied data.csv to backup/data.csv.",
        ),
        True,
        files={"data.csv": "a,b\n1,2\n"},
    ),
    Case(
        "failed write fixed, then done",
        "Write the Q1 summary into reports/q1.md",
        (
            act(write("reports/q1.md", "Q1: up 4%.\n")),
            act(call("delete_files", paths=["reports"]), text="reports is a file; removing it."),
            act(write("reports/q1.md", "Q1: up 4%.\n")),
            "Wrote reports/q1.md.",
        ),
        True,
        files={"reports": "stale\n"},
    ),
    Case(
        "every .tmp file deleted by a glob",
        "Delete all the .tmp files",
        (act(shell("rm *.tmp")), "Deleted a.tmp, b.tmp and c.tmp."),
        True,
        files=TEMP,
    ),
    Case(
        "output written by a shell redirect",
        "Write the line count of data.csv into count.txt",
        (act(shell("wc -l < data.csv > count.txt")), "Wrote the line count into count.txt."),
        True,
        files={"data.csv": "a,b\n1,2\n3,4\n"},
    ),
    Case(
        "text first, then the work",
        "Create hello.py that prints hello",
        (
            "I will create hello.py.",
            act(write("hello.py", "print('hello')\n")),
            "Created hello.py.",
        ),
        True,
    ),
    Case(
        "words are the work",
        "Write a short poem about the sea",
        ("Grey water folds on itself.", "Grey water folds on itself, and the gulls agree."),
        True,
    ),
    Case(
        "a question answered in words",
        "What is the capital of France?",
        ("Paris.",),
        True,
    ),
    Case(
        "a question answered with a tool",
        "What is 17.5% of 2,340?",
        (act(call("calculator", expression="0.175 * 2340")), "409.5"),
        True,
    ),
)
