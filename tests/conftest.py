"""Test-wide settings: fast mode and static widgets. Notebook kernels inherit these."""
import os

os.environ.setdefault("BIGMODEL_FAST", "1")
os.environ["BIGMODEL_STATIC"] = "1"
