"""Serializer helpers: model serializers that build their fields from the model once."""

import copy

from rest_framework import serializers


class FieldsOnceModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that introspects its model once per class, not per instance.

    DRF's ModelSerializer rebuilds every field from the model for each serializer it makes
    (~1 ms for a dozen fields on this machine: most of a CI report's response). The fields
    depend only on the class (its Meta and declared fields), so they are built once and
    each instance gets a deep copy, as DRF does for declared fields; a subclass whose
    fields depend on the request or instance must not use this.
    """

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            cls._fields_built_once = built
        return copy.deepcopy(built)
