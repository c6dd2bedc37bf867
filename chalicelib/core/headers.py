"""Request and response headers: conditional requests, idempotent creation, request ids.

ETag, If-Match, If-None-Match (RFC 9110 §13), Idempotency-Key (IETF httpapi draft) and
X-Request-Id: their syntax lives here; what they mean for a record lives in
``chalicelib.core.conditions``.
"""

from __future__ import annotations

import re

from chalice.app import Request

from chalicelib.core.conditions import ANY, Match, Preconditions, Version
from chalicelib.core.errors import FieldError, ValidationFailed
from chalicelib.core.record import CREATED_AT, VERSION, Record


def etag(current: Record) -> str:
    """Strong ETag from the version, qualified by the creation time so that a record
    deleted and created again at the same id never repeats an old ETag."""
    created = "".join(ch for ch in current[CREATED_AT] if ch.isdigit())
    return f'"{current[VERSION]}.{created}"'


_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
_OWS = r"[ \t]*"  # optional whitespace (RFC 9110 §5.6.3)
#: Entity tags one If-Match or If-None-Match may list. Each becomes a comparison in a
#: DynamoDB condition expression, which allows 300 operators: 75 tags were a 500.
MAX_ENTITY_TAGS = 20


def _condition_pattern(more_tags: str) -> str:
    """If-Match and If-None-Match (RFC 9110 §13.1.1): "*" or a list of entity tags, with
    ``more_tags`` the quantifier of the tags after the first."""
    return rf"{_OWS}(?:\*|{_ENTITY_TAG}(?:{_OWS},{_OWS}{_ENTITY_TAG}){more_tags}){_OWS}"


#: The syntax, with any number of tags: the check reads it first and counts after, to say
#: which rule a value broke.
_CONDITION = re.compile(_condition_pattern("*"))
#: What the API accepts, as the API document states it: at most MAX_ENTITY_TAGS tags.
CONDITION_PATTERN = _condition_pattern(f"{{0,{MAX_ENTITY_TAGS - 1}}}")
_ENTITY_TAG_ITEM = re.compile(r'(W/)?"([\x21\x23-\x7e]*)"')
_OUR_OPAQUE_TAG = re.compile(r"([0-9]{1,15})\.([0-9]{20})")
#: Every ETag this API sends: the version, then the creation time's 20 digits.
ETAG_PATTERN = rf'"{_OUR_OPAQUE_TAG.pattern}"'


def _version(opaque_tag: str) -> Version | None:
    """The inverse of ``etag``; None for a tag this API never issued."""
    found = _OUR_OPAQUE_TAG.fullmatch(opaque_tag)
    if found is None:
        return None
    d = found.group(2)
    created_at = f"{d[0:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}.{d[14:]}Z"
    return Version(int(found.group(1)), created_at)


def _match(request: Request, header: str, weak: bool) -> Match | None:
    """If-Match (strong comparison: weak tags never match) or If-None-Match (weak)."""
    value = request.headers.get(header)
    if value is None:
        return None
    if not _CONDITION.fullmatch(value):
        detail = 'must be "*" or a comma-separated list of entity tags, as in ETag'
        raise ValidationFailed([FieldError(header=header, detail=detail)])
    if value.strip(" \t") == "*":
        return ANY
    tags = _ENTITY_TAG_ITEM.findall(value)
    if len(tags) > MAX_ENTITY_TAGS:
        detail = f"must list at most {MAX_ENTITY_TAGS} entity tags"
        raise ValidationFailed([FieldError(header=header, detail=detail)])
    versions = (_version(opaque) for weak_prefix, opaque in tags if weak or not weak_prefix)
    return tuple(dict.fromkeys(v for v in versions if v is not None))


def weakly_matches(value: str | None, opaque_tag: str) -> bool:
    """Whether an If-None-Match value names ``opaque_tag`` (weak comparison, RFC 9110
    §13.1.2), for content that is not a record (the web page); a malformed value matches nothing."""
    if value is None or not _CONDITION.fullmatch(value):
        return False
    return value.strip(" \t") == "*" or opaque_tag in (
        t for _, t in _ENTITY_TAG_ITEM.findall(value)
    )


def if_match(request: Request) -> Match | None:
    """If-Match alone: PATCH and DELETE honour no other precondition."""
    return _match(request, "If-Match", weak=False)


def if_none_match(request: Request) -> Match | None:
    """If-None-Match alone, for GET."""
    return _match(request, "If-None-Match", weak=True)


def preconditions(request: Request) -> Preconditions:
    """If-Match and If-None-Match as version preconditions."""
    return Preconditions(
        if_match=_match(request, "If-Match", weak=False),
        if_none_match=if_none_match(request),
    )


#: Idempotency-Key: 1-255 visible ASCII characters, bare or as a structured-field string
#: (quoted, with backslash escapes for quote and backslash).
IDEMPOTENCY_KEY_PATTERN = (
    r'[\x21\x23-\x7e][\x21-\x7e]{0,254}|"(?:[\x21\x23-\x5b\x5d-\x7e]|\\["\\]){1,255}"'
)
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header's key, unquoted; None when it is absent."""
    value: str | None = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        detail = "must be 1-255 visible ASCII characters, optionally as a quoted string"
        raise ValidationFailed([FieldError(header="Idempotency-Key", detail=detail)])
    if value.startswith('"'):
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


REQUEST_ID_HEADER = "X-Request-Id"
#: A client's X-Request-Id is honoured when it is 1-128 letters, digits and ``. _ : -``:
#: enough for UUIDs, ULIDs and most tracing ids, and safe in a log line and in a URN.
REQUEST_ID_PATTERN = r"[A-Za-z0-9._:-]{1,128}"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


def client_request_id(request: Request) -> str | None:
    """The caller's X-Request-Id when it is well-formed; otherwise None (never an error:
    a tracing header must not make a request fail)."""
    value: str | None = request.headers.get(REQUEST_ID_HEADER)
    if value is None or not _REQUEST_ID.fullmatch(value):
        return None
    return value
