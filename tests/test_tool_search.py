"""list_files and grep on real directory trees, in git repositories and outside them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from gemma_code.agent.protocols import ToolContext, ToolError
from gemma_code.agent.workspace import LocalWorkspace
from gemma_code.tools.search import Grep, ListFiles, PathFilter

from .conftest import drain


def make_ctx(root: Path) -> ToolContext:
    return ToolContext(workspace=LocalWorkspace(root))


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return make_ctx(tmp_path)


def run(tool, ctx: ToolContext, **kwargs):
    return tool(tool.Args(**kwargs), ctx)


def listed(ctx: ToolContext, **kwargs) -> list[str]:
    return run(ListFiles(), ctx, **kwargs).content[0].text.splitlines()


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def git_init(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with root and nested .gitignore files and .git/info/exclude."""
    git_init(tmp_path)
    write(
        tmp_path,
        {
            ".gitignore": "*.log\nbuild/\n/secret.txt\n",
            "src/app.py": "def main():\n    return 'TODO: app'\n",
            "src/util.py": "# TODO: util\n",
            "src/debug.log": "TODO: log\n",
            "src/vendor/.gitignore": "*\n!.gitignore\n!keep.py\n",
            "src/vendor/keep.py": "TODO = 'vendor keep'\n",
            "src/vendor/drop.py": "TODO = 'vendor drop'\n",
            "docs/.gitignore": "draft.md\n!important.log\n",
            "docs/draft.md": "TODO: draft\n",
            "docs/final.md": "TODO: final\n",
            "docs/important.log": "TODO: important\n",
            "build/out.py": "TODO = 'built'\n",
            "secret.txt": "TODO: secret\n",
            "nested/secret.txt": "TODO: nested secret\n",
            "local.tmp": "TODO: excluded\n",
            "README.md": "readme\n",
        },
    )
    (tmp_path / ".git" / "info").mkdir(exist_ok=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("*.tmp\n")
    return tmp_path


EXPECTED_REPO_FILES = [
    ".gitignore",
    "README.md",
    "docs/.gitignore",
    "docs/final.md",
    "docs/important.log",
    "nested/secret.txt",
    "src/app.py",
    "src/util.py",
    "src/vendor/.gitignore",
    "src/vendor/keep.py",
]


def test_list_files_respects_gitignore_like_git(repo):
    assert listed(make_ctx(repo)) == EXPECTED_REPO_FILES
    # git itself agrees on which files are not ignored.
    git = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(git) == EXPECTED_REPO_FILES


def test_list_files_in_subfolder_applies_parent_rules(repo):
    assert listed(make_ctx(repo), path="src") == [
        "src/app.py",
        "src/util.py",
        "src/vendor/.gitignore",
        "src/vendor/keep.py",
    ]


def test_list_files_in_non_git_directory_with_gitignore(tmp_path):
    write(
        tmp_path,
        {
            ".gitignore": "node_modules/\n*.pyc\n",
            "a.py": "",
            "a.pyc": b"\0",
            "node_modules/x/index.js": "",
            "pkg/.gitignore": "generated.py\n",
            "pkg/generated.py": "",
            "pkg/real.py": "",
        },
    )
    assert listed(make_ctx(tmp_path)) == [".gitignore", "a.py", "pkg/.gitignore", "pkg/real.py"]


def test_list_files_skips_dot_git_even_without_gitignore(tmp_path):
    git_init(tmp_path)
    write(tmp_path, {"a.txt": "a"})
    assert listed(make_ctx(tmp_path)) == ["a.txt"]


def test_list_files_patterns(ctx, tmp_path):
    write(
        tmp_path,
        {
            "a.py": "",
            "b.txt": "",
            "src/c.py": "",
            "src/deep/d.py": "",
            "src/e.ts": "",
            "web/f.tsx": "",
        },
    )
    assert listed(ctx, pattern="*.py") == ["a.py", "src/c.py", "src/deep/d.py"]
    assert listed(ctx, pattern="**/*.py") == ["a.py", "src/c.py", "src/deep/d.py"]
    assert listed(ctx, pattern="src/*.py") == ["src/c.py"]
    assert listed(ctx, pattern="src/**/*.py") == ["src/c.py", "src/deep/d.py"]
    assert listed(ctx, pattern="*.{ts,tsx}") == ["src/e.ts", "web/f.tsx"]
    assert listed(ctx, path="src", pattern="deep/*.py") == ["src/deep/d.py"]
    assert "no files" in listed(ctx, pattern="*.rs")[0]


def test_path_filter_character_classes():
    keep = PathFilter("test_[a-c]?.py")
    assert keep("dir/test_a1.py") and not keep("test_d1.py")
    assert PathFilter("[!x]*.md")("a.md") and not PathFilter("[!x]*.md")("xa.md")


def test_list_files_caps_output(ctx, tmp_path):
    for i in range(620):
        (tmp_path / f"f{i:04d}.txt").write_text("")
    lines = listed(ctx)
    assert len(lines) == 501
    assert lines[0] == "f0000.txt" and lines[499] == "f0499.txt"
    assert lines[-1].startswith("... 120 more files not shown")


def test_list_files_bad_paths(ctx, tmp_path):
    with pytest.raises(ToolError, match="does not exist"):
        run(ListFiles(), ctx, path="missing")
    with pytest.raises(ToolError, match="outside the workspace"):
        run(ListFiles(), ctx, path="..")
    with pytest.raises(ToolError, match="outside the workspace"):
        run(ListFiles(), ctx, path="/usr")


def test_walk_does_not_follow_links_out(tmp_path):
    outside = tmp_path / "outside"
    inside = tmp_path / "ws"
    write(outside, {"secret.txt": "s"})
    write(inside, {"real.txt": "r"})
    (inside / "link_dir").symlink_to(outside, target_is_directory=True)
    (inside / "link_file").symlink_to(outside / "secret.txt")
    (inside / "alias.txt").symlink_to(inside / "real.txt")
    found = [p.name for p in LocalWorkspace(inside).files()]
    assert found == ["alias.txt", "real.txt"]


# --- grep ------------------------------------------------------------------------------


def grep(ctx: ToolContext, **kwargs) -> str:
    return run(Grep(), ctx, **kwargs).content[0].text


def test_grep_respects_gitignore_and_format(repo):
    out = grep(make_ctx(repo), pattern="TODO").splitlines()
    assert out == [
        "docs/final.md:1: TODO: final",
        "docs/important.log:1: TODO: important",
        "nested/secret.txt:1: TODO: nested secret",
        "src/app.py:2: return 'TODO: app'",
        "src/util.py:1: # TODO: util",
        "src/vendor/keep.py:1: TODO = 'vendor keep'",
    ]


def test_grep_non_git_directory_with_nested_gitignore(tmp_path):
    write(
        tmp_path,
        {
            ".gitignore": "out/\n",
            "a.txt": "needle\n",
            "out/b.txt": "needle\n",
            "sub/.gitignore": "c.txt\n",
            "sub/c.txt": "needle\n",
            "sub/d.txt": "x\nneedle\n",
        },
    )
    assert grep(make_ctx(tmp_path), pattern="needle").splitlines() == [
        "a.txt:1: needle",
        "sub/d.txt:2: needle",
    ]


def test_grep_glob_path_and_summary(ctx, tmp_path):
    write(
        tmp_path, {"a.py": "import os\n", "b.txt": "import os\n", "pkg/c.py": "x = 1\nimport os\n"}
    )
    result = run(Grep(), ctx, pattern=r"^import\s+os$", glob="*.py")
    assert result.content[0].text.splitlines() == ["a.py:1: import os", "pkg/c.py:2: import os"]
    assert result.summary == "grep '^import\\\\s+os$': 2 matches in 2 files"
    assert grep(ctx, pattern="import", path="pkg") == "pkg/c.py:2: import os\n"
    assert grep(ctx, pattern="import", path="b.txt") == "b.txt:1: import os\n"


def test_grep_invalid_regex(ctx):
    with pytest.raises(ToolError, match=r"invalid regular expression.*missing \)"):
        run(Grep(), ctx, pattern="foo(")
    with pytest.raises(ToolError, match="empty"):
        run(Grep(), ctx, pattern="")


def test_grep_skips_binary_reads_latin1(ctx, tmp_path):
    write(
        tmp_path,
        {
            "blob.bin": b"needle\0\0",
            "data.dat": b"needle\0",
            "legacy.txt": "needle café\n".encode("latin-1"),
        },
    )
    assert grep(ctx, pattern="needle") == "legacy.txt:1: needle caf\ufffd\n"
    with pytest.raises(ToolError, match="binary"):
        run(Grep(), ctx, pattern="needle", path="data.dat")


def test_grep_no_matches(ctx, tmp_path):
    write(tmp_path, {"a.txt": "hello\n"})
    result = run(Grep(), ctx, pattern="absent")
    assert "no matches" in result.content[0].text and not result.is_error


def test_grep_caps_matches_and_long_lines(ctx, tmp_path):
    write(tmp_path, {"many.txt": "hit\n" * 350, "wide.txt": "hit " + "w" * 5000 + "\n"})
    lines = grep(ctx, pattern="hit").splitlines()
    assert len(lines) == 201
    assert lines[0] == "many.txt:1: hit" and lines[199] == "many.txt:200: hit"
    assert lines[-1].startswith("... 151 more matching lines not shown")
    wide = grep(ctx, pattern="hit", path="wide.txt")
    assert "more chars]" in wide and len(wide) < 400


def test_grep_outside_workspace(ctx):
    with pytest.raises(ToolError, match="outside the workspace"):
        run(Grep(), ctx, pattern="root", path="/etc")


def test_grep_50mb_file(tmp_path):
    path = tmp_path / "big.log.txt"
    with path.open("w") as f:
        chunk = "".join(f"entry {i} nothing to see here at all\n" for i in range(100_000))
        for _ in range(13):
            f.write(chunk)
        f.write("the NEEDLE is here\n")
    assert path.stat().st_size > 50_000_000
    started = time.monotonic()
    out = grep(make_ctx(tmp_path), pattern="NEEDLE")
    assert out == "big.log.txt:1300001: the NEEDLE is here\n"
    assert time.monotonic() - started < 15


# --- issue 18: secrets behind other names, credentials in matches ------------------------------


def _registry_grep(root: Path, mode: str = "auto-edit", **arguments):
    from gemma_code.agent.approval import DenyApprover
    from gemma_code.agent.messages import ToolCall
    from gemma_code.agent.registry import ToolRegistry

    registry = ToolRegistry([Grep()], mode, DenyApprover())
    return drain(registry.run(ToolCall(name="grep", arguments=arguments), make_ctx(root)))


def test_a_link_with_a_harmless_name_to_a_secret_is_not_searched(tmp_path):
    write(tmp_path, {".env": "DB_PASSWORD=hunter2\n", "app.py": "password = env('DB_PASSWORD')\n"})
    (tmp_path / "notes.txt").symlink_to(".env")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "config.txt").symlink_to("../.env")
    result = run(Grep(), make_ctx(tmp_path), pattern="DB_PASSWORD")
    text = "\n".join(part.text for part in result.content)
    assert "hunter2" not in text
    assert "app.py:1:" in text
    assert "notes.txt" in text and "docs/config.txt" in text  # named as not searched


def test_a_link_named_like_a_secret_is_not_searched_either(tmp_path):
    write(tmp_path, {"settings.txt": "API_TOKEN=abc123\n"})
    (tmp_path / ".env.prod").symlink_to("settings.txt")
    result = run(Grep(), make_ctx(tmp_path), pattern="API_TOKEN")
    text = "\n".join(part.text for part in result.content)
    assert "settings.txt:1:" in text
    assert ".env.prod:1:" not in text and ".env.prod" in text


def test_grep_output_hides_credentials_in_urls(tmp_path):
    write(tmp_path, {"deploy.sh": "git push https://bot:s3cr3t-t0ken@git.example.com/o/r.git\n"})
    _, result = _registry_grep(tmp_path, pattern="git push")
    text = result.content[0].text
    assert "deploy.sh:1:" in text and "s3cr3t-t0ken" not in text and "[redacted]" in text


def test_naming_a_link_to_a_secret_asks_before_grep_reads_it(tmp_path):
    write(tmp_path, {".env": "DB_PASSWORD=hunter2\n"})
    (tmp_path / "notes.txt").symlink_to(".env")
    events, result = _registry_grep(tmp_path, pattern="DB", path="notes.txt")
    assert events and "secret" in events[0].reason
    assert result.is_error and "hunter2" not in result.content[0].text
