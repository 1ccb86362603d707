# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event file of a training event: reading, validation and the normalized event.

An event is described by ``events/<name>.yml`` (docs/event-file.md). ``load_event`` reads
one and ``validate_event`` checks data already read; both return ``(event, errors)``:
the normalized event (every key with its default filled in, dates as ``YYYY-MM-DD``,
derived keys added) and a list of one-line error messages, each prefixed with the file.
``event`` is ``None`` exactly when there are errors. Warnings (settings that are allowed
but risky) are appended to the list passed as ``warnings=``.

The keys and their defaults are the table of event_keys.py; event_checker.py checks each key
against it and event_rules.py what one key says about another. Plain Python on purpose, so
that modules, plugins and tests can all use it.
"""

from __future__ import annotations

import datetime
import os
import traceback

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None

from ansible_collections.learnhpc.cluster.plugins.module_utils.contract import EVENT_NAME_RE, EVENT_NAME_RULE
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_checker import BAD, Checker, parse_date, show
from ansible_collections.learnhpc.cluster.plugins.module_utils.event_rules import check_event, complete_event


def event_name_error(name):
    """Why ``name`` is not a valid event name (docs/contracts.md), or ``None``."""
    if isinstance(name, str) and EVENT_NAME_RE.fullmatch(name):
        return None
    return f"the event name {show(name)} is not valid: use {EVENT_NAME_RULE}"


def validate_event(data, name, today=None, *, path=None, check_dates=True, events_dir=None, warnings=None):
    """Check the data of an event file and normalize it.

    ``data``: what the YAML file holds; ``name``: the event name (the file's stem);
    ``today``: a ``datetime.date`` or ``YYYY-MM-DD`` string (default: the current date);
    ``path``: the event file, the prefix of every message (default ``events/<name>.yml``)
    and, made absolute, ``file`` in the event; ``check_dates``: whether an ``end_date`` in
    the past is an error; ``events_dir``: the directory of the event files, for
    ``state_dir`` (default: the directory of ``path``); ``warnings``: a list the warnings
    are appended to.

    Returns ``(event, errors)``: the normalized event (``None`` when there are errors) and
    the list of one-line errors.
    """
    label = path if path is not None else os.path.join("events", f"{name}.yml")
    c = Checker(label)
    today_date = parse_date(today) if today is not None else datetime.date.today()
    if today_date is None:
        raise ValueError(f"today must be a date YYYY-MM-DD, got {today!r}")

    problem = event_name_error(name)
    if problem is not None:
        c.error("", problem)
    if not isinstance(data, dict):
        what = "nothing (the file is empty)" if data is None else f"a {type(data).__name__}"
        c.error("", f"the file must hold a mapping of settings (see docs/event-file.md), got {what}")
        return _finish(c, None, warnings)

    event = check_event(c, data, name, today_date, check_dates=check_dates, name_ok=problem is None)
    if c.errors:
        return _finish(c, None, warnings)
    if _contains_bad(event):  # pragma: no cover - every BAD comes with an error
        raise AssertionError("an invalid value without an error message")
    complete_event(c, event)
    event["file"] = os.path.abspath(label)
    directory = os.path.abspath(events_dir) if events_dir is not None else os.path.dirname(event["file"])
    event["state_dir"] = os.path.join(directory, ".state", name)
    return _finish(c, event, warnings)


def _contains_bad(value):
    if value is BAD:
        return True
    if isinstance(value, dict):
        return any(_contains_bad(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_bad(v) for v in value)
    return False


def _finish(c, event, warnings):
    if warnings is not None:
        warnings.extend(c.warnings)
    return (None if c.errors else event), c.errors


# -- files ---------------------------------------------------------------------------------


def display_path(path):
    """``path`` relative to the current directory when it is below it, else absolute."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(absolute, cwd)
    return absolute


def list_events(events_dir):
    """The names of the events in ``events_dir``: valid event names with a ``.yml`` file, sorted."""
    try:
        entries = os.listdir(events_dir)
    except OSError:
        return []
    names = []
    for entry in entries:
        stem, ext = os.path.splitext(entry)
        if ext == ".yml" and EVENT_NAME_RE.fullmatch(stem) and os.path.isfile(os.path.join(events_dir, entry)):
            names.append(stem)
    return sorted(names)


def _loader_class():
    class UniqueKeyLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """A safe loader that refuses a key given twice in one mapping."""

    def construct_mapping(loader, node, deep=False):
        seen = {}
        for key_node, _value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key; SafeLoader reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {show(key)} (first given on line {seen[key] + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    def construct_timestamp(loader, node):
        # An impossible date (2026-02-30) stays a string, so that the check of its key names
        # the file and the key instead of PyYAML's bare "day is out of range for month".
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except ValueError:
            return loader.construct_scalar(node)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    return UniqueKeyLoader


def read_yaml(path, label=None):
    """``(data, error)``: the YAML document in ``path``, or a one-line error."""
    label = label if label is not None else display_path(path)
    if not HAS_YAML:
        return None, f"{label}: cannot read the file: the Python library PyYAML is not installed"
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, f"{label}: cannot read the file: {reason}"
    try:
        return yaml.load(text, Loader=_loader_class()), None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        detail = f"{problem} ({context})" if context else problem
        return None, " ".join(f"{label}: {where}not valid YAML: {detail}".split())


def _find_event_file(name, events_dir):
    """``(path, error)`` of event ``name`` in ``events_dir``."""
    problem = event_name_error(name)
    if problem is not None:
        return None, problem
    path = os.path.join(events_dir, f"{name}.yml")
    if os.path.isfile(path):
        return path, None
    shown = os.path.join(display_path(events_dir), "")
    if not os.path.isdir(events_dir):
        return None, f"unknown event {name!r}: the events directory {shown} does not exist"
    known = list_events(events_dir)
    if known:
        return None, f"unknown event {name!r}: the events in {shown} are {', '.join(known)}"
    return None, f"unknown event {name!r}: there are none in {shown}"


def load_event(path=None, *, name=None, events_dir=None, today=None, check_dates=True, warnings=None):
    """Read and validate an event file.

    Give either ``path`` (the event name is then the file's stem; ``events_dir`` defaults to
    its directory) or ``name`` and ``events_dir`` (the file is ``<events_dir>/<name>.yml``).
    The other arguments are those of ``validate_event``. Returns ``(event, errors)``.
    """
    if path is None:
        if name is None or events_dir is None:
            raise ValueError("load_event needs path, or name and events_dir")
        path, error = _find_event_file(name, events_dir)
        if error is not None:
            return None, [error]
    else:
        stem, ext = os.path.splitext(os.path.basename(path))
        if name is None:
            name = stem
            if event_name_error(name) is not None or ext != ".yml":
                rule = f"<event>.yml, <event> being {EVENT_NAME_RULE}"
                return None, [f"{display_path(path)}: an event file must be named {rule}"]
        if events_dir is None:
            events_dir = os.path.dirname(os.path.abspath(path))
    label = display_path(path)
    data, error = read_yaml(path, label)
    if error is not None:
        return None, [error]
    if not isinstance(data, dict):
        what = "nothing (the file is empty)" if data is None else f"a {type(data).__name__}"
        return None, [f"{label}: the file must hold a mapping of settings (see docs/event-file.md), got {what}"]
    return validate_event(
        data, name, today, path=label, check_dates=check_dates, events_dir=events_dir, warnings=warnings
    )
