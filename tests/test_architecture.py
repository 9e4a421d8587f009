"""The layout's rules, read from every module's imports with `ast` (README: Architecture).

- `agent/tui` is imported by nothing but the entry point (`agent/cli.py`);
- tools and backends never import each other or the TUI;
- tools and backends import from the core only its kernel (`KERNEL`);
- no module outside `tests/` and `evals/suites/` is over `MAX_LINES` lines.

Each broken rule is reported with the file and line that breaks it.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"agent": "gemma_code.agent", "tools": "gemma_code.tools", "backends": "gemma_code.backends"}
ENTRY_POINT = "gemma_code.agent.cli"
# What tools and backends may import from the core: the seams' types and the shared rules
# every tool applies (the workspace boundary, image preparation, which files hold secrets).
KERNEL = (
    "gemma_code.agent.protocols",
    "gemma_code.agent.messages",
    "gemma_code.agent.events",
    "gemma_code.agent.workspace",
    "gemma_code.agent.images",
    "gemma_code.agent.safety.secrets",
)
MAX_LINES = 400
SIZE_EXEMPT = ("tests/", "evals/suites/")


def module_name(path: Path, root: Path) -> str | None:
    """`agent/tui/app.py` -> `gemma_code.agent.tui.app`; None outside the three code folders."""
    parts = path.relative_to(root).with_suffix("").parts
    if parts[0] not in PACKAGES:
        return None
    dotted = [PACKAGES[parts[0]], *parts[1:]]
    if dotted[-1] == "__init__":
        dotted.pop()
    return ".".join(dotted)


def imports(path: Path, module: str) -> list[tuple[int, list[str]]]:
    """Every import of a file (absolute, relative, inside functions): its line and what it names.

    `from pkg import name` names `pkg` and then `pkg.name` (which is a module when pkg is a package).
    """
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, [alias.name]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                package = package[: len(package) - node.level + (1 if is_package else 0)]
                base = ".".join(package + ([base] if base else []))
            found.append((node.lineno, [base] + [f"{base}.{alias.name}" for alias in node.names]))
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _layer(module: str) -> str:
    if _within(module, "gemma_code.agent.tui"):
        return "tui"
    return module.split(".")[1]


def import_violations(module: str, imported: str) -> list[str]:
    """What is wrong with `module` importing `imported` (empty when nothing is)."""
    if not imported.startswith("gemma_code."):
        return []
    source, target = _layer(module), _layer(imported)
    if target == "tui" and source != "tui" and module != ENTRY_POINT:
        return [f"imports the TUI ({imported}); only {ENTRY_POINT} may"]
    if source in ("tools", "backends") and target in ("tools", "backends") and source != target:
        return [f"{source} must not import {target} ({imported})"]
    if source in ("tools", "backends") and target == "agent":
        packages = ("gemma_code.agent", "gemma_code.agent.safety")
        if imported not in packages and not any(_within(imported, k) for k in KERNEL):
            return [f"{source} may import only the core's kernel, not {imported}"]
    return []


def violations(root: Path) -> list[str]:
    """Every broken rule under `root`, as `path:line: what`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith((".", "build/")) or "/." in relative or "site-packages" in relative:
            continue
        if not relative.startswith(SIZE_EXEMPT):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                found.append(f"{relative}:1: {lines} lines, over {MAX_LINES}")
        module = module_name(path, root)
        if module is None:
            continue
        for line, (base, *names) in imports(path, module):
            problems = import_violations(module, base)
            if not problems:  # a package's own name passes; then judge what is taken from it
                problems = [p for name in names for p in import_violations(module, name)]
            found += [f"{relative}:{line}: {problem}" for problem in problems]
    return found


def test_the_code_keeps_the_layouts_rules():
    assert violations(ROOT) == []


def _copy_code(to: Path) -> None:
    for folder in PACKAGES:
        shutil.copytree(ROOT / folder, to / folder, ignore=shutil.ignore_patterns("__pycache__"))


def test_each_kind_of_planted_violation_is_named_with_its_file_and_line(tmp_path):
    _copy_code(tmp_path)
    before = set(violations(tmp_path))
    (tmp_path / "tools" / "planted.py").write_text(
        '"""A tool that reaches past the core."""\n'
        "from gemma_code.backends.llama_cpp import LlamaBackend\n"
        "from ..agent.tui.app import GemmaCodeApp\n"
        "\n"
        "def f():\n"
        "    from gemma_code.agent.session import Session\n"
    )
    (tmp_path / "backends" / "planted.py").write_text("import gemma_code.tools.shell\n")
    (tmp_path / "agent" / "planted.py").write_text("from .tui import app\n" + "x = 1\n" * 400)

    found = [v for v in violations(tmp_path) if v not in before]

    assert "tools/planted.py:2: tools must not import backends (gemma_code.backends.llama_cpp)" in found
    assert any(v.startswith("tools/planted.py:3: imports the TUI") for v in found)
    assert "tools/planted.py:6: tools may import only the core's kernel, not gemma_code.agent.session" in found
    assert "backends/planted.py:1: backends must not import tools (gemma_code.tools.shell)" in found
    assert any(v.startswith("agent/planted.py:1: imports the TUI") for v in found)
    assert "agent/planted.py:1: 401 lines, over 400" in found
    assert len(found) == 6, found


def test_the_kernel_and_the_entry_point_are_allowed(tmp_path):
    _copy_code(tmp_path)
    (tmp_path / "tools" / "fine.py").write_text(
        "from gemma_code.agent.protocols import ToolError\n"
        "from gemma_code.agent.messages import ToolCall\n"
        "from gemma_code.tools.base import ToolContext\n"
        "import os\n"
    )
    assert not [v for v in violations(tmp_path) if "fine.py" in v]
    assert not [v for v in violations(tmp_path) if v.startswith("agent/cli.py")]
