"""The generated organisation is deterministic, sized as asked, and has every case discovery must handle."""

from __future__ import annotations

from airflow_sigma.testing.org import MY_DOCUMENTS, Org, OrgSpec


def test_same_seed_same_org_and_different_seed_different_ids():
    one, two = Org.generate(OrgSpec(seed=3)), Org.generate(OrgSpec(seed=3))
    assert [wb.to_api() for wb in one.workbooks] == [wb.to_api() for wb in two.workbooks]
    assert one.elements == two.elements and one.members == two.members
    other = Org.generate(OrgSpec(seed=4))
    assert {wb.workbook_id for wb in other.workbooks}.isdisjoint(wb.workbook_id for wb in one.workbooks)


def test_benchmark_size():
    org = Org.generate(OrgSpec.benchmark())
    assert len(org.workbooks) == 1000
    assert org.page_count == 3000
    assert org.element_count == 15000
    assert len({wb.workbook_id for wb in org.workbooks}) == 1000
    assert len({e.element_id for elements in org.elements.values() for e in elements}) == 15000


def test_demo_size_is_a_few_hundred():
    assert 100 <= len(Org.generate(OrgSpec.demo()).workbooks) <= 500


def test_every_case_is_present():
    org = Org.generate(OrgSpec())
    caller = org.caller.member_id
    personal = org.personal_workbooks
    assert any(wb.owner_id == caller for wb in personal)
    assert any(wb.owner_id != caller for wb in personal)
    assert all(wb.path.startswith(MY_DOCUMENTS) for wb in personal)
    assert org.archived_workbooks and org.explorations
    assert not any(wb.is_archived for wb in org.explorations)
    assert any("/" in wb.path and not wb.is_personal for wb in org.workbooks)  # folders in workspaces
    elements = [e for group in org.elements.values() for e in group]
    assert any(e.name == "" for e in elements)
    assert {e.type for e in elements} >= {"table", "visualization"}
    assert any(m.is_archived for m in org.members) and any(m.is_inactive for m in org.members)
    assert any(m.member_id == "SigmaSchedulerRobot" for m in org.members)
    assert org.caller_workspace_ids() and len(org.caller_workspace_ids()) < len(org.workspaces)


def test_workbook_shape_matches_the_api_reference():
    entry = Org.generate(OrgSpec(workbooks=5)).workbooks[0].to_api()
    required = {
        "workbookId",
        "workbookUrlId",
        "name",
        "url",
        "path",
        "latestVersion",
        "ownerId",
        "createdBy",
        "updatedBy",
        "createdAt",
        "updatedAt",
    }
    assert required <= set(entry)
    assert entry["url"].endswith(entry["workbookUrlId"])
    assert entry["createdAt"].endswith("Z") and len(entry["workbookUrlId"]) == 22


def test_visibility_rules():
    org = Org.generate(OrgSpec())
    everyone = org.visible_workbooks(admin=True, skip_permission_check=True)
    own = org.visible_workbooks(admin=True)
    non_admin = org.visible_workbooks(admin=False, skip_permission_check=True)
    assert own == non_admin  # without admin rights the flag changes nothing
    assert set(own) < set(everyone)
    assert any(wb.is_exploration for wb in everyone)
    assert not any(
        wb.is_exploration
        for wb in org.visible_workbooks(admin=True, skip_permission_check=True, exclude_explorations=True)
    )
    assert not any(wb.is_personal and wb.owner_id != org.caller.member_id for wb in own)
    assert all(not wb.is_archived for wb in everyone)
    assert all(wb.is_archived for wb in org.visible_workbooks(admin=True, is_archived=True))
