"""A new local MLflow store starts as a copy of an empty one, instead of 70 schema migrations.

MLflow builds a new SQLite store by creating its first tables and then running every schema
migration since (70 in MLflow 3.17): 1.2-1.6 s of CPU whenever a project, a test or a notebook
opens a store that does not exist yet. The first new store each MLflow version builds on a machine
is kept in the user's cache, without its Default experiment (the one row that names a place: its
artefact folder); each later new store is a copy of it, and MLflow adds the Default experiment
for the new place when it opens it, as it would have. MLflow checks the schema revision of every
store it opens, so a seed from another MLflow version could never pass for its own.

Kedro-free, MLflow imported only to build a seed. Anything that goes wrong (an unwritable cache, a
file system without hard links) leaves the store to MLflow, which then builds it as before.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

logger = logging.getLogger(__name__)

CACHE_FOLDER = "mlflow-store-seeds"
DEFAULT_EXPERIMENT_ID = 0


def sqlite_path(uri: str) -> Path | None:
    """Return the file of a `sqlite:///` tracking URI, or None for any other store.

    As in SQLAlchemy, `sqlite:///mlflow.db` is relative and `sqlite:////abs/mlflow.db` absolute;
    an in-memory database or one with connection options is left to MLflow.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite" or parsed.netloc or parsed.query:
        return None
    name = unquote(parsed.path[1:])  # the slash after `sqlite://` only separates the host
    if name in {"", ":memory:"} or name.startswith("file:"):
        return None
    return Path(name)


def seed_cache() -> Path:
    """Return the folder of the cached empty stores (XDG_CACHE_HOME, else ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / __package__.split(".")[0] / CACHE_FOLDER


def seed_new_store(uri: str) -> bool:
    """Give `uri`, a SQLite store that does not exist yet, the empty store of this MLflow.

    Returns whether it did. An existing file is never touched, not even one that appears while
    the copy is made: the copy goes in with a hard link, which fails if the name is taken.
    """
    path = sqlite_path(uri)
    if path is None or path.exists() or not path.parent.is_dir():
        return False
    try:
        seed = _seed()
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".seed")
        os.close(handle)
        copy = Path(name)
        try:
            shutil.copyfile(seed, copy)
            os.link(copy, path)
        finally:
            copy.unlink(missing_ok=True)
    except FileExistsError:
        return False  # another process made the store first: it is theirs
    except (OSError, sqlite3.Error) as error:
        logger.debug("No seeded MLflow store for %s (%s): MLflow builds it", path, error)
        return False
    return True


def _seed() -> Path:
    """Return this MLflow version's empty store, building it into the cache the first time."""
    version = _mlflow_version()
    seed = seed_cache() / f"sqlite-mlflow-{version}.db"
    if not seed.is_file():
        seed.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=seed.parent, prefix=".build-") as folder:
            built = Path(folder) / "store.db"
            _build(built, Path(folder) / "artifacts")
            os.replace(built, seed)  # atomic: a reader sees no seed or a whole one
    return seed


def _mlflow_version() -> str:
    """Return the installed MLflow's version (the full package or the skinny one)."""
    for name in ("mlflow", "mlflow-skinny"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    raise OSError("MLflow is not installed")


def _build(path: Path, artifact_root: Path) -> None:
    """Let MLflow build an empty store at `path`, then remove its Default experiment."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{path.as_posix()}", artifact_root.as_uri())
    store.engine.dispose()
    default = (DEFAULT_EXPERIMENT_ID,)
    with sqlite3.connect(path) as database:
        database.execute("DELETE FROM experiment_tags WHERE experiment_id = ?", default)
        database.execute("DELETE FROM experiments WHERE experiment_id = ?", default)
    database.close()
    with sqlite3.connect(path) as database:
        database.execute("VACUUM")
    database.close()
