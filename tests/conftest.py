"""Test-wide settings: fast, static (no widgets), headless plots. Notebook kernels inherit these."""
import os

os.environ.setdefault("BIGMODEL_FAST", "1")
os.environ["BIGMODEL_STATIC"] = "1"
os.environ["MPLBACKEND"] = "Agg"
