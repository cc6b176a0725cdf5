"""Project-local Kedro dataset types that the catalog names through conf/base/globals.yml.

`figure_dataset.FigureDataset`: kedro-datasets' MatplotlibDataset, but matplotlib is imported when a
figure is saved, not when Kedro builds the catalog before the first node (decision 0035).
"""
