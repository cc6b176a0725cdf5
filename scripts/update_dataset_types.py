"""Regenerate hooks/dataset_types.json: every kedro-datasets type and the extra that installs it.

The post-generation check must not import kedro-datasets (Copier often runs from pipx, without
it), so it reads this manifest instead. Run after bumping kedro-datasets in the template.
"""

from __future__ import annotations

import ast
import json
from importlib import metadata
from pathlib import Path

import kedro_datasets

MANIFEST = Path(__file__).resolve().parents[1] / "hooks" / "dataset_types.json"


def lazy_exports(init_file: Path) -> dict[str, str]:
    """Return {class name: submodule} from a kedro-datasets subpackage's lazy.attach call."""
    exports: dict[str, str] = {}
    for node in ast.walk(ast.parse(init_file.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "submod_attrs":
            mapping = ast.literal_eval(node.value)
            for module, classes in mapping.items():
                exports.update({cls: module for cls in classes})
    return exports


def main() -> None:
    """Write the manifest for the installed kedro-datasets."""
    root = Path(kedro_datasets.__file__).parent
    extras = set(metadata.metadata("kedro-datasets").get_all("Provides-Extra") or [])
    types = {}
    for init_file in sorted(root.glob("*/__init__.py")):
        package = init_file.parent.name
        for cls, module in lazy_exports(init_file).items():
            extra = f"{package}-{cls.lower()}"
            types[f"{package}.{cls}"] = {
                "module": f"kedro_datasets.{package}.{module}",
                "extra": extra if extra in extras else None,
            }
    MANIFEST.write_text(
        json.dumps(
            {"kedro_datasets_version": metadata.version("kedro-datasets"), "types": types},
            indent=1,
            sort_keys=True,
        )
        + "\n"
    )
    print(f"{len(types)} dataset types written to {MANIFEST}")


if __name__ == "__main__":
    main()
