"""The documentation covers the public API: every operator and sensor parameter, every table column.

No Sphinx build here (``make docs`` does that, with warnings as errors): these checks read the
``.rst`` sources and introspect the code, so they run in well under a second.

Conventions the how-to pages follow (see docs/operators/):

* each class has a section starting with the label ``.. _howto/operator:<Class>:`` (sensors:
  ``.. _howto/sensor:<Class>:``); it runs until the next ``howto/`` label or the end of the file;
* the section has a ``Parameters`` heading followed by a definition list whose terms are the
  parameter names, written ````name```` on a line of their own;
* the section includes its snippet from a sample DAG with ``literalinclude`` and START/END markers.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from airflow_sigma.warehouse.tables import ALL_TABLES

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
RST_FILES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)
LABEL = re.compile(r"^\.\. _howto/(operator|sensor):(\w+):\s*$", re.MULTILINE)
TERM = re.compile(r"^``(\w+)``\s*$")
HEADING_RULE = re.compile(r"^([=\-~^\"'`#*+<>])\1{3,}\s*$")
PUBLIC_PACKAGES = ("airflow_sigma.operators", "airflow_sigma.sensors")


def _public_classes() -> list[type]:
    classes = []
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        classes += [getattr(module, name) for name in module.__all__]
    return classes


def _base_parameters(cls: type) -> set[str]:
    """Parameters of BaseOperator (and, for sensors, BaseSensorOperator): documented by Airflow."""
    from airflow.sdk import BaseOperator, BaseSensorOperator

    bases = [BaseOperator] + ([BaseSensorOperator] if issubclass(cls, BaseSensorOperator) else [])
    return {name for base in bases for name in inspect.signature(base.__init__).parameters}


def _own_parameters(cls: type) -> list[str]:
    """``__init__`` parameters a user of the class must find documented on its how-to page."""
    from airflow.sdk import BaseOperator

    inherited = set(inspect.signature(BaseOperator.__init__).parameters)
    names: list[str] = []
    for klass in cls.__mro__:  # our own bases' parameters too (the loading operators share a base)
        if not klass.__module__.startswith("airflow_sigma.") or "__init__" not in vars(klass):
            continue
        for name, parameter in inspect.signature(vars(klass)["__init__"]).parameters.items():
            if (
                name != "self"
                and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
                and name not in inherited
                and name not in names
            ):
                names.append(name)
    return names


def _howto_sections() -> dict[str, tuple[Path, str]]:
    """Class name -> (file, text of its how-to section)."""
    sections: dict[str, tuple[Path, str]] = {}
    for path in RST_FILES:
        text = path.read_text(encoding="utf-8")
        labels = list(LABEL.finditer(text))
        for n, match in enumerate(labels):
            end = labels[n + 1].start() if n + 1 < len(labels) else len(text)
            name = match.group(2)
            assert name not in sections, f"two how-to sections for {name}: {sections[name][0]} and {path}"
            sections[name] = (path, text[match.start() : end])
    return sections


def _documented_parameters(section: str) -> list[str]:
    """The definition-list terms under the section's ``Parameters`` heading."""
    lines = section.splitlines()
    starts = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip() == "Parameters" and HEADING_RULE.match(lines[i + 1])
    ]
    if not starts:
        return []
    terms: list[str] = []
    for i in range(starts[0] + 2, len(lines)):
        if i + 1 < len(lines) and lines[i].strip() and HEADING_RULE.match(lines[i + 1]):
            break  # the next heading ends the list
        match = TERM.match(lines[i])
        if match:
            terms.append(match.group(1))
    return terms


CLASSES = _public_classes()
SECTIONS = _howto_sections()


def test_every_public_operator_and_sensor_is_exported():
    assert {cls.__name__ for cls in CLASSES} >= {
        "SigmaDiscoverWorkbooksOperator",
        "SigmaListAuditExportsOperator",
        "SigmaAuditExportSensor",
    }


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_howto_section_documents_every_parameter(cls: type):
    assert cls.__name__ in SECTIONS, (
        f"{cls.__name__} has no how-to section: add '.. _howto/operator:{cls.__name__}:' (or "
        f"'howto/sensor:') with a Parameters list to a page under docs/operators/"
    )
    path, section = SECTIONS[cls.__name__]
    documented = _documented_parameters(section)
    missing = [name for name in _own_parameters(cls) if name not in documented]
    assert not missing, f"{path.relative_to(REPO)}: parameters of {cls.__name__} not documented: {missing}"
    unknown = sorted(set(documented) - set(_own_parameters(cls)) - _base_parameters(cls))
    assert not unknown, f"{path.relative_to(REPO)}: {cls.__name__} has no parameters {unknown}"
    assert len(documented) == len(set(documented)), f"{cls.__name__}: a parameter is listed twice"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_howto_section_includes_a_sample_dag_snippet(cls: type):
    path, section = SECTIONS[cls.__name__]
    assert ".. literalinclude:: ../../dags/" in section, f"{cls.__name__}: no sample-DAG snippet in {path}"
    assert "What it returns" in section or "**Returns**" in section, f"{cls.__name__}: XCom not described"


def test_literalinclude_markers_exist():
    include = re.compile(r"^\.\. literalinclude:: (\S+)\n((?:[ ]+:.*\n)+)", re.MULTILINE)
    found = 0
    for path in RST_FILES:
        for match in include.finditer(path.read_text(encoding="utf-8")):
            target = (path.parent / match.group(1)).resolve()
            assert target.is_file(), f"{path.relative_to(REPO)}: {match.group(1)} does not exist"
            source = target.read_text(encoding="utf-8")
            for option in ("start-after", "end-before"):
                marker = re.search(rf":{option}: (.+)", match.group(2))
                if marker:
                    assert marker.group(1).strip() in source, (
                        f"{path.name}: {marker.group(1)} not in {target.name}"
                    )
                    found += 1
    assert found >= 12  # six snippets, START and END each


def test_every_table_and_column_has_documentation():
    undocumented = [table.base_name for table in ALL_TABLES if not table.doc.strip()]
    undocumented += [
        f"{table.base_name}.{column.name}"
        for table in ALL_TABLES
        for column in table.columns
        if not column.doc.strip()
    ]
    assert not undocumented, f"add a doc to: {undocumented}"


def test_the_schema_page_renders_every_table():
    text = (DOCS / "warehouse.rst").read_text(encoding="utf-8")
    directives = re.findall(r"^\.\. sigma-tables::(.*)$", text, re.MULTILINE)
    assert directives, "docs/warehouse.rst must use the sigma-tables directive"
    named = {name for args in directives for name in args.split()}
    assert any(not args.strip() for args in directives) or named >= {t.base_name for t in ALL_TABLES}


def test_asset_uris_in_the_docs_name_real_tables():
    tables = {f"sigma_{table.base_name}" for table in ALL_TABLES}
    for path in RST_FILES:
        for name in re.findall(r"x-sigma-warehouse://(\w+)", path.read_text(encoding="utf-8")):
            if name != "sigma_":  # the pattern "sigma_<table>"
                assert name in tables, f"{path.relative_to(REPO)}: no table {name}"


def test_docs_extension_describes_every_cloud_key():
    from airflow_sigma.api.regions import CLOUD_HOSTS

    # Read the table from the source: importing the extension would import Sphinx (slow).
    tree = ast.parse((DOCS / "_ext" / "sigma_docs.py").read_text(encoding="utf-8"))
    regions = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "CLOUD_REGIONS"
        and node.value is not None
    )
    assert set(regions) == set(CLOUD_HOSTS)


def test_documented_parameters_parser_reads_a_definition_list():
    section = "\n".join(
        [".. _howto/operator:X:", "", "X", "-", "", "Parameters", "^^^^^^^^^^", "", "``a``", "    A.",
         "``b``",
         "    B with ``c``.", "", "What it writes", "^^^^^^^^^^^^^^", "", "``d``", "    not a parameter."]
    )  # fmt: skip
    assert _documented_parameters(section) == ["a", "b"]
