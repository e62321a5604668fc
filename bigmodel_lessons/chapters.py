"""The course's table of contents: one entry per chapter notebook, ready or planned.

A chapter adds its notebook, its helper module(s) and one entry here. ``expect`` gives, for each metric the
notebook records with ``record_metric``, the (low, high) range a fast-mode run must land in.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Chapter:
    number: int
    stem: str
    title: str
    modules: tuple[str, ...] = ()
    expect: dict[str, tuple[float, float]] = field(default_factory=dict)
    ready: bool = False

    @property
    def notebook(self) -> str:
        return f"{self.stem}.ipynb"


CHAPTERS = (
    Chapter(0, "00_start_here", "Start here: how the course works, environment check, glossary",
            modules=("glossary",), expect={"requirements_failed": (0, 0), "glossary_terms": (40, 60)},
            ready=True),
    Chapter(1, "01_big_models_and_their_economics", "What a big model is, and what it costs"),
    Chapter(2, "02_math_foundations", "The math: activations, losses, chain rule, optimizers, checked"),
    Chapter(3, "03_backprop_from_scratch", "Backpropagation from scratch in NumPy"),
    Chapter(4, "04_house_price_regression", "House-price regression: from a fitted line to an MLP"),
    Chapter(5, "05_mnist_classification", "MNIST: the articles' classifier done right, then a CNN"),
    Chapter(6, "06_evaluation_metrics", "Evaluation metrics, computed by hand and used to decide"),
    Chapter(7, "07_text_and_embeddings", "Text: tokens, embeddings and a first language model"),
    Chapter(8, "08_attention_and_tiny_transformer", "Attention and a tiny transformer"),
    Chapter(9, "09_from_model_to_product", "From model to product"),
)


def ready_chapters() -> list[Chapter]:
    return [c for c in CHAPTERS if c.ready]


def chapter(name: str) -> Chapter:
    """Look a chapter up by notebook stem ("05_mnist_classification"), file name or number ("05")."""
    stem = name.removesuffix(".ipynb")
    for c in CHAPTERS:
        if stem in (c.stem, f"{c.number:02d}", str(c.number)):
            return c
    raise ValueError(f"Unknown chapter or notebook {name!r}; valid: {', '.join(c.stem for c in CHAPTERS)}.")
