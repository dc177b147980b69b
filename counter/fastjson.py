"""Flask's JSON responses encoded by orjson: the same bytes as the standard provider, faster."""

from __future__ import annotations

import orjson
from flask.json.provider import DefaultJSONProvider

# Dates and datetimes go to Flask's own default (HTTP dates), as with json.
OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class FastJSONProvider(DefaultJSONProvider):
    """Compact, insertion-ordered, non-ASCII UTF-8 JSON from orjson; anything else from json."""

    sort_keys = False
    ensure_ascii = False

    def encode(self, obj) -> bytes | None:
        """Return `obj` as compact JSON bytes, or None where orjson would differ from json."""
        try:
            return orjson.dumps(obj, default=self.default, option=OPTIONS)
        except (orjson.JSONEncodeError, TypeError):
            return None  # e.g. an integer past 64 bits: json knows it

    def response(self, *args, **kwargs):
        """Serialize like Flask's provider; compact output goes through orjson."""
        return self._app.response_class(self.response_body(self._prepare_response_obj(args, kwargs)),
                                        mimetype=self.mimetype)

    def response_body(self, obj) -> bytes:
        """Return the body of the JSON answer for `obj`: compact from orjson, else as Flask writes it."""
        if not (self.compact is False or (self.compact is None and self._app.debug)):
            body = self.encode(obj)
            if body is not None:
                return body + b"\n"
        return super().response(obj).get_data()  # indented (debug), or what orjson cannot write
