"""Discrete-event simulation of scaling policies against modelled SQS, Lambda and costs.

Real AWS is out of reach and moto has no clock, so scaling is measured here: simpy drives
the real :mod:`spoolwatch.scaling` code (the ``spoolwatch`` policy) and the alternatives
users pick (``recipe``, ``lambda-esm``, ``keda``, ``static``) through scenarios
(``burst-1m``, ``diurnal``, ``spiky``, ``outage``).

* :mod:`~spoolwatch.sim.sqs`: the queue as cohorts of records (visibility, redelivery,
  dead-letter queue, lagging approximate counts, in-flight limit, duplicates).
* :mod:`~spoolwatch.sim.lambda_`: environments, cold starts, the scaling limit, the 900 s
  limit, the recursive-loop stop, the agent queue's trigger.
* :mod:`~spoolwatch.sim.costs`: list prices and the ledger.
* :mod:`~spoolwatch.sim.measured`: the agent's figures measured on the real stream (the
  default) and the easy path's; :mod:`~spoolwatch.sim.destination`: what the destination
  accepts per second (presets), 429 with ``Retry-After`` beyond it.
* :mod:`~spoolwatch.sim.model`: parameters, the clock, the world and how an agent drains.
* :mod:`~spoolwatch.sim.policies`: one module per policy, contract in ``base``.
* :mod:`~spoolwatch.sim.scenarios`, :mod:`~spoolwatch.sim.run` (:func:`simulate`),
  :mod:`~spoolwatch.sim.report` (tables, JSON) and :mod:`~spoolwatch.sim.plot` (PNG).

Every approximation is stated in the docstring of the module that makes it.
"""

from spoolwatch.sim.policies import POLICIES
from spoolwatch.sim.run import SimResult, simulate, simulate_all
from spoolwatch.sim.scenarios import SCENARIOS
from spoolwatch.sim.world import AGENT_THROUGHPUT, SimParams

__all__ = [
    "AGENT_THROUGHPUT",
    "POLICIES",
    "SCENARIOS",
    "SimParams",
    "SimResult",
    "simulate",
    "simulate_all",
]
