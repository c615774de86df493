"""The class of one program a shell command runs (its flags and operands read as the shell would).

Each function returns (class, why) or None when the program is not known here: an unknown program
is never taken for a read, a build or a write; the tool's risk decides it.
"""

from __future__ import annotations

import re

from agent_core.oversight.git_classes import git_class, talks_to_remote
from agent_core.oversight.shell_commands import Invocation
from storage.vocabulary import CallClass

Found = tuple[CallClass, str] | None
READ, BUILD, WRITE = CallClass.READ, CallClass.BUILD, CallClass.WRITE
NETWORK, INSTALL, GUARDED = CallClass.NETWORK, CallClass.INSTALL, CallClass.GUARDED
DESTRUCTIVE, ESCALATION = CallClass.DESTRUCTIVE, CallClass.ESCALATION

# Programs that only look: they print what they read and change nothing.
_READERS = frozenset(
    """ls cat head tail less more grep egrep fgrep rg ag ack wc pwd echo printf stat file du df
    diff cmp sort uniq cut tr nl tree which whereis type basename dirname realpath readlink date
    whoami id uname printenv true false test [ jq yq column comm join paste fold fmt od hexdump
    xxd md5sum sha1sum sha256sum sha512sum b2sum cksum seq sleep cd pushd popd zcat zgrep bzcat
    xzcat strings expr ps free uptime hostname locale man help history tac rev look wait nproc
    command hash getconf lsof pgrep time""".split()
)
# Options with which a reader writes a file (`sort -o package.json`, `tree -o`, `yq -i`).
_OUTPUT_FLAGS = {
    "sort": {"-o", "--output"},
    "tree": {"-o"},
    "yq": {"-i", "--inplace"},
    "less": {"-o", "-O", "--log-file", "--LOG-FILE"},
    "history": {"-w", "-a"},
    "file": {"-C"},
}
_OUTPUT_OPERAND = ("uniq", "xxd")  # `uniq IN OUT`, `xxd [-r] IN OUT`: the second file is written


def _reader_writes(invocation: Invocation) -> bool:
    """Whether a program that mostly only reads writes a file in this call."""
    program = invocation.program
    if invocation.flags & _OUTPUT_FLAGS.get(program, set()):
        return True
    return program in _OUTPUT_OPERAND and len(invocation.operands) > 1


_ESCALATORS = frozenset({"sudo", "su", "doas", "pkexec", "runuser", "setpriv", "nsenter",
                         "unshare", "chroot", "mount", "umount", "setcap", "capsh", "insmod",
                         "modprobe", "sysctl", "iptables", "nft", "visudo", "passwd", "useradd",
                         "usermod", "crontab", "systemctl", "launchctl"})  # fmt: skip
_NETWORK = frozenset({"curl", "wget", "ssh", "scp", "sftp", "nc", "ncat", "netcat", "telnet",
                      "ftp", "rsync", "http", "https", "xh", "aria2c", "socat", "twine", "ping",
                      "dig", "nslookup", "host", "gsutil", "aws", "gcloud", "az"})  # fmt: skip
_TESTERS = frozenset({"pytest", "py.test", "tox", "nox", "ruff", "mypy", "flake8", "pylint",
                      "black", "isort", "pyright", "eslint", "tsc", "jest", "vitest", "mocha",
                      "prettier", "cargo-test", "ctest", "bandit", "coverage"})  # fmt: skip
_FORMATTERS = frozenset({"black", "isort", "prettier", "gofmt", "rustfmt", "clang-format"})
_BUILD_SUBCOMMANDS = {
    "npm": frozenset({"test", "t", "run", "run-script", "audit", "ls", "list", "outdated", "view",
                      "start", "build", "ci-info", "pack", "version"}),
    "pnpm": frozenset({"test", "run", "audit", "ls", "list", "outdated", "build", "start"}),
    "yarn": frozenset({"test", "run", "audit", "list", "outdated", "build", "start"}),
    "cargo": frozenset({"build", "test", "check", "clippy", "fmt", "run", "bench", "doc", "tree"}),
    "go": frozenset({"build", "test", "vet", "fmt", "run", "list", "doc", "env", "version"}),
    "make": frozenset(),  # any target: the project's own Makefile, run in the sandbox
    "uv": frozenset({"run", "lock", "tree"}),
    "poetry": frozenset({"run", "check", "show", "build"}),
    "dotnet": frozenset({"build", "test", "run"}),
    "mvn": frozenset({"test", "compile", "verify", "package"}),
    "gradle": frozenset({"test", "build", "check"}),
}  # fmt: skip
_INSTALLERS = {
    "pip": frozenset({"install", "download", "wheel"}),
    "pip3": frozenset({"install", "download", "wheel"}),
    "npm": frozenset({"install", "i", "ci", "add", "update", "exec", "x", "rebuild"}),
    "pnpm": frozenset({"install", "i", "add", "update", "dlx", "exec"}),
    "yarn": frozenset({"install", "add", "upgrade", "dlx"}),
    "uv": frozenset({"add", "sync", "pip", "tool"}),
    "poetry": frozenset({"add", "install", "update", "lock"}),
    "cargo": frozenset({"install", "add", "update"}),
    "go": frozenset({"install", "get", "mod"}),
    "gem": frozenset({"install", "update"}),
    "bundle": frozenset({"install", "update", "add"}),
    "apt": frozenset({"install", "upgrade", "update"}),
    "apt-get": frozenset({"install", "upgrade", "update", "dist-upgrade"}),
    "brew": frozenset({"install", "upgrade", "tap"}),
    "conda": frozenset({"install", "update", "create"}),
    "pipx": frozenset({"install", "run", "inject"}),
}  # fmt: skip
_PIP_READS = frozenset({"show", "list", "freeze", "check", "config", "debug", "inspect", "help"})
_FETCH_AND_RUN = frozenset({"npx", "bunx", "pnpx", "uvx"})
# Wrappers that only run the command after them, which is read (and classed) as its own part.
_PASS_THROUGH = frozenset({"env", "nohup", "setsid", "time", "nice", "ionice", "stdbuf",
                           "chronic", "unbuffer", "timeout", "flock", "exec", "builtin"})  # fmt: skip
# Interpreters running a script file of the workspace (inline code is a doubt of its own).
_SCRIPT_RUNNERS = {
    "python": (".py",), "python3": (".py",), "py": (".py",), "node": (".js", ".mjs", ".cjs"),
    "ruby": (".rb",), "bash": (".sh",), "sh": (".sh",), "deno": (".ts", ".js"), "bun": (".ts", ".js"),
}  # fmt: skip


def program_class(invocation: Invocation) -> Found:
    """The class of `invocation` by its program, flags and operands; a command `find -exec`
    runs on every file it finds is known only when it reads or checks (`-exec grep`), since
    what it writes it writes to each of them (`-exec cp /dev/null {} ;`)."""
    found = _program_class(invocation)
    if invocation.each_file and found is not None and found[0] not in (READ, BUILD):
        return None
    return found


def _program_class(invocation: Invocation) -> Found:
    program, flags, operands = invocation.program, invocation.flags, invocation.operands
    if program in _ESCALATORS:
        return ESCALATION, f"`{program}` reaches for more power than the sandbox gives"
    if invocation.words in (("--version",), _VERSIONS.get(program)):
        if program in _TOOLCHAINS:
            return READ, f"`{program} {invocation.words[0]}` only prints its version"
    if program == "cmake":
        return _cmake(flags)
    if "--basetemp" in flags or _passed_basetemp(invocation):
        return DESTRUCTIVE, "`--basetemp` makes pytest delete the folder it names first"
    if program == "git":
        return git_class(invocation)
    if program in ("python", "python3", "py") and "-m" in flags and operands:
        return _python_module(operands[0], operands[1:])
    if program in _SCRIPT_RUNNERS and operands and operands[0].endswith(_SCRIPT_RUNNERS[program]):
        if not flags & {"-c", "-e", "--eval", "-p", "--print"}:
            return BUILD, f"`{program}` runs the project's own script inside the sandbox"
    subs = _from_subcommand(invocation)
    if subs is None:
        return None  # an option before the subcommand may have taken it as its value
    if program in _BUILD_SUBCOMMANDS and subs[:1] in _MANIFEST_WRITERS:
        return _manifest_writer(program, flags, subs)
    for table, kind in ((_INSTALLERS, INSTALL), (_BUILD_SUBCOMMANDS, BUILD)):
        if program in table and subs and (not table[program] or subs[0] in table[program]):
            return _subcommand(program, subs[0], kind)
    if program in ("pip", "pip3") and subs and subs[0] in _PIP_READS:
        return READ, f"`{program} {subs[0]}` only reports"
    if program == "make":
        return BUILD, "`make` builds the project's own targets inside the sandbox"
    if program in _FETCH_AND_RUN:
        return INSTALL, f"`{program}` fetches a package and runs it"
    if program in _NETWORK:
        return _network(program, flags)
    for check in (_file_changes, _permissions, _finder, _editors):
        found = check(invocation)
        if found is not None:
            return found
    if program in _TESTERS:
        if program in _FORMATTERS or "--fix" in flags or operands[:1] == ("format",):
            return WRITE, f"`{program}` rewrites files of the workspace"
        return BUILD, f"`{program}` checks the project's own code inside the sandbox"
    if program in _READERS and _reader_writes(invocation):
        return WRITE, f"`{program}` writes its output into a file"
    if program in _READERS:
        return READ, f"`{program}` only reads"
    if program in _PASS_THROUGH:
        return READ, f"`{program}` only runs the command after it (classed on its own)"
    return None


# Tools whose `--version` (or the one word listed) prints their version and runs nothing else.
_TOOLCHAINS = frozenset(
    """python python3 py pypy3 pip pip3 node npm npx yarn pnpm bun deno ruby gem bundle perl php
    go cargo rustc rustup gcc g++ cc clang clang++ make cmake ninja ctest java javac mvn gradle
    dotnet uv poetry pipx pytest ruff mypy black isort flake8 pylint pyright tsc eslint prettier
    jest git docker kubectl terraform helm gh jq sqlite3 conda tox nox""".split()
)
_VERSIONS = {
    **{p: ("-V",) for p in ("python", "python3", "py", "pypy3", "cargo", "rustc", "pip", "pip3")},
    **{p: ("-v",) for p in ("node", "npm", "yarn", "pnpm", "bun")},
    "java": ("-version",),
}


def _cmake(flags: frozenset[str]) -> Found:
    """`cmake` configures (`cmake -S . -B build`) or builds (`--build`) the project: its own
    CMakeLists.txt, as `make` runs its Makefile; `-E` (any file operation), `-P` (a script) and
    `--install` (into a prefix outside the workspace) are not known here."""
    if flags & {"-E", "-P", "--install", "--open"}:
        return None
    return BUILD, "`cmake` configures or builds the project's own code inside the sandbox"


_NODE_SWITCHES = frozenset({"-s", "--silent", "-q", "--quiet", "-d", "--verbose", "-y", "--yes",
                            "-g", "--global", "--no-color", "--json"})  # fmt: skip
_NODE_VALUES = frozenset({"-w", "--workspace", "--prefix", "-C", "--dir", "--cwd", "--filter", "-F",
                          "--tag", "--registry", "--userconfig", "--cache", "--loglevel", "--otp",
                          "--scope"})  # fmt: skip
_PIP_SWITCHES = frozenset({"-q", "--quiet", "-v", "--verbose", "--no-cache-dir", "--isolated",
                           "--disable-pip-version-check", "--no-input", "--no-color",
                           "--require-virtualenv"})  # fmt: skip
_PIP_VALUES = frozenset({"--log", "--cache-dir", "--proxy", "--timeout", "--retries", "--cert",
                         "--client-cert", "--exists-action", "--python", "--trusted-host",
                         "--index-url", "-i", "--extra-index-url"})  # fmt: skip
# A tool's own options before its subcommand: (switches, options whose value is the next word).
# `npm --tag test publish` publishes ("test" is the tag), `gradle -x test publish` too, and
# `pip --log list install x` installs: the subcommand is the first word past them.
_LEAD_OPTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    **{p: (_NODE_SWITCHES, _NODE_VALUES) for p in ("npm", "pnpm", "yarn")},
    **{p: (_PIP_SWITCHES, _PIP_VALUES) for p in ("pip", "pip3")},
    "cargo": (frozenset({"-q", "--quiet", "-v", "--verbose", "--frozen", "--locked", "--offline"}),
              frozenset({"--color", "--config", "-Z", "-C"})),
    "go": (frozenset(), frozenset({"-C"})),
    "uv": (frozenset({"-q", "--quiet", "-v", "--verbose", "--offline", "--no-cache", "--frozen",
                      "--locked", "--no-progress", "--native-tls"}),
           frozenset({"--directory", "--project", "--cache-dir", "--color", "--config-file",
                      "-p", "--python"})),
    "poetry": (frozenset({"-q", "--quiet", "-v", "-vv", "-vvv", "-n", "--no-interaction", "--ansi",
                          "--no-ansi", "--no-plugins", "--no-cache"}),
               frozenset({"-C", "--directory", "-P", "--project"})),
    "mvn": (frozenset({"-q", "--quiet", "-B", "--batch-mode", "-e", "-X", "-o", "--offline", "-U",
                       "-ntp", "--no-transfer-progress", "-fae", "-ff", "-N", "-C", "-c", "-V"}),
            frozenset({"-f", "--file", "-s", "--settings", "-gs", "-pl", "--projects", "-rf", "-T",
                       "-P", "-l", "-t"})),
    "gradle": (frozenset({"-q", "--quiet", "--no-daemon", "--daemon", "--offline", "--stacktrace",
                          "-S", "-s", "--info", "-i", "--debug", "-d", "--scan", "--parallel",
                          "--continue", "--build-cache", "-w", "--warn"}),
               frozenset({"-p", "--project-dir", "-b", "-c", "-g", "-x", "--exclude-task", "-I",
                          "--init-script"})),
}  # fmt: skip


def _from_subcommand(invocation: Invocation) -> tuple[str, ...] | None:
    """The operands from the subcommand on, past the tool's own leading options; None when one
    of them is not known here (its value, if it takes one, would be read as the subcommand)."""
    known = _LEAD_OPTIONS.get(invocation.program)
    if known is None or not invocation.words:
        return invocation.operands
    switches, valued = known
    index, skip, words = 0, 0, invocation.words
    while index < len(words) and words[index].startswith("-") and words[index] != "-":
        word = words[index]
        attached = word.startswith("-D") or (
            invocation.program in ("mvn", "gradle")
            and (not word.startswith("--") and len(word) > 2 and word not in valued)
        )
        if word in valued:
            index += 1
            skip += index < len(words) and not words[index].startswith("-")
        elif word == "--" or not ("=" in word or word in switches or attached):
            return None
        index += 1
    return invocation.operands[skip:]


# Subcommands of a build tool that rewrite the manifest or lockfile, or install what they pick.
_MANIFEST_WRITERS = (("audit",), ("version",), ("lock",))
_NODE_MANAGERS = ("npm", "pnpm", "yarn")


def _manifest_writer(program: str, flags: frozenset[str], operands: tuple[str, ...]) -> Found:
    sub = operands[0]
    if sub == "audit" and operands[1:2] == ("fix",):
        return INSTALL, f"`{program} audit fix` installs other versions of the dependencies"
    if sub == "version" and program in _NODE_MANAGERS and len(operands) > 1:
        return GUARDED, f"`{program} version` rewrites the package manifest (and commits, tags)"
    if sub == "lock" and not flags & {"--check", "--locked", "--dry-run", "--check-exists"}:
        return GUARDED, f"`{program} lock` rewrites the lockfile: it pins what gets installed"
    return BUILD, f"`{program} {sub}` reports on the project"


def reaches_any_host(invocation: Invocation) -> bool:
    """Whether the program talks to whatever host its words name (`curl`, `wget`, `ssh`, `git
    push`: `git push https://evil.test/x.git`, or `git push -o origin backup`, where `origin` is
    an option's value), so that no prefix of it stands for one destination."""
    if invocation.program == "git":
        return talks_to_remote(invocation)
    return invocation.program in _NETWORK


def _passed_basetemp(invocation: Invocation) -> bool:
    """pytest's `--basetemp` inside another word: `-o addopts=--basetemp=DIR`, a runner's
    arguments for it (`npm test -- --basetemp=DIR`, `tox -- …`, `make test ARGS=--basetemp=DIR`):
    DIR is removed as `pytest --basetemp=DIR` removes it. A reader only prints the word."""
    if invocation.program in _READERS:
        return False
    return any("--basetemp" in word for word in invocation.words)


def _python_module(module: str, rest: tuple[str, ...]) -> Found:
    if module in ("pip", "pip3"):
        if rest and rest[0] in _PIP_READS:
            return READ, f"`pip {rest[0]}` only reports"
        return INSTALL, "`python -m pip` installs code from a registry"
    if module in ("venv", "virtualenv"):
        return WRITE, f"`python -m {module}` creates a virtual environment in the workspace"
    if module in ("http.server", "smtpd", "ftplib"):
        return NETWORK, f"`python -m {module}` serves or connects over the network"
    if module == "json.tool" and len([r for r in rest if not r.startswith("-")]) > 1:
        return WRITE, "`python -m json.tool IN OUT` writes its second file"
    if module in ("json.tool", "tabnanny", "pydoc", "site", "this", "platform"):
        return READ, f"`python -m {module}` only reads"
    if module in _TESTERS or module in ("unittest", "doctest", "compileall", "py_compile"):
        return BUILD, f"`python -m {module}` checks the project's own code inside the sandbox"
    return None


def _subcommand(program: str, sub: str, kind: CallClass) -> Found:
    if kind is INSTALL:
        return INSTALL, f"`{program} {sub}` installs third-party code from a registry"
    return BUILD, f"`{program} {sub}` builds or tests the project's own code inside the sandbox"


def _network(program: str, flags: frozenset[str]) -> Found:
    sending = {"-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "-F", "--form",
               "-T", "--upload-file", "--post-data", "--post-file", "--body-file"}  # fmt: skip
    if flags & sending:
        return NETWORK, f"`{program}` sends data to another host"
    return NETWORK, f"`{program}` connects to another host"


def _file_changes(invocation: Invocation) -> Found:
    """rm, mv, cp, mkdir, touch, truncate, shred, dd, ln, tee, rmdir."""
    program, flags, operands = invocation.program, invocation.flags, invocation.operands
    globbed = any(word.glob for word in invocation.paths)
    if program == "rm":
        if flags & {"-r", "-R", "--recursive"} or globbed or len(operands) > 3:
            return DESTRUCTIVE, "`rm` deletes several files or a folder for good"
        return WRITE, "`rm` deletes the named files of the workspace"
    if program in ("shred", "wipe", "srm"):
        return DESTRUCTIVE, f"`{program}` destroys files for good"
    if program == "truncate" or (program == "dd" and any(o.startswith("of=") for o in operands)):
        return DESTRUCTIVE, f"`{program}` overwrites a file's contents in place"
    if _moves_out(invocation):
        return DESTRUCTIVE, (
            f"`{program}` moves files out of the workspace (the sandbox's /tmp, /dev/shm and home "
            "go when the command ends)"
        )
    if program in ("mv", "cp", "ln", "install"):
        if "-f" in flags and program != "cp":
            return DESTRUCTIVE, f"`{program} -f` replaces what is already there"
        return WRITE, f"`{program}` creates or moves files inside the workspace"
    if program in ("mkdir", "touch", "tee", "rmdir", "mktemp", "unzip", "tar", "gzip", "gunzip",
                   "zip", "patch", "split", "csplit"):  # fmt: skip
        if program == "tar" and flags & {"-t", "--list"}:
            return READ, "`tar -t` lists an archive"
        if program == "unzip" and "-l" in flags:
            return READ, "`unzip -l` lists an archive"
        return WRITE, f"`{program}` writes files inside the workspace"
    return None


def _outside(word: str) -> bool:
    """Whether a path word may name a writable place outside the workspace: absolute or `~`
    (`..` up out of it is not writable in the sandbox, so a move there fails and loses nothing,
    and after a `cd` it is often the workspace itself)."""
    return word.startswith(("/", "~"))


def _moves_out(invocation: Invocation) -> bool:
    """Whether the command moves files out of the workspace: `mv` to an outside destination
    (its last operand, or `-t DIR`), `tar --remove-files` or `zip -m` into an outside archive.
    An absolute name of the workspace itself counts too: it asks, never loses work."""
    program, flags, operands = invocation.program, invocation.flags, invocation.operands
    if program == "mv" and operands:
        into = [operands[0] if "-t" in flags else operands[-1]]
        into += [w.split("=", 1)[1] for w in invocation.words if w.startswith("--target-d")]
        return any(_outside(w) for w in into)
    removes = (program in ("tar", "gtar") and "--remove-files" in flags) or (
        program == "zip" and flags & {"-m", "--move"}
    )
    return bool(removes) and any(_outside(o) for o in operands)


def _permissions(invocation: Invocation) -> Found:
    program, flags, operands = invocation.program, invocation.flags, invocation.operands
    if program not in ("chmod", "chown", "chgrp", "chattr", "setfacl"):
        return None
    modes = " ".join(operands[:1])
    if program == "chmod" and any(m in modes for m in ("777", "666", "s", "a+w", "o+w", "+t")):
        return ESCALATION, f"`chmod {modes}` opens files to everyone or sets privilege bits"
    if program in ("chown", "chgrp") and "root" in modes:
        return ESCALATION, f"`{program} {modes}` hands files to root"
    if flags & {"-R", "-r", "--recursive"}:
        return DESTRUCTIVE, f"`{program} -R` changes every file under a folder at once"
    if program == "chmod" and modes in ("+x", "u+x", "755", "744", "700", "644", "600"):
        return WRITE, f"`chmod {modes}` changes one file's mode"
    return GUARDED, f"`{program}` changes who may use the files"


_RUNS_EACH = frozenset({"-exec", "-execdir", "-ok", "-okdir"})


def _finder(invocation: Invocation) -> Found:
    if invocation.program not in ("find", "fd", "locate"):
        return None
    acting = {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0",
              "-fprintf", "-fls", "-x", "--exec", "-X", "--exec-batch"}  # fmt: skip
    words = set(invocation.flags) | set(invocation.operands)
    if "-delete" in words:
        return DESTRUCTIVE, "`find -delete` deletes every file it matches"
    if invocation.program == "find" and words & acting <= _RUNS_EACH:
        return READ, "`find` lists files and runs a command on each (classed on its own)"
    if words & acting:
        return None  # -fprint writes, and what fd runs is not read: not known here
    return READ, f"`{invocation.program}` only lists files"


def _editors(invocation: Invocation) -> Found:
    program, flags, operands = invocation.program, invocation.flags, invocation.operands
    if program in ("sed", "perl", "ruby") and any(
        f.startswith(("-i", "--in-place")) for f in flags
    ):
        backed_up = any(len(f) > 2 and f.startswith("-i") or "=" in f for f in flags)
        files = [o for o in operands[1:]] if program == "sed" else list(operands)
        if not backed_up and (len(files) > 1 or any(w.glob for w in invocation.paths)):
            return DESTRUCTIVE, f"`{program} -i` rewrites several files in place with no backup"
        return WRITE, f"`{program} -i` edits a file of the workspace in place"
    if program in _AWKS and flags & _AWK_LIBRARIES:  # gawk -i inplace: edits its files
        return WRITE, f"`{program}` loads a library (`-i inplace` rewrites its files in place)"
    if program in _AWKS and (flags & _PROGRAM_FILES or any(map(_AWK_WRITES.search, operands))):
        return None  # what its program writes or runs is not known here: the tool's risk decides
    if program == "sed" and (flags & _PROGRAM_FILES or any(map(_sed_writes, operands))):
        return None
    if program in ("sed", *_AWKS):
        return READ, f"`{program}` prints what it reads"
    return None


_AWKS = ("awk", "gawk", "mawk", "nawk")
_AWK_LIBRARIES = frozenset({"-i", "--include", "-l", "--load"})
_PROGRAM_FILES = frozenset({"-f", "--file", "-E", "--exec"})
# An awk program that writes a file (`print > "f"`), pipes to or from a command, or runs one.
_AWK_WRITES = re.compile(r"\bprintf?\b[^;{}\n]*[>|]|\|\s*getline|\|&|\bsystem\s*\(")
# A sed script's `w FILE`, `W FILE` or `e CMD` command, or an `s` command's `w`/`e` flag.
_SED_COMMAND = re.compile(r"(^|[;{}\n])\s*(([0-9$~+,]|/[^/]*/)\s*)*!?\s*[wWe](\s|$)")
_SED_FLAGS = re.compile(r"s(.)(?:\\.|(?!\1).)*\1(?:\\.|(?!\1).)*\1[gpiImM0-9]*[we]")


def _sed_writes(script: str) -> bool:
    """Whether a sed script may write a file or run a command (not only print what it reads)."""
    return bool(_SED_COMMAND.search(script) or _SED_FLAGS.search(script))
