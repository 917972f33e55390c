"""Every named fault of the hostile server, by name."""

from __future__ import annotations

from tests.hostile.context import Fault
from tests.hostile.faults_conn import CONNECTION_FAULTS
from tests.hostile.faults_fields import FIELD_FAULTS
from tests.hostile.faults_wire import WIRE_FAULTS

ALL = (*FIELD_FAULTS, *WIRE_FAULTS, *CONNECTION_FAULTS)
CATALOG: dict[str, Fault] = {f.name: f for f in ALL}
"""Name -> fault (with its documented outcome on each protocol)."""

assert len(CATALOG) == len(ALL), "fault names must be unique"
