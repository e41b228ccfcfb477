"""Wheel build hook: the files the repository keeps at its top go into the package, as pyproject.toml maps them.

An editable install gets no copies: it imports the checkout, which has them beside the package
(bgremover/resources.py looks in the package first, then beside it).
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class PackageResources(BuildHookInterface):
    """Add `[tool.hatch.build.targets.wheel.hooks.custom].resources` to a standard wheel's forced inclusions."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Map each resource into the wheel, unless this is an editable build."""
        if version == "standard":
            build_data["force_include"].update(self.config["resources"])
