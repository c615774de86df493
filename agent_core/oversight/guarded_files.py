"""Files whose contents run elsewhere or later: the repository's own machinery (.git/, hooks),
CI configuration, package manifests and lockfiles, build files. Writing one is the `guarded`
class, which the shipped policy asks about at every autonomy level."""

from __future__ import annotations

import posixpath
import re

# (pattern on the canonical path, what it is); a pattern without "/" matches the file's name at
# any depth, one ending in "(/|$)" a folder anywhere and the folder itself: `cp evil
# .github/workflows` writes into it as surely as `cp evil .github/workflows/ci.yml`.
_GUARDED: tuple[tuple[str, str], ...] = (
    (r"(^|/)\.git(/|$)", "the repository's own data (config, hooks, refs)"),
    (r"(^|/)\.(husky|githooks)(/|$)", "a git hook, which runs on every commit"),
    (r"(^|/)\.github/workflows(/|$)", "CI configuration, which runs on the project's CI"),
    (r"(^|/)\.github/actions(/|$)", "a CI action, which runs on the project's CI"),
    (r"(^|/)\.circleci(/|$)", "CI configuration"),
    (r"(^|/)\.buildkite(/|$)", "CI configuration"),
    (r"(^|/)(\.gitlab-ci\.ya?ml|\.travis\.ya?ml|azure-pipelines\.ya?ml|Jenkinsfile"
     r"|bitbucket-pipelines\.ya?ml|\.drone\.ya?ml|appveyor\.ya?ml|cloudbuild\.ya?ml)$",
     "CI configuration"),
    (r"(^|/)(\.pre-commit-config\.ya?ml|\.gitattributes|\.gitmodules)$",
     "repository configuration that runs programs"),
    (r"(^|/)(package\.json|pyproject\.toml|setup\.py|setup\.cfg|Pipfile|Cargo\.toml|go\.mod"
     r"|Gemfile|composer\.json|pom\.xml|build\.gradle(\.kts)?|requirements[^/]*\.(txt|in)"
     r"|environment\.ya?ml|MANIFEST\.in)$", "a package manifest: it decides what gets installed"),
    (r"(^|/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|uv\.lock|Pipfile\.lock"
     r"|Cargo\.lock|go\.sum|Gemfile\.lock|composer\.lock)$", "a lockfile: it pins what gets installed"),
    (r"(^|/)(uv\.toml|poetry\.toml|\.yarnrc(\.ya?ml)?|bunfig\.toml|\.cargo/config(\.toml)?"
     r"|\.pnpmfile\.c?js|pnpm-workspace\.yaml|nuget\.config|\.bundle/config|pip\.(conf|ini)"
     r"|\.condarc)$", "a package manager's settings: where it installs from, what it runs"),
    (r"(^|/)(Makefile|GNUmakefile|Dockerfile|Containerfile|docker-compose\.ya?ml|compose\.ya?ml"
     r"|Justfile|justfile|Taskfile\.ya?ml|tox\.ini|noxfile\.py|conftest\.py|\.?pytest\.ini"
     r"|CMakeLists\.txt|[^/]*\.cmake)$",
     "a build or test file, which runs code"),
    (r"(^|/)\.vscode/(tasks|settings|launch)\.json$", "editor configuration that runs commands"),
    (r"(^|/)\.(bashrc|zshrc|profile|bash_profile)$", "a shell start-up file"),
)  # fmt: skip
_COMPILED = tuple((re.compile(p, re.IGNORECASE), what) for p, what in _GUARDED)


def guarded_file(spellings: tuple[str, ...] | list[str]) -> str | None:
    """What the file is when any spelling of it is guarded, else None."""
    for name in spellings:
        canonical = posixpath.normpath(name.replace("\\", "/")).lstrip("/")
        for pattern, what in _COMPILED:
            if pattern.search(canonical):
                return what
    return None
