"""The shape of the package, checked: what may import what (docs/architecture.md).

- No blueprint imports another blueprint: what two of them share lives below them.
- Below the web layer nothing reaches for Flask's request or app: it is handed what it needs
  (a runtime, settings, a site URL), so the worker and the web app run the same code.
- The overlap violation is turned into a 409 in one module, and dispatch after commit is
  written once.
"""

import ast
from pathlib import Path

from scheduler.errors import CONFLICTS

PACKAGE = Path(__file__).resolve().parent.parent / "scheduler"
# The web layer: blueprints, pages, and the modules that read requests for them.
WEB = {"__init__", "context", "auth", "http", "validation", "openapi", "pagination", "preconditions",
       "idempotency", "errors", "cli", "synctokens", "windows", "public_shapes", "logs", "memberships",
       "event_type_fields"}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE), ast.parse(path.read_text(), filename=str(path))


def imported(tree, path):
    """The absolute names a module imports (relative imports resolved against its package)."""
    package = ["scheduler", *path.parent.parts]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def in_web_layer(path):
    return path.parts[0] in ("api", "pages") or (len(path.parts) == 1 and path.stem in WEB)


def test_no_blueprint_imports_another():
    for path, tree in modules():
        if path.parts[0] == "api":
            others = {name for name in imported(tree, path) if name.startswith("scheduler.api")}
            assert not others, f"{path} imports {sorted(others)}"


def test_nothing_below_the_web_layer_imports_flask_or_the_request_context():
    for path, tree in modules():
        if in_web_layer(path):
            continue
        reached = {name for name in imported(tree, path)
                   if name.split(".")[0] in ("flask", "werkzeug") or name.startswith("scheduler.context")
                   or name.startswith("scheduler.api") or name.startswith("scheduler.pages")}
        assert not reached, f"{path} is below the web layer but imports {sorted(reached)}"


def names_used(tree):
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | \
           {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}


def test_the_overlap_violation_is_handled_in_one_module():
    handlers = [str(path) for path, tree in modules() if "ExclusionViolation" in names_used(tree)]
    assert handlers == ["booking_write.py"]
    assert not [name for name in CONFLICTS if "overlap" in name], "a second 409 for overlaps, in errors.py"


def test_dispatch_after_commit_is_written_once():
    calls = [str(path) for path, tree in modules()
             for node in ast.walk(tree)
             if isinstance(node, ast.Call) and any(isinstance(arg, ast.Attribute) and arg.attr == "dispatch"
                                                   for arg in node.args)]
    assert calls == ["announcements.py"]
