"""Scaling policies compared by the simulator; one module each, contract in ``base``."""

from spoolwatch.sim.policies.base import Policy
from spoolwatch.sim.policies.keda import KedaPolicy
from spoolwatch.sim.policies.lambda_esm import LambdaEsmPolicy
from spoolwatch.sim.policies.recipe import RecipePolicy
from spoolwatch.sim.policies.spoolwatch import SpoolwatchPolicy
from spoolwatch.sim.policies.static import StaticPolicy

__all__ = [
    "POLICIES",
    "KedaPolicy",
    "LambdaEsmPolicy",
    "Policy",
    "RecipePolicy",
    "SpoolwatchPolicy",
    "StaticPolicy",
]

#: Every policy by its CLI name, in the order reports list them.
POLICIES: dict[str, type[Policy]] = {
    cls.name: cls
    for cls in (SpoolwatchPolicy, RecipePolicy, LambdaEsmPolicy, KedaPolicy, StaticPolicy)
}
