"""Architecture rules, checked on the source (like spiff-arena's ast-grep rule)."""
import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module if node.level == 0 else "." * node.level + node.module)
    return names


def test_only_the_engine_package_imports_spiffworkflow():
    offenders = [str(p.relative_to(APP)) for p in APP.rglob("*.py")
                 if "engine" not in p.relative_to(APP).parts
                 and any(name.split(".")[0] == "SpiffWorkflow" for name in _imports(p))]
    assert offenders == []
    # and the engine really does use it (so the rule above is not vacuous)
    assert any("SpiffWorkflow" in n for n in _imports(APP / "engine" / "runner.py"))


def test_services_do_not_reach_into_the_request():
    offenders = []
    for path in (APP / "services").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if "flask" in {n.split(".")[0] for n in _imports(path)} or "current_user" in source:
            offenders.append(path.name)
    assert offenders == []


def test_lower_layers_do_not_import_the_api_or_web_layers():
    offenders = [str(p.relative_to(APP)) for folder in ("services", "engine", "models")
                 for p in (APP / folder).rglob("*.py")
                 if any(".api" in n or ".web" in n or n.startswith("app.api") for n in _imports(p))]
    assert offenders == []


def test_request_schemas_are_built_once_not_on_every_request():
    """webargs builds a schema given as a class again for every request (about 0.1 ms); an instance is reused."""
    classes, instances = [], 0
    for path in (APP / "api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "arguments" and node.args):
                if isinstance(node.args[0], ast.Name):
                    classes.append(f"{path.name}:{node.lineno}")
                elif isinstance(node.args[0], ast.Call):
                    instances += 1
    assert classes == []
    assert instances > 30  # the rule is not vacuous
