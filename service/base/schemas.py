"""Schema bases shared by every package's request bodies.

``BodySchema`` refuses unknown fields and any string carrying control characters (NUL cannot be
stored in PostgreSQL text, and the others have no business in names, codes or addresses), naming
the field in the error like every other validation failure.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, pre_load

from service.base.exceptions import FieldMessage

CONTROL_CHARACTER_MESSAGE = FieldMessage("Must not contain control characters.")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BodySchema(Schema):
    class Meta:
        unknown = RAISE

    @pre_load
    def _refuse_control_characters(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict):
            errors = {
                key: [CONTROL_CHARACTER_MESSAGE]
                for key, value in data.items()
                if isinstance(value, str) and _CONTROL_CHARACTERS.search(value)
            }
            if errors:
                raise ValidationError(errors)
        return data
