"""Which Kedro nodes run in which SageMaker step, and the checks that keep data from being lost.

Kedro-free: the commands module turns Kedro's pipelines and catalog into the plain records here.
Between steps, data can only travel through the catalog (S3); a dataset that is not in the
catalog lives in one process's memory, so a grouping that puts its producer and a consumer in
different steps would lose it. That is a compile error naming the dataset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .settings import StepSettings


class GroupingError(ValueError):
    """A step grouping in sagemaker.yml cannot run: the message names the nodes or datasets."""


@dataclass(frozen=True)
class NodeSpec:
    """A Kedro node as grouping sees it."""

    name: str
    pipelines: tuple[str, ...]
    tags: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class DatasetSpec:
    """How the catalog keeps a dataset: persisted at all, and versioned."""

    persisted: bool
    versioned: bool


@dataclass(frozen=True)
class StepGroup:
    """The nodes of one step and the datasets it exchanges with the other steps."""

    name: str
    job: str
    selector: str
    selected: tuple[str, ...]
    nodes: tuple[str, ...]
    # Produced by an earlier step of the same execution: loaded at the execution's version.
    from_earlier_steps: tuple[str, ...]
    # Produced by no step: loaded as the catalog finds them (the newest version, or a pin).
    external_inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _is_parameter(name: str) -> bool:
    return name == "parameters" or name.startswith("params:")


def _select(step: StepSettings, nodes: Sequence[NodeSpec]) -> list[NodeSpec]:
    how, names = step.selector
    if how == "pipelines":
        known = {pipe for node in nodes for pipe in node.pipelines}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise GroupingError(
                f"step {step.name!r}: unknown pipeline(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return [node for node in nodes if set(node.pipelines) & set(names)]
    if how == "tags":
        chosen = [node for node in nodes if set(node.tags) & set(names)]
        if not chosen:
            raise GroupingError(f"step {step.name!r}: no node has tag(s) {', '.join(names)}")
        return chosen
    by_name = {node.name: node for node in nodes}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise GroupingError(f"step {step.name!r}: unknown node(s) {', '.join(unknown)}")
    return [node for node in nodes if node.name in set(names)]


def _assign(steps: Sequence[StepSettings], nodes: Sequence[NodeSpec]) -> dict[str, list[NodeSpec]]:
    """Return step name -> its nodes; GroupingError when two steps choose one node."""
    owner: dict[str, str] = {}
    chosen: dict[str, list[NodeSpec]] = {}
    for step in steps:
        selected = _select(step, nodes)
        for node in selected:
            if node.name in owner:
                raise GroupingError(
                    f"node {node.name!r} is chosen by step {owner[node.name]!r} and by step "
                    f"{step.name!r}; a node runs in one step only"
                )
            owner[node.name] = step.name
        chosen[step.name] = selected
    return chosen


def group_nodes(
    steps: Sequence[StepSettings],
    nodes: Sequence[NodeSpec],
    catalog: Mapping[str, DatasetSpec],
) -> tuple[StepGroup, ...]:
    """Return the steps with their nodes, in order; raise GroupingError if data would be lost.

    `nodes` are every node the steps may choose from, in a topological order; `catalog` says how
    each dataset is kept (a name missing from it is an in-memory dataset).
    """
    chosen = _assign(steps, nodes)
    producer: dict[str, str] = {}
    for step in steps:
        for node in chosen[step.name]:
            for output in node.outputs:
                producer[output] = step.name

    order = {step.name: index for index, step in enumerate(steps)}
    split: list[str] = []
    groups = []
    for step in steps:
        selected = chosen[step.name]
        produced_here = {output for node in selected for output in node.outputs}
        needed = {name for node in selected for name in node.inputs if not _is_parameter(name)}
        free = sorted(needed - produced_here)
        earlier, external = [], []
        for name in free:
            source = producer.get(name)
            if source is None:
                external.append(name)
                continue
            if order[source] > order[step.name]:
                raise GroupingError(
                    f"step {step.name!r} reads {name!r}, which the later step {source!r} "
                    "produces: order the steps so that producers come first"
                )
            if not catalog.get(name, DatasetSpec(False, False)).persisted:
                split.append(f"{name!r} ({source} -> {step.name})")
            earlier.append(name)
        missing_external = [
            name for name in external if not catalog.get(name, DatasetSpec(False, False)).persisted
        ]
        if missing_external:
            raise GroupingError(
                f"step {step.name!r} reads {', '.join(map(repr, missing_external))}, which no "
                "step produces and the catalog does not hold: add the producing nodes to a step"
            )
        how, names = step.selector
        groups.append(
            StepGroup(
                name=step.name,
                job=step.job,
                selector=how,
                selected=names,
                nodes=tuple(node.name for node in selected),
                from_earlier_steps=tuple(earlier),
                external_inputs=tuple(external),
                outputs=tuple(sorted(produced_here)),
            )
        )
    if split:
        raise GroupingError(
            "this grouping splits in-memory dataset(s) across steps: "
            + ", ".join(split)
            + ". Data moves between steps only through the catalog: add each to "
            "conf/base/catalog.yml, or put its producer and its consumers in one step"
        )
    return tuple(groups)


def versioned_from_earlier(group: StepGroup, catalog: Mapping[str, DatasetSpec]) -> list[str]:
    """Return the datasets a step must load at this execution's save version (versioned ones)."""
    return [name for name in group.from_earlier_steps if catalog[name].versioned]


def producer_of(dataset: str, groups: Sequence[StepGroup]) -> StepGroup:
    """Return the step that produces `dataset`; GroupingError if none does."""
    for group in groups:
        if dataset in group.outputs:
            return group
    raise GroupingError(f"no step produces {dataset!r}; the pipeline must train it")
