"""Project-local Kedro dataset types that the catalog names through conf/base/globals.yml.

`figure_dataset.FigureDataset`: kedro-datasets' MatplotlibDataset, but matplotlib is imported when a
figure is saved, not when Kedro builds the catalog before the first node (decision 0035).

`lazy_kedro_datasets.load_groups_lazily`: kedro-datasets' `pandas` group imports a dataset's module
when the catalog names it, not all thirteen with SQLAlchemy (decision 0039); settings.py calls it.
"""
