"""Each console form's fields and the check of each field: the one table the core operations validate a
request with (``check_form``) and the forms call as the user types (``field_error``).

A field's value is the form's text (blank fields are passed as None: not given) or the typed value an API
caller passes; a check gets the field's value, all the form's values (for fields that depend on others) and
the host's facts (None before they are read: the check then skips what needs the host).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from netcon.core.errors import UsageError
from netcon.core.host_facts import HostFacts
from netcon.core.validate import flannel
from netcon.core.validate.containers import _run_image, _run_publish, check_network_mode, split_command
from netcon.core.validate.fields import Check, Value
from netcon.core.validate.items import check_labels, check_options
from netcon.core.validate.names import check_container_name
from netcon.core.validate.networks import (
    _aliases,
    _connect_container,
    _connect_ip,
    _connect_network,
    _create_driver,
    _create_name,
    _create_subnet,
    _dependent,
    _disconnect_container,
    _disconnect_network,
    check_gateway,
    check_ip_range,
)
from netcon.core.validate.values import output_file

FORMS: dict[str, dict[str, Check]] = {
    "network.create": {
        "name": _create_name,
        "driver": _create_driver,
        "subnet": _create_subnet,
        "gateway": _dependent("gateway", "A gateway", check_gateway),
        "ip_range": _dependent("ip_range", "An IP range", check_ip_range),
        "labels": lambda value, values, facts: check_labels(value),
        "options": lambda value, values, facts: check_options(value, facts),
    },
    "network.connect": {
        "network": _connect_network,
        "container": _connect_container,
        "ip": _connect_ip,
        "aliases": _aliases,
    },
    "network.disconnect": {
        "network": _disconnect_network,
        "container": _disconnect_container,
    },
    "container.run": {
        "name": lambda value, values, facts: check_container_name(value, facts),
        "network": lambda value, values, facts: check_network_mode(value, facts),
        "image": _run_image,
        "publish": _run_publish,
        "labels": lambda value, values, facts: check_labels(value),
        "command": lambda value, values, facts: split_command(value),
    },
    **flannel.FORMS,
    "capture.save": {"path": lambda value, values_, facts: output_file(value or "", "path", "File")},
}


def check_form(form: str, values: Mapping[str, Value], facts: HostFacts | None) -> dict[str, Any]:
    """Check every field of ``form`` in order; the parsed values, or the first field's ``UsageError``."""
    return {field: check(values.get(field), values, facts) for field, check in FORMS[form].items()}


def field_error(form: str, field: str, values: Mapping[str, Value], facts: HostFacts | None = None) -> str | None:
    """The error to show next to ``field`` of ``form`` given all the form's current ``values``, or None.

    Cheap and side-effect free: call it on every keystroke. Pass the ``HostFacts`` read when the form opened
    to also check names taken, overlaps, existing containers and used addresses.
    """
    try:
        FORMS[form][field](values.get(field), values, facts)
    except UsageError as error:
        return str(error)
    return None
