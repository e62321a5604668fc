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
            modules=("glossary",), expect={"requirements_failed": (0, 0), "glossary_terms": (44, 200)},
            ready=True),
    Chapter(1, "01_big_models_and_their_economics", "What a big model is, and what it costs",
            modules=("economics",),
            expect={"gpt3_training_flops": (3.0e23, 3.3e23), "llama65b_implied_mfu": (0.45, 0.50),
                    "mnist_mlp_params": (101770, 101770), "gpt2_small_params": (1.2152e8, 1.2648e8),
                    "gpt2_xl_params": (1.5288e9, 1.5912e9), "gpt3_175b_params": (1.715e11, 1.785e11),
                    "chinchilla_optimal_params": (6.9e10, 7.1e10)},
            ready=True),
    Chapter(2, "02_math_foundations", "The math: activations, losses, chain rule, optimizers, checked",
            modules=("calculus", "scratch"),
            expect={"sigmoid_of_3": (0.9525, 0.9527), "mse_worked_example": (0.3099, 0.3101),
                    "sigmoid_bce_grad_rel_error": (0, 1e-6), "softmax_ce_grad_rel_error": (0, 1e-6),
                    "mlp_backward_max_rel_error": (0, 1e-6)},
            ready=True),
    Chapter(3, "03_backprop_from_scratch", "Backpropagation from scratch in NumPy", modules=("scratch",),
            expect={"gradient_check_max_rel_error": (0, 1e-6), "scratch_mlp_test_accuracy": (0.85, 1.0),
                    "keras_step_max_abs_diff": (0, 1e-6), "keras_mlp_test_accuracy": (0.85, 1.0)},
            ready=True),
    Chapter(4, "04_house_price_regression", "House-price regression: from a fitted line to an MLP",
            modules=("regression",),
            expect={"line_fit_max_rel_gap": (0, 1e-4), "line_fit_w": (2.98, 3.02), "line_fit_b": (47, 52),
                    "mlp_vs_linear_rmse": (0.3, 0.95)},  # ratio, so it holds on the Boston fallback too
            ready=True),
    Chapter(5, "05_mnist_classification", "MNIST: the articles' classifier done right, then a CNN",
            modules=("vision", "metrics"),
            expect={"mlp_test_accuracy": (0.85, 1.0), "cnn_test_accuracy": (0.90, 1.0),
                    "bce_reported_accuracy": (0.90, 1.0), "bce_all_zeros_accuracy": (0.899, 0.901),
                    "bce_true_accuracy": (0.70, 1.0)},
            ready=True),
    Chapter(6, "06_evaluation_metrics", "Evaluation metrics, computed by hand and used to decide",
            modules=("metrics",),
            expect={"breast_cancer_auc": (0.95, 1.0), "chosen_threshold": (0.0, 0.5),
                    "chosen_threshold_recall": (0.85, 1.0), "nine_always_no_accuracy": (0.85, 0.95),
                    "nine_average_precision": (0.6, 1.0), "mnist_macro_f1": (0.75, 1.0), "housing_r2": (0.4, 0.9),
                    "cv_f1_mean": (0.9, 1.0)},
            ready=True),
    Chapter(7, "07_text_and_embeddings", "Text: tokens, embeddings and a first language model"),
    Chapter(8, "08_attention_and_tiny_transformer", "Attention and a tiny transformer"),
    Chapter(9, "09_pretraining_and_fine_tuning", "Pretraining, fine-tuning and multi-task learning"),
    Chapter(10, "10_from_model_to_product", "From model to product: export, serve, load-test, price, monitor"),
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
