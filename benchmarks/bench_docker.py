"""Image build time of the rendered default project (cold and with cache) and image size.

Renders the template with its defaults (or uses --project), then:
  cold    `docker build --no-cache --pull=false`: every layer, the pinned lock downloaded again
  cached  a rebuild after a source edit: only the layers from `COPY src` on are rebuilt
  noop    a rebuild with nothing changed
and reports the image size and the size of the `python:<version>-slim` base it sits on.
Needs a Docker engine (scripts/ci/start_dockerd.sh) and the base image
(scripts/ci/build_base_image.sh VERSION).

    python benchmarks/bench_docker.py [--project /tmp/rendered] [--skip-cold]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
TAG = "churn-prediction-bench:latest"


def docker(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=True
    )


def timed_build(context: Path, *extra: str) -> float:
    """Return the wall time in seconds of one `docker build` of `context`."""
    started = time.monotonic()
    docker("build", "--network", "host", *extra, "-t", TAG, str(context))
    return time.monotonic() - started


def image_size(tag: str) -> int:
    return int(docker("image", "inspect", "-f", "{{ .Size }}", tag).stdout.strip())


def render(destination: Path) -> Path:
    import copier

    copier.run_copy(
        str(TEMPLATE_ROOT), destination, defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD"
    )
    return destination


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="an already rendered project")
    parser.add_argument("--skip-cold", action="store_true", help="only the cached rebuilds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-docker-") as tmp:
        project = args.project or render(Path(tmp) / "churn-prediction")
        context = Path(tmp) / "context"
        shutil.copytree(project, context, symlinks=True)
        answers = (context / ".copier-answers.yml").read_text()
        python_version = re.search(r"python_version: '?([0-9.]+)", answers).group(1)
        base = f"python:{python_version}-slim"

        results: dict[str, float | int | str] = {"base_image": base}
        if not args.skip_cold:
            results["cold_build_s"] = round(timed_build(context, "--no-cache"), 1)
        else:
            timed_build(context)
        # A source edit: the dependency layer stays cached, the project layers rebuild.
        init = next((context / "src").glob("*/__init__.py"))
        init.write_text(init.read_text() + "\n# benchmark edit\n")
        results["cached_build_after_source_edit_s"] = round(timed_build(context), 1)
        results["noop_rebuild_s"] = round(timed_build(context), 1)
        results["image_size_mb"] = round(image_size(TAG) / 1e6, 1)
        results["base_image_size_mb"] = round(image_size(base) / 1e6, 1)
        results["project_layers_mb"] = round(
            results["image_size_mb"] - results["base_image_size_mb"], 1
        )
        docker("image", "rm", "-f", TAG)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
