"""The REST API's JSON parser: DRF's, plus the two inputs it lets through to a server error."""

from __future__ import annotations

import json

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - the body nests too deeply."))
        try:
            # A lone UTF-16 surrogate ("\ud800") parses but can be neither stored nor sent on.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError(_("JSON parse error - the body contains an unpaired UTF-16 surrogate."))
        except (TypeError, ValueError):
            pass
        return data
