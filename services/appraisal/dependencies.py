"""What appraisal's entrypoints are given besides the kit's storage and metrics."""
from nameko.extensions import DependencyProvider

from kit.schemas import load

from . import handlers, schemas


class ConfiguredRules(DependencyProvider):
    """The appraisal rules of the configuration (APPRAISAL_RULES over the defaults), checked
    as the service starts: a bad rule stops it, naming the field."""

    def setup(self):
        self.rules = handlers.rules_from(load(schemas.RulesConfig, dict(
            self.container.config.get("APPRAISAL_RULES") or {})))

    def get_dependency(self, worker_ctx):
        return self.rules
