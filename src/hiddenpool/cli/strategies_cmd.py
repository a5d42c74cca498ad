"""``hiddenpool strategies``: every token pooler and layer combiner, with a line each."""

from __future__ import annotations

import argparse

from hiddenpool.cli.common import add_template_argument

__all__ = ["EXAMPLES", "HELP", "NAME", "add_arguments", "run"]

NAME = "strategies"
HELP = "list pooling strategies and the spec language"
EXAMPLES = (
    ("mean", "masked mean of the last layer"),
    ("cls@concat(-4:)", "summary token of the last 4 layers, concatenated"),
    ("mean@1,-1", "first-last average (layer 1 and the last; 0 is the embedding output)"),
    ("mean@-4:", "average of the last 4 layers, then masked mean"),
    ("meanmax@-2", "mean ‖ max of the second-to-last layer"),
    ("gem(p=2)", "generalised mean with p=2"),
    ("mean(skip_special=true)", "mean without [CLS]/[SEP]/<s>/</s>"),
    ("cls@lstm(1:)", "learned: LSTM over every layer's summary token"),
    ("mean@-4: | whiten(256)", "last-4 average, BERT-whitened to 256 dimensions (fitted)"),
    ("mean | int8", "mean, quantised to int8 with fitted ranges"),
    ("promptbert:mask", "PromptBERT: the text in its template, read at the mask token"),
    ("echo:mean", "echo template, mean over the text's second copy"),
    ("query:mean(include_prompt=true)", "E5 query prefix, mean over every token"),
    ("query/passage:mean", "E5 sides: queries in query:, documents in passage:"),
    ("bge/:cls", "BGE sides: the instruction on queries, documents alone"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "List every token pooler and layer combiner. A spec is POOLER[+POOLER][@LAYERS]; LAYERS "
        "is an index, a slice or a list, optionally inside a combiner: mean(...) (default), "
        "sum(...), concat(...) or a learned one. Stages after ' | ' post-process the pooled "
        "vectors: whiten(k), pca(k), center, truncate(k), normalize, int8, uint8, binary, ubinary. "
        "A TEMPLATE: prefix places the text in a prompt template first (promptbert:mask). "
        "QTEMPLATE/DTEMPLATE: reads queries in one template and documents in another, with the "
        "same pooling, layers and stages; a side left empty is the text alone (query/passage:mean "
        "for E5, bge/:cls for BGE). Without '/' both sides are alike."
    )
    add_template_argument(parser)


def run(args: argparse.Namespace) -> int:
    from hiddenpool.pooling import COMBINERS, POOLERS
    from hiddenpool.pooling.stages import STAGES

    print("Token poolers (POOLER):")
    for entry in POOLERS.values():
        options = ",".join(f"{k}={str(v).lower()}" for k, v in entry.options.items())
        name = f"{entry.name}({options})" if options else entry.name
        print(f"  {name:<40} {entry.description}")
    print("\nLayer combiners (@COMBINER(LAYERS)):")
    for combiner in COMBINERS.values():
        print(f"  {combiner.name:<40} {combiner.description}")
    print("\nStages after pooling (SPEC | STAGE | STAGE ...; * fitted on texts you choose):")
    for stage in STAGES.values():
        name = f"{stage.name}(k)" if stage.takes_k else stage.name
        print(f"  {name + (' *' if stage.fitted else ''):<40} {stage.description}")
    _print_templates()
    print("\nExamples:")
    for spec, meaning in EXAMPLES:
        print(f"  {spec:<40} {meaning}")
    return 0


def _print_templates() -> None:
    from hiddenpool.pooling.templates import TEMPLATES

    print(
        "\nPrompt templates (TEMPLATE:POOLER...; token poolers read the text's tokens unless "
        "include_prompt=true, mask the template's mask token, cls/first/last the whole input):"
    )
    for template in TEMPLATES.values():
        print(f"  {template.name:<40} {template.text}")
        print(f"  {'':<40} {template.source}")
    _print_sides()


def _print_sides() -> None:
    from hiddenpool.pooling.templates import SIDE_PAIRS

    print(
        "\nQuery and document sides (QTEMPLATE/DTEMPLATE:POOLER...; an empty side is the text "
        "alone; embed --side, Encoder.encode_query / encode_document, serve's input_type pick "
        "one; documents by default):"
    )
    for pair in SIDE_PAIRS:
        spec = f"{pair.prefix}:{pair.poolers[0]}"
        print(
            f"  {spec:<40} {pair.source}"
            if len(spec) < 40
            else f"  {spec}\n  {'':<40} {pair.source}"
        )
