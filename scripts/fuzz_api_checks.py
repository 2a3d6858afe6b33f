"""Checks that scripts/fuzz-api adds to Schemathesis's own (loaded with SCHEMATHESIS_HOOKS).

The gateway promises one error shape for every refusal (gateway/src/error.rs):
`{"error": {"code": "...", "message": "...", "field": "..."}}`, with `field` only when
one input field is at fault. Schemathesis's schema conformance check covers the
documented statuses; this one holds for every 4xx and 5xx, documented or not.
"""

import json

import schemathesis


@schemathesis.check
def refusals_are_json_errors(ctx, response, case):
    """Every 4xx/5xx answer is the gateway's JSON error object."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.split(";")[0].strip() == "application/json", (
        f"a {response.status_code} answer is `{content_type}`, not application/json"
    )
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"a {response.status_code} answer is not JSON: {error}") from None
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"no `error` object in {body!r}"
    assert isinstance(error.get("code"), str) and error["code"], f"no `error.code` in {body!r}"
    assert isinstance(error.get("message"), str), f"no `error.message` in {body!r}"
    assert set(error) <= {"code", "message", "field"}, f"unexpected keys in {body!r}"
    if "field" in error:
        assert isinstance(error["field"], str), f"`error.field` is not a string in {body!r}"
    return None
