# Copyright: learnhpc.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action of learnhpc.cluster.config_files: render the templates and read the source files
on the control machine, then run the module once with every entry's content."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

# What ansible.builtin.template gives a template that sets no ansible_managed of its own.
ANSIBLE_MANAGED = "Ansible managed"
SOURCES = ("content", "content_base64", "template", "src")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        files = self._task.args.get("files")
        if not isinstance(files, list) or not all(isinstance(entry, dict) for entry in files):
            raise AnsibleActionFail("config_files: files must be a list of dictionaries")
        entries = [self._entry(index, dict(entry), task_vars) for index, entry in enumerate(files)]
        args = {key: value for key, value in self._task.args.items() if key != "files"}
        args["files"] = entries
        result.update(
            self._execute_module(module_name="learnhpc.cluster.config_files", module_args=args, task_vars=task_vars)
        )
        return result

    def _entry(self, index, entry, task_vars):
        where = f"config_files: files[{index}] ({entry.get('dest', 'no dest')})"
        given = [key for key in SOURCES if entry.get(key) is not None]
        state = entry.get("state", "present")
        if state == "present" and len(given) != 1:
            raise AnsibleActionFail(
                f"{where}: give exactly one of content, content_base64, template and src (got {given or 'none'})"
            )
        if state != "present" and given:
            raise AnsibleActionFail(f"{where}: {given[0]} is only for state present, not {state}")
        try:
            if entry.get("template") is not None:
                entry["content"] = self._render(entry.pop("template"), entry.get("dest"), task_vars)
            elif entry.get("src") is not None:
                path = self._find_needle("files", entry.pop("src"))
                with open(path, "rb") as source:
                    entry["content"] = to_text(source.read(), errors="surrogate_or_strict")
        except (AnsibleError, OSError, UnicodeError) as error:
            raise AnsibleActionFail(f"{where}: {to_text(error)}") from error
        entry.pop("template", None)
        entry.pop("src", None)
        return entry

    def _render(self, name, dest, task_vars):
        """The template ``name`` rendered as ansible.builtin.template renders it (trim_blocks)."""
        source = self._find_needle("templates", name)
        searchpath = [*task_vars.get("ansible_search_path", []), self._loader._basedir, os.path.dirname(source)]
        searchpath = [path for base in searchpath for path in (os.path.join(base, "templates"), base)]
        variables = dict(task_vars, template_path=name, template_fullpath=source, template_destpath=dest)
        variables.setdefault("ansible_managed", ANSIBLE_MANAGED)
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
        rendered = templar.template(
            trust_as_template(self._loader.get_text_file_contents(source)),
            escape_backslashes=False,
            overrides={"trim_blocks": True, "lstrip_blocks": False, "newline_sequence": "\n"},
        )
        return "" if rendered is None else rendered
