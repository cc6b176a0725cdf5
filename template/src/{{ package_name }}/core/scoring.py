"""Fast scoring of the template's model: the same probabilities as `predict_proba`, sooner.

`predict_scores(model, frame, columns)` returns the positive-class probability of every row,
equal to `model.predict_proba(frame[columns])[:, 1]` within 1e-15 (the same leaf values and link
function; only the order in which the trees' values are added differs). Test-set scoring, batch
scoring and monitoring all call it.

Why not `predict_proba`: scikit-learn's HistGradientBoosting walks each of its 300 trees row by
row, and every step is a data-dependent branch the CPU mispredicts about half the time (about
60 ns per row and tree, 18.5 s for 1M rows single-threaded); its OrdinalEncoder converts
pyarrow-backed strings to Python objects first. Here the trees are compiled once per model into
QuickScorer tables (Lucchese et al., SIGIR 2015), evaluated with numpy over chunks of rows:

* each tree's leaves are numbered left to right; a split node gets a bit mask with the leaves of
  its left subtree cleared. A row's exit leaf is the lowest bit left set after ANDing the masks
  of every node whose test the row fails (it goes right), whatever the order.
* per feature, the split nodes sorted by threshold make a prefix table: the nodes a value fails
  are the first `searchsorted(thresholds, value)` ones (`value <= threshold` goes left, as in
  scikit-learn), so one table column per row and feature replaces every comparison; missing
  values take the column of the nodes that send missing values right.
* the exit leaf is the lowest set bit of the ANDed mask: `m & -m` isolates it and its residue
  modulo 37 names its slot in a (tree, slot) table of leaf values; no per-tree loop in Python,
  every step is a whole-array numpy operation.
* categoricals are looked up with pyarrow's hash-based `index_in` against the encoder's fitted
  categories (unknown and missing become NaN, as the OrdinalEncoder is configured to do),
  instead of a Python-object conversion of every string.

A model of any other shape (another estimator, native categorical splits, multi-class, more than
64 leaves per tree) is scored by its own `predict_proba`: correctness never depends on the fast
path. docs/decisions/0020-batch-scoring-and-fast-scoring.md records the choice.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Rows per numpy pass: the (rows x trees) blocks (2,048 x 300 x 2 to 8 bytes) stay in cache.
DEFAULT_CHUNK_ROWS = 2_048
# A model whose tables would outgrow this falls back to predict_proba (thousands of large trees).
MAX_TABLE_BYTES = 256 * 2**20

_COMPILED: weakref.WeakKeyDictionary[Any, CompiledModel | None] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class FeatureTable:
    """One input feature's split nodes, sorted by threshold, as a prefix table of leaf masks."""

    column: int
    thresholds: np.ndarray
    # (len(thresholds) + 2, trees): row r = AND of the masks of the r lowest-threshold nodes
    # (all ones for trees without a split on this feature); the last row = AND of the nodes
    # that send missing values right.
    masks: np.ndarray


@dataclass(frozen=True)
class CompiledModel:
    """A fitted template model compiled for vectorised scoring (see the module docstring)."""

    classifier: Any
    # The fitted attributes compiled, held so that a refit is noticed (see _fitted_state).
    fitted: tuple[Any, ...]
    # Per input feature of the classifier (in its order): the source column and, for an encoded
    # categorical, the fitted categories (None for a numeric passthrough).
    sources: tuple[tuple[str, tuple[str, ...] | None], ...]
    tables: tuple[FeatureTable, ...]
    # Flat leaf values by (tree, slot): tree t's leaf j (bit j) is at offsets[t] + 2**j % modulus.
    leaf_values: np.ndarray
    offsets: np.ndarray
    modulus: int
    all_ones: np.generic
    baseline: float


def predict_scores(
    model: Any, frame: pd.DataFrame, columns: Sequence[str], chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> np.ndarray:
    """Return the positive-class probability of every row of `frame` (its `columns` scored).

    Equal to `model.predict_proba(frame[columns])[:, 1]` within 1e-15 (the tree values are
    summed pairwise, not left to right; the tests hold it to 1e-12).
    """
    compiled = compile_model(model)
    if compiled is None:
        return np.asarray(model.predict_proba(frame[list(columns)])[:, 1], dtype=np.float64)
    missing = [column for column, _ in compiled.sources if column not in frame.columns]
    if missing:
        raise KeyError(f"the model's feature column(s) {missing} are missing from the frame")
    matrix = _encode(compiled, frame)
    raw = np.empty(len(frame), dtype=np.float64)
    for start in range(0, len(frame), chunk_rows):
        stop = min(start + chunk_rows, len(frame))
        raw[start:stop] = _raw_scores(compiled, matrix[:, start:stop])
    return compiled.classifier._loss.predict_proba(raw.reshape(-1, 1))[:, 1]


def predict_scores_in_chunks(
    model: Any, chunks: Iterator[pd.DataFrame], columns: Sequence[str]
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield (chunk, its scores) for every chunk: memory holds one chunk, never the batch."""
    for chunk in chunks:
        yield chunk, predict_scores(model, chunk, columns)


def compile_model(model: Any) -> CompiledModel | None:
    """Return the model compiled for the fast path, or None when its shape is not supported."""
    try:
        cached = _COMPILED[model]
    except (KeyError, TypeError):
        pass
    else:
        # A refit replaces the fitted attributes: compile again rather than score stale trees.
        if cached is None or all(
            held is now for held, now in zip(cached.fitted, _fitted_state(model), strict=True)
        ):
            return cached
    try:
        compiled = _compile(model)
    except (_Unsupported, AttributeError, IndexError, KeyError, TypeError, ValueError):
        # Anything the compiler does not recognise (another model, another scikit-learn's
        # internals) is scored by the model's own predict_proba.
        compiled = None
    try:
        _COMPILED[model] = compiled
    except TypeError:  # not weak-referenceable: compile again next time
        pass
    return compiled


def _fitted_state(model: Any) -> tuple[Any, ...]:
    """Return the fitted attributes that a refit replaces (compared by identity)."""
    return tuple(
        getattr(step, attribute, None)
        for _, step in model.steps
        for attribute in ("transformers_", "_predictors")
    )


class _Unsupported(Exception):
    """The model is not the template's pipeline: use its own predict_proba."""


def _compile(model: Any) -> CompiledModel:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    def _is_passthrough(transformer: Any) -> bool:
        # A fitted ColumnTransformer stores "passthrough" as an identity FunctionTransformer.
        return (isinstance(transformer, str) and transformer == "passthrough") or (
            isinstance(transformer, FunctionTransformer)
            and transformer.func is None
            and transformer.inverse_func is None
        )

    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        raise _Unsupported
    preprocess, classifier = model.steps[0][1], model.steps[1][1]
    if not isinstance(preprocess, ColumnTransformer) or type(classifier) is not (
        HistGradientBoostingClassifier
    ):
        raise _Unsupported
    if (
        getattr(classifier, "n_trees_per_iteration_", None) != 1
        or len(classifier.classes_) != 2
        or (classifier.is_categorical_ is not None and classifier.is_categorical_.any())
        or not hasattr(classifier, "_predictors")
    ):
        raise _Unsupported
    sources: dict[str, tuple[str, tuple[str, ...] | None]] = {}
    for _, transformer, columns in preprocess.transformers_:
        # An empty column list (e.g. no categorical features) leaves its transformer unfitted.
        if (isinstance(transformer, str) and transformer == "drop") or len(columns) == 0:
            continue
        if _is_passthrough(transformer):
            sources.update({c: (c, None) for c in columns})
        elif isinstance(transformer, OrdinalEncoder) and _encodes_unknown_as_nan(transformer):
            for column, categories in zip(columns, transformer.categories_, strict=True):
                kept = [c for c in categories if not pd.isna(c)]
                if not all(isinstance(c, str) for c in kept) or len(kept) + 1 < len(categories):
                    raise _Unsupported
                sources[column] = (column, tuple(kept))
        else:
            raise _Unsupported
    if preprocess.verbose_feature_names_out or any(
        name not in sources for name in classifier.feature_names_in_
    ):
        raise _Unsupported
    predictors = [iteration[0] for iteration in classifier._predictors]
    tables, leaf_values = _quickscorer_tables(predictors)
    n_trees, n_leaves = leaf_values.shape
    # 2 is a primitive root modulo 37 and 67: 2**j % p differs for every j < p - 1.
    modulus = 37 if n_leaves <= 32 else 67
    by_slot = np.zeros((n_trees, modulus), dtype=np.float64)
    by_slot[:, [2**j % modulus for j in range(n_leaves)]] = leaf_values
    index_type = np.uint16 if n_trees * modulus <= np.iinfo(np.uint16).max else np.uint32
    return CompiledModel(
        classifier=classifier,
        fitted=_fitted_state(model),
        sources=tuple(sources[name] for name in classifier.feature_names_in_),
        tables=tables,
        leaf_values=by_slot.ravel(),
        offsets=np.arange(n_trees, dtype=index_type) * index_type(modulus),
        modulus=modulus,
        all_ones=tables[0].masks[0, 0] if tables else np.uint8(255),
        baseline=float(np.asarray(classifier._baseline_prediction).ravel()[0]),
    )


def _encodes_unknown_as_nan(encoder: Any) -> bool:
    return (
        encoder.handle_unknown == "use_encoded_value"
        and np.isnan(encoder.unknown_value)
        and np.isnan(encoder.encoded_missing_value)
    )


def _quickscorer_tables(predictors: list[Any]) -> tuple[tuple[FeatureTable, ...], np.ndarray]:
    """Return the per-feature prefix tables and the (tree, leaf) values, padded per tree."""
    n_leaves = max(int(p.nodes["is_leaf"].sum()) for p in predictors)
    width = next(
        (w for w in (np.uint8, np.uint16, np.uint32, np.uint64) if n_leaves <= 8 * w().itemsize),
        None,
    )
    if width is None:
        raise _Unsupported
    all_ones = int(np.iinfo(width).max)
    leaf_values = np.zeros((len(predictors), n_leaves), dtype=np.float64)
    # feature -> [(threshold, tree, mask, missing values go left)]
    splits: dict[int, list[tuple[float, int, int, bool]]] = {}
    for tree, predictor in enumerate(predictors):
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise _Unsupported
        leaves_under = _number_leaves(nodes, leaf_values[tree])
        for node in np.flatnonzero(nodes["is_leaf"] == 0):
            mask = all_ones
            for leaf in leaves_under[int(nodes["left"][node])]:
                mask &= ~(1 << leaf)
            splits.setdefault(int(nodes["feature_idx"][node]), []).append(
                (
                    float(nodes["num_threshold"][node]),
                    tree,
                    mask,
                    bool(nodes["missing_go_to_left"][node]),
                )
            )
    table_bytes = sum(len(s) + 2 for s in splits.values()) * len(predictors) * width().itemsize
    if table_bytes > MAX_TABLE_BYTES:
        raise _Unsupported
    tables = []
    for column, column_splits in sorted(splits.items()):
        column_splits.sort(key=lambda split: split[0])
        masks = np.full((len(column_splits) + 2, len(predictors)), all_ones, dtype=width)
        for position, (_, tree, mask, missing_left) in enumerate(column_splits, start=1):
            masks[position] = masks[position - 1]
            masks[position, tree] &= width(mask)
            if not missing_left:
                masks[-1, tree] &= width(mask)
        tables.append(
            FeatureTable(
                column=column,
                thresholds=np.array([split[0] for split in column_splits], dtype=np.float64),
                masks=masks,
            )
        )
    return tuple(tables), leaf_values


def _number_leaves(nodes: np.ndarray, values: np.ndarray) -> dict[int, list[int]]:
    """Return {node: the numbers of its leaves}, numbering leaves left to right; fill `values`."""
    leaves_under: dict[int, list[int]] = {}
    numbered = 0
    stack = [(0, False)]
    while stack:
        node, children_done = stack.pop()
        if nodes["is_leaf"][node]:
            leaves_under[node] = [numbered]
            values[numbered] = nodes["value"][node]
            numbered += 1
        elif children_done:
            left, right = int(nodes["left"][node]), int(nodes["right"][node])
            leaves_under[node] = leaves_under[left] + leaves_under[right]
        else:
            # Left subtree first, so leaves are numbered in left-to-right order.
            left, right = int(nodes["left"][node]), int(nodes["right"][node])
            stack.extend([(node, True), (right, False), (left, False)])
    return leaves_under


def _encode(compiled: CompiledModel, frame: pd.DataFrame) -> np.ndarray:
    """Return the classifier's input, one row per feature (float64; unknown or missing = NaN)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    matrix = np.empty((len(compiled.sources), len(frame)), dtype=np.float64)
    for position, (column, categories) in enumerate(compiled.sources):
        values = frame[column]
        if categories is None:
            matrix[position] = values.to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        if not pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            values = values.where(values.isna(), values.astype(str)).astype(object)
        codes = pc.index_in(
            pa.array(values, type=pa.string(), from_pandas=True),
            value_set=pa.array(categories, type=pa.string()),
        )
        matrix[position] = codes.to_numpy(zero_copy_only=False)
    return matrix


def _raw_scores(compiled: CompiledModel, matrix: np.ndarray) -> np.ndarray:
    """Return the raw (log-odds) score of each column of `matrix` (features x rows)."""
    masks = None
    for table in compiled.tables:
        values = matrix[table.column]
        position = np.searchsorted(table.thresholds, values, side="left")
        position[np.isnan(values)] = table.masks.shape[0] - 1
        if masks is None:
            masks = table.masks.take(position, axis=0)
        else:
            masks &= table.masks.take(position, axis=0)
    n_trees = compiled.offsets.size
    if masks is None:  # no tree splits at all: every row ends in each tree's only leaf
        masks = np.full((matrix.shape[1], n_trees), compiled.all_ones)
    # The exit leaf is the lowest set bit: isolate it (m & -m, unsigned wrap-around), and map
    # the power of two to its slot by its residue modulo a prime for which 2 is a primitive root
    # (distinct for every bit position): no per-tree Python loop, no log2.
    masks &= np.negative(masks)
    slots = (masks % compiled.modulus).astype(compiled.offsets.dtype, copy=False)
    slots += compiled.offsets
    return compiled.leaf_values.take(slots).sum(axis=1) + compiled.baseline
