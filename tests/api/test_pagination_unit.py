"""The paginator's pure logic: response shapes that the local server does not produce on its own.

End-to-end pagination over HTTP is in test_client_http.py.
"""

from __future__ import annotations

import pytest

from airflow_sigma.api.errors import SigmaPaginationError
from airflow_sigma.api.pagination import MAX_EMPTY_PAGES, check_page_size, iter_entries, parse_has_more


class Pages:
    """Serves a fixed list of response bodies and records the query of every call."""

    def __init__(self, *bodies):
        self.bodies = list(bodies)
        self.queries = []

    def __call__(self, query):
        self.queries.append(query)
        return self.bodies[len(self.queries) - 1]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        ("true", True),
        ("True", True),
        (False, False),
        ("false", False),
        ("FALSE", False),
        (None, None),
        ("maybe", None),
    ],
)
def test_has_more_accepts_bool_or_string(raw, expected):
    assert parse_has_more(raw) is expected


def test_has_more_string_false_stops_even_with_a_token():
    pages = Pages({"entries": [1], "nextPage": "tok", "hasMore": "false"})
    assert list(iter_entries(pages, "/v2/x")) == [1]


def test_has_more_string_true_continues():
    pages = Pages(
        {"entries": [1], "nextPage": "a b+c", "hasMore": "true"},
        {"entries": [2], "nextPage": None, "hasMore": "false"},
    )
    assert list(iter_entries(pages, "/v2/x", page_size=1)) == [1, 2]
    assert pages.queries == [{"limit": 1}, {"limit": 1, "page": "a b+c"}]


def test_has_more_without_a_token_is_an_error_not_a_silent_stop():
    with pytest.raises(SigmaPaginationError, match="hasMore"):
        list(iter_entries(Pages({"entries": [1], "hasMore": True}), "/v2/x"))


def test_numeric_next_page_is_passed_back_unchanged():
    pages = Pages({"entries": [1], "nextPage": 50}, {"entries": [2], "nextPage": None})
    assert list(iter_entries(pages, "/v2/x")) == [1, 2]
    assert pages.queries[1]["page"] == "50"


def test_bare_array_is_the_whole_result():
    pages = Pages([{"id": 1}, {"id": 2}])
    assert list(iter_entries(pages, "/v2/members")) == [{"id": 1}, {"id": 2}]
    assert len(pages.queries) == 1


def test_next_page_token_scheme_is_followed_even_on_page_endpoints():
    pages = Pages({"entries": [1], "nextPageToken": "t1"}, {"entries": [2], "nextPageToken": None})
    assert list(iter_entries(pages, "/v2/dataModels")) == [1, 2]
    assert pages.queries[1] == {"limit": 1000, "pageToken": "t1"}


def test_extra_params_are_sent_with_every_page():
    pages = Pages({"entries": [1], "nextPage": "n"}, {"entries": [], "nextPage": None})
    list(iter_entries(pages, "/v2/x", {"isArchived": "true"}, page_size=3))
    assert all(q["isArchived"] == "true" and q["limit"] == 3 for q in pages.queries)


def test_empty_string_token_ends_the_listing():
    assert list(iter_entries(Pages({"entries": [1], "nextPage": ""}), "/v2/x")) == [1]


@pytest.mark.parametrize("body", [{"items": []}, {"entries": {}}, "nope", 3])
def test_unexpected_shapes_are_errors_naming_the_path(body):
    with pytest.raises(SigmaPaginationError, match="/v2/x"):
        list(iter_entries(Pages(body), "/v2/x"))


def test_max_pages_bounds_a_server_that_never_ends():
    bodies = [{"entries": [i], "nextPage": f"t{i}"} for i in range(5)]
    with pytest.raises(SigmaPaginationError, match="after 5 pages"):
        list(iter_entries(Pages(*bodies), "/v2/x", max_pages=5))


def test_a_run_of_empty_pages_pointing_onwards_stops_and_a_full_page_resets_the_run():
    empty = [{"entries": [], "nextPage": f"e{i}"} for i in range(MAX_EMPTY_PAGES - 1)]
    full = {"entries": [1], "nextPage": "f"}
    more_empty = [{"entries": [], "nextPage": f"m{i}"} for i in range(MAX_EMPTY_PAGES)]
    pages = Pages(*empty, full, *more_empty)
    with pytest.raises(SigmaPaginationError, match=f"{MAX_EMPTY_PAGES} empty pages in a row for /v2/x"):
        list(iter_entries(pages, "/v2/x"))
    assert MAX_EMPTY_PAGES == 3


@pytest.mark.parametrize("size", [0, 1001, -1, 2.5, True])
def test_page_size_must_be_1_to_1000(size):
    with pytest.raises(ValueError, match="page_size"):
        check_page_size(size)
