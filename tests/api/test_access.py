"""access.header and access.query: cheap lookups that must answer as Starlette's Request does."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from ttsign.api.access import credentials, header, query


def request_of(headers: list[tuple[bytes, bytes]], query_string: bytes = b"") -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query_string, "headers": headers})


@pytest.mark.parametrize("name", [b"x-api-key", b"user-agent", b"x-jwt-key", b"absent"])
def test_header_is_the_first_value_as_starlette_gives_it(name: bytes) -> None:
    headers = [(b"x-api-key", b"first"), (b"user-agent", b"ua\xe9"), (b"x-api-key", b"second"), (b"x-jwt-key", b"")]
    request = request_of(headers)
    assert header(request, name) == request.headers.get(name.decode(), "")


@pytest.mark.parametrize(
    "query_string", [b"a=1&b=2", b"a=1&a=2", b"a=%41%20b&c=+x+", b"a", b"a=&b", b"", b"apiKey=k&room_id=1"]
)
def test_query_answers_as_query_params_get(query_string: bytes) -> None:
    request = request_of([], query_string)
    params = query(request)
    for name in ("a", "b", "c", "apiKey", "room_id", "absent"):
        assert params.get(name) == request.query_params.get(name)


@pytest.mark.parametrize(
    "query_string",
    [
        b"user_agent=Mozilla%2F5.0+%28X11%3B+Linux%29&room_id=7",
        b"user_agent=Mozilla%2F5.0+%28X11%3B+Linux%29&user_agent=curl%2F8",  # decoded once, then from the cache
        b"r%6Fom_id=1&room+id=2&&=x&a=1=2",  # encoded names, empty pairs, an empty name, '=' in a value
        b"a=%zz&b=%ff&c=%E2%82%AC&user_agent=%ff",  # invalid escapes and bytes that are no UTF-8
    ],
)
def test_query_is_the_dict_starlette_gives(query_string: bytes) -> None:
    for _ in range(2):  # the second time through the User-Agent cache
        request = request_of([], query_string)
        assert query(request) == dict(request.query_params)
        assert list(query(request)) == list(request.query_params)


def test_credentials_prefer_the_header_key_and_fall_back_to_the_query() -> None:
    both = request_of([(b"x-api-key", b" header-key "), (b"x-jwt-key", b"jwt")], b"apiKey=query-key")
    assert (credentials(both).api_key, credentials(both).jwt) == ("header-key", "jwt")
    query_only = request_of([], b"apiKey=query-key")
    assert (credentials(query_only).api_key, credentials(query_only).jwt) == ("query-key", "")
    anonymous = request_of([(b"x-api-key", b"  ")])
    assert credentials(anonymous).api_key == ""


def test_credentials_read_the_routes_parsed_query_when_given() -> None:
    request = request_of([], b"apiKey=in-the-query")
    assert credentials(request, {"apiKey": " parsed "}).api_key == "parsed"
    assert credentials(request, {}).api_key == ""
    with_header = request_of([(b"x-api-key", b"header-key")], b"apiKey=in-the-query")
    assert credentials(with_header, {"apiKey": "parsed"}).api_key == "header-key"


def test_credentials_take_the_first_value_of_each_header_as_starlette_gives_it() -> None:
    headers = [(b"x-jwt-key", b" t1 "), (b"x-api-key", b" "), (b"x-api-key", b"second"), (b"x-jwt-key", b"t2")]
    request = request_of(headers, b"apiKey=from-query")
    found = credentials(request)
    # The first X-Api-Key is blank: the query's key counts, never the header's second value.
    assert found.api_key == request.query_params["apiKey"] == "from-query"
    assert found.jwt == request.headers["x-jwt-key"].strip() == "t1"
