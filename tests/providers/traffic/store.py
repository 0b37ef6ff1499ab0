"""An in-memory ObjectStore: objects by (apiVersion, plural, namespace, name), writes counted."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]
Key = tuple[str, str, str, str]


@dataclass
class FakeStore:
    objects: dict[Key, Object] = field(default_factory=dict)
    writes: int = 0

    def put(self, api_version: str, plural: str, obj: Object, namespace: str = "ns") -> Object:
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)
        self.objects[(api_version, plural, namespace, obj["metadata"]["name"])] = obj
        return obj

    def get_object(self, api_version: str, plural: str, namespace: str, name: str) -> Object | None:
        found = self.objects.get((api_version, plural, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def update_object(
        self,
        api_version: str,
        plural: str,
        namespace: str,
        name: str,
        mutate: Callable[[Object], bool],
    ) -> None:
        key = (api_version, plural, namespace, name)
        obj = copy.deepcopy(self.objects[key])
        if mutate(obj):
            self.objects[key] = obj
            self.writes += 1
