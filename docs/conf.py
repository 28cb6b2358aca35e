"""Sphinx configuration for the airflow-provider-sigma documentation."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

DOCS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(DOCS))
sys.path.insert(0, os.path.join(DOCS, "_ext"))
# autodoc imports our modules, which import Airflow: keep it away from ~/airflow (and remove the
# temporary home afterwards).
if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-sigma-docs-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], ignore_errors=True)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_sigma import __version__  # noqa: E402

project = "airflow-provider-sigma"
author = "airflow-provider-sigma contributors"
release = version = __version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sigma_docs",  # docs/_ext/sigma_docs.py: tables generated from the code
]
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
html_theme = "furo"
html_title = f"airflow-provider-sigma {release}"
exclude_patterns = ["_build", "_ext"]
nitpicky = False
