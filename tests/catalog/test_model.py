"""CatalogOptions validation and the XCom summary."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from airflow_sigma.catalog import Catalog, CatalogOptions, CatalogStats, SkippedWorkbook


def test_defaults():
    options = CatalogOptions()
    assert options.workspaces is None
    assert (options.include_personal, options.include_archived, options.include_elements) == (
        False,
        False,
        True,
    )
    assert options.max_concurrency == 8
    assert 0 < options.max_skipped_fraction < 1


def test_workspace_names_are_trimmed_and_deduplicated_and_empty_means_all():
    assert CatalogOptions(workspaces=(" Finance ", "Sales", "Finance", "")).workspaces == ("Finance", "Sales")
    assert CatalogOptions(workspaces=()).workspaces is None
    assert CatalogOptions(workspaces=(" ",)).workspaces is None


def test_workspace_filter_is_case_insensitive():
    options = CatalogOptions(workspaces=("finance",))
    assert options.wants_workspace("Finance")
    assert not options.wants_workspace("Sales")
    assert not options.wants_workspace(None)
    assert CatalogOptions().wants_workspace(None)


def test_my_documents_in_the_filter_needs_include_personal():
    with pytest.raises(ValueError, match="include_personal=True"):
        CatalogOptions(workspaces=("Finance", "my documents"))
    assert CatalogOptions(workspaces=("My Documents",), include_personal=True).workspaces == ("My Documents",)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_concurrency", 0),
        ("max_concurrency", True),
        ("max_concurrency", 2.5),
        ("max_skipped_fraction", -0.1),
        ("max_skipped_fraction", 1.5),
        ("page_size", 0),
        ("page_size", 1001),
    ],
)
def test_bad_numbers_are_refused_with_the_field_name(field, value):
    with pytest.raises(ValueError, match=field):
        CatalogOptions(**{field: value})


def test_summary_is_small_json_and_names_skipped_workbooks():
    skipped = tuple(
        SkippedWorkbook(f"id{i}", f"Workbook {i}", "pages: HTTP 403 (forbidden)") for i in range(25)
    )
    stats = CatalogStats(workspaces=2, workbooks=100, pages=300, elements=1500, members=9, skipped=skipped)
    options = CatalogOptions(workspaces=("Finance",), include_personal=True)
    summary = Catalog([], [], [], stats, options).summary(date(2026, 3, 1))
    assert json.loads(json.dumps(summary)) == summary
    assert summary["snapshot_date"] == "2026-03-01"
    assert (summary["workbooks"], summary["pages"], summary["elements"], summary["members"]) == (
        100,
        300,
        1500,
        9,
    )
    assert summary["skipped"] == 25
    assert len(summary["skipped_workbooks"]) == 20
    assert summary["skipped_workbooks"][0] == {
        "workbook_id": "id0",
        "name": "Workbook 0",
        "reason": "pages: HTTP 403 (forbidden)",
    }
    assert summary["workspace_filter"] == ["Finance"]
    assert summary["include_personal"] is True


def test_the_catalog_package_does_not_import_airflow():
    code = (
        "import sys, airflow_sigma.catalog;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
