"""Warnings of our dependencies that a user can do nothing about, silenced by exact message.

Each entry names who warns and when to remove it. Anything not listed still shows. settings.py
installs the filters for every Kedro command; the project's tests/conftest.py gives pytest the
same list (`pytest_filterwarnings`), so `make test` stays as quiet as a run.
"""

from __future__ import annotations

import warnings

# (message regex, category, module that warns): `module` is where the warning is attributed.
# Built-in categories only, so installing the filters imports none of the warning libraries.
DEPENDENCY_WARNINGS: tuple[tuple[str, type[Warning], str], ...] = (
    # Kedro 1.7's OmegaConfigLoader still calls OmegaConf.register_new_resolver (3 calls per
    # loader, twice per run), which omegaconf 2.4 deprecates. Remove when Kedro calls
    # register_resolver (kedro/config/omegaconf_config.py).
    (r"register_new_resolver\(\) is deprecated", UserWarning, r"kedro\.config\.omegaconf_config"),
    # MLflow 3's SQL store declares a relationship `lazy="noload"`, which SQLAlchemy 2.1
    # deprecates (an SADeprecationWarning, raised where the store configures its mappers). Remove
    # when mlflow/store/tracking/dbmodels/models.py no longer uses `noload`.
    (
        r"The ``noload`` loader strategy is deprecated",
        DeprecationWarning,
        r"mlflow\.store\.tracking\.sqlalchemy_store",
    ),
    # MLflow 3 compares a DataFrame's columns with `range(...)` when it saves an input example,
    # which pandas 3 deprecates (a Pandas4Warning). Remove when mlflow/models/utils.py does not.
    (r"Operation with range is deprecated", DeprecationWarning, r"mlflow\.models\.utils"),
    # Great Expectations 1.x imports the `sre_constants` and `sre_parse` modules, deprecated since
    # Python 3.11. Remove when its fluent file_path_data_connector.py imports `re._parser`.
    (
        r"module 'sre_(constants|parse)' is deprecated",
        DeprecationWarning,
        r"great_expectations\.datasource\.fluent\.data_connector\.file_path_data_connector",
    ),
    # shap 0.51 (the lock's shap on Python 3.11; 0.54 on 3.12+) sets its colormaps' extremes
    # with set_bad/set_over/set_under when imported, which matplotlib 3.11 deprecates. Remove when
    # the project drops Python 3.11 or its lock moves past shap 0.51.
    (
        r"The set_(bad|over|under) function will be deprecated",
        PendingDeprecationWarning,
        r"shap\.plots\.colors\._colors",
    ),
)


def ignore_dependency_warnings() -> None:
    """Install a filter for each warning in DEPENDENCY_WARNINGS (and no other)."""
    for message, category, module in DEPENDENCY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def pytest_filterwarnings() -> list[str]:
    """Return DEPENDENCY_WARNINGS as pytest `filterwarnings` lines (action:message:category:module).

    pytest resets the warning filters around each test, so the tests need the list in its form.
    """
    lines = []
    for message, category, module in DEPENDENCY_WARNINGS:
        if ":" in message or ":" in module:  # pytest splits the line at colons
            raise ValueError(f"a filter with a colon cannot be a pytest line: {message!r}")
        lines.append(f"ignore:{message}:{category.__name__}:{module}")
    return lines
