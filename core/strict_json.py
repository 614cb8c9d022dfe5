"""JSON types as the schema says them: DRF's fields coerce by default (a number into a string
field, 0/1 or "yes" into a boolean, "12" into an integer), so a client breaking the schema
is silently accepted. The API reads JSON bodies only (core.parsers), so here every string,
boolean, integer and number field takes exactly its JSON type, or answers 400."""

from rest_framework import fields, relations

_char = fields.CharField.to_internal_value
_integer = fields.IntegerField.to_internal_value
_float = fields.FloatField.to_internal_value
_slug = relations.SlugRelatedField.to_internal_value


def _strict_char(self, data):
    if not isinstance(data, str):
        self.fail("invalid")
    return _char(self, data)


def _strict_boolean(self, data):
    if not isinstance(data, bool):
        self.fail("invalid", input=data)
    return data


def _strict_integer(self, data):
    integral = isinstance(data, float) and data.is_integer()
    if isinstance(data, bool) or not (isinstance(data, int) or integral):
        self.fail("invalid")
    return _integer(self, data)


def _strict_float(self, data):
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        self.fail("invalid")
    return _float(self, data)


def _strict_slug(self, data):
    # A slug is a string: 0 would otherwise find the object whose slug is "0".
    if not isinstance(data, str):
        self.fail("invalid")
    return _slug(self, data)


def apply() -> None:
    """Called once from core's AppConfig.ready()."""
    fields.CharField.to_internal_value = _strict_char
    fields.BooleanField.to_internal_value = _strict_boolean
    fields.IntegerField.to_internal_value = _strict_integer
    fields.FloatField.to_internal_value = _strict_float
    relations.SlugRelatedField.to_internal_value = _strict_slug
