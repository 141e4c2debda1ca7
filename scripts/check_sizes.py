"""The size limits of the house: no module over 500 lines, no function over 80.

Migrations and tests are exempt (a migration is a record; a test is a worked example). A
function-local import is allowed only with a comment on its line, or on the line above, that
says which cycle or start-up cost it avoids. Exits 1 and lists every breach.

    python scripts/check_sizes.py            # check the whole tree
    python scripts/check_sizes.py --report   # also print the counts, even when all is well
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MODULE_MAX_LINES = 500
FUNCTION_MAX_LINES = 80
ROOTS = ("service", "ledger", "labels", "points", "admin", "bench", "scripts")
EXEMPT_PARTS = ("migrations", "tests")
LOCAL_IMPORT_REASONS = ("cycle", "start-up", "startup", "lazy", "optional")


def python_files(root: Path) -> list[Path]:
    files = []
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            if not any(part in EXEMPT_PARTS for part in path.relative_to(root).parts):
                files.append(path)
    files.append(root / "wsgi.py")
    return [path for path in files if path.exists()]


def function_breaches(tree: ast.AST) -> list[tuple[str, int, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > FUNCTION_MAX_LINES:
                found.append((node.name, node.lineno, length))
    return found


def local_imports(tree: ast.AST, lines: list[str]) -> list[int]:
    unexplained = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import | ast.ImportFrom):
                around = " ".join(lines[max(inner.lineno - 2, 0) : inner.lineno]).lower()
                if "#" not in around or not any(r in around for r in LOCAL_IMPORT_REASONS):
                    unexplained.append(inner.lineno)
    return sorted(set(unexplained))


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    breaches: list[str] = []
    modules = functions = imports = 0
    for path in python_files(root):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        name = path.relative_to(root).as_posix()
        if len(lines) > MODULE_MAX_LINES:
            modules += 1
            breaches.append(f"{name}: {len(lines)} lines (module limit {MODULE_MAX_LINES})")
        tree = ast.parse(text, filename=name)
        for function, line, length in function_breaches(tree):
            functions += 1
            breaches.append(
                f"{name}:{line}: {function} is {length} lines (function limit {FUNCTION_MAX_LINES})"
            )
        for line in local_imports(tree, lines):
            imports += 1
            breaches.append(f"{name}:{line}: function-local import without a comment saying why")
    for breach in breaches:
        print(breach)
    if breaches or "--report" in argv:
        print(
            f"modules over {MODULE_MAX_LINES} lines: {modules}; functions over "
            f"{FUNCTION_MAX_LINES} lines: {functions}; unexplained local imports: {imports}"
        )
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
