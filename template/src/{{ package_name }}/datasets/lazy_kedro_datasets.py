"""kedro-datasets' pandas group loaded as its lazy loader intends: a dataset's module when named.

`kedro_datasets/pandas/__init__.py` (9.6) ends with `lazy_loader.attach`, which imports a
dataset's module the first time its class is asked for. Above that call, though, it imports every
module of the group in `try` blocks (kept for documentation builds). Kedro resolves the catalog's
`pandas.CSVDataset` through that package, so every command of a project that names one imports
all thirteen pandas datasets, SQLAlchemy with `sql_dataset` among them: 0.15-0.2 s of CPU before
the first node, for datasets the project never uses (decision 0039).

`load_groups_lazily()`, called from settings.py before Kedro builds the catalog, registers the
package as its `__init__.py` reads without those top-level `try` blocks: the same
`lazy_loader.attach` call, so the same names, each imported with its module on first use, and a
missing optional dependency raises the same ImportError when that dataset is used. Where the file
no longer has that shape (a release that changed it), or the package was imported already, it
does nothing and the package imports as released.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import sys
from collections.abc import Iterable
from types import CodeType, ModuleType

# The groups whose `__init__` imports every dataset module eagerly and costs a command start-up
# noticeably (the others the catalog names, json, pickle, text and partitions, hold one or two).
EAGER_GROUPS = ("pandas",)

logger = logging.getLogger(__name__)


def load_groups_lazily(groups: Iterable[str] = EAGER_GROUPS) -> list[str]:
    """Return the `kedro_datasets` groups now registered to import their datasets on first use."""
    registered = []
    for group in groups:
        name = f"kedro_datasets.{group}"
        if name in sys.modules:
            continue
        # Only a start-up saving: anything unexpected leaves the package to the import system.
        try:
            module = _lazy_package(name)
        except Exception as error:
            sys.modules.pop(name, None)
            logger.debug("%s imports as released: %s", name, error, exc_info=True)
            module = None
        if module is not None:
            setattr(sys.modules["kedro_datasets"], group, module)
            registered.append(group)
    return registered


def _lazy_package(name: str) -> ModuleType | None:
    """Return package `name`, registered in sys.modules and run without its eager imports, or
    None (nothing registered) when its `__init__.py` does not have the shape this expects."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or spec.loader is None:
        return None
    code = lazy_package_code(spec.loader.get_source(name) or "", spec.origin)
    if code is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # The installed package's own file, minus its try blocks: no text from outside.
    exec(code, module.__dict__)  # noqa: S102  # nosec B102
    return module


def lazy_package_code(source: str, filename: str) -> CodeType | None:
    """Return `source` compiled without its top-level `try` blocks of relative imports, or None
    when it has none or no `lazy_loader.attach` call that defines `__getattr__` without them."""
    tree = ast.parse(source, filename)
    kept = [statement for statement in tree.body if not _is_optional_relative_import(statement)]
    if len(kept) == len(tree.body) or not any(_defines_lazy_getattr(s) for s in kept):
        return None
    tree.body = kept
    return compile(tree, filename, "exec")


def _is_optional_relative_import(statement: ast.stmt) -> bool:
    """Return True for `try: from .module import Name` `except ImportError...: ...`."""
    return (
        isinstance(statement, ast.Try)
        and all(isinstance(s, ast.ImportFrom) and s.level == 1 for s in statement.body)
        and not statement.orelse
        and not statement.finalbody
        and all(_catches_import_error(handler) for handler in statement.handlers)
    )


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    """Return True when the handler catches ImportError (alone or in a tuple)."""
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(c, ast.Name) and c.id == "ImportError" for c in caught)


def _defines_lazy_getattr(statement: ast.stmt) -> bool:
    """Return True for `__getattr__, ... = <name>.attach(...)`, the form of lazy_loader's call."""
    if not isinstance(statement, ast.Assign) or not isinstance(statement.value, ast.Call):
        return False
    function = statement.value.func
    targets = [
        element.id
        for target in statement.targets
        for element in (target.elts if isinstance(target, ast.Tuple) else [target])
        if isinstance(element, ast.Name)
    ]
    attaches = isinstance(function, ast.Attribute) and function.attr == "attach"
    return attaches and "__getattr__" in targets
