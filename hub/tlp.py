"""TLP 2.0 as STIX 2.1 marking definitions, and the mapping from TLP 1.0 that most tools still emit."""
from __future__ import annotations

import enum

from hub.db import StixIdMap

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


class TLP(str, enum.Enum):
    clear = "clear"
    green = "green"
    amber = "amber"
    amber_strict = "amber+strict"
    red = "red"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def label(self) -> str:
        return "TLP:" + self.value.upper()

    @property
    def marking_id(self) -> str:
        return TLP2_MARKING_IDS[self]

    @classmethod
    def parse(cls, text: str) -> "TLP":
        """Accepts 'amber+strict', 'TLP:AMBER+STRICT', 'white' (TLP 1.0 for clear)…; ValueError
        for anything else, a non-string included."""
        if not isinstance(text, str):
            raise ValueError(f"not a TLP label: {text!r}")
        value = text.strip().lower().removeprefix("tlp:").strip()
        if value == "white":
            return cls.clear
        return cls(value)


_ORDER = [TLP.clear, TLP.green, TLP.amber, TLP.amber_strict, TLP.red]

TLP2_MARKING_IDS = {
    TLP.clear: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.green: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.amber: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.amber_strict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.red: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

# The marking-definition ids below are looked up whatever the case of their hex (StixIdMap): an
# object marked "marking-definition--E828B379-…" is TLP:RED to every consumer, and a lookup that
# missed it gave the object the request's TLP (say GREEN) and shared it as such.

# TLP 1.0 as STIX 2.1 defines it (section 7.2.1.4), by the name its definition carries.
TLP1_MARKING_IDS = StixIdMap({
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "white",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
})

# Accepted on input, rewritten to TLP 2.0 on ingest: TLP 1.0 (built into stix2) and OpenCTI's
# own AMBER+STRICT.
LEGACY_MARKING_IDS = StixIdMap({marking_id: TLP.parse(name) for marking_id, name in TLP1_MARKING_IDS.items()})
LEGACY_MARKING_IDS["marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"] = TLP.amber_strict

TLP_BY_MARKING_ID = StixIdMap({marking_id: tlp for tlp, marking_id in TLP2_MARKING_IDS.items()})
TLP_BY_MARKING_ID.update(LEGACY_MARKING_IDS)


def marking_definition(tlp: TLP) -> dict:
    """The TLP 2.0 marking-definition object, as OASIS publishes it (not built into stix2)."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_MARKING_IDS[tlp],
        "created": "2022-10-01T00:00:00.000Z",
        "name": tlp.label,
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": tlp.value}
        },
    }


def well_known_marking(marking_id: str) -> dict | None:
    """The TLP marking-definition object with this id as published (TLP 2.0 by OASIS, TLP 1.0 by
    STIX 2.1 itself), or None. The hub stores none of them: each is one fixed object, the same for
    every reader, which an add accepts as known and a read by id serves as it is. (OpenCTI's own
    AMBER+STRICT has no published form.)"""
    tlp = TLP_BY_MARKING_ID.get(marking_id)
    if tlp is not None and TLP2_MARKING_IDS[tlp] == marking_id.lower():
        return marking_definition(tlp)
    name = TLP1_MARKING_IDS.get(marking_id)
    if name is None:
        return None
    return {"type": "marking-definition", "spec_version": "2.1", "id": marking_id.lower(), "created": "2017-01-20T00:00:00.000Z",
            "definition_type": "tlp", "name": f"TLP:{name.upper()}", "definition": {"tlp": name}}


def is_tlp_marking_id(marking_id: str) -> bool:
    return marking_id in TLP_BY_MARKING_ID
