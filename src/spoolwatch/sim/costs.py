"""Prices and the cost ledger of one simulated run.

Prices are public list prices (us-east-1, as published in 2025-2026), kept as parameters so
a run can be repriced:

* Lambda: $0.0000133334 per GB-second on arm64, $0.0000166667 on x86, $0.20 per million
  requests; the INIT phase (cold start) is billed like the handler (AWS bills INIT for
  on-demand functions since August 2025).
* SQS standard: $0.40 per million requests, each request billed per 64 KB chunk of payload;
  empty receives are requests too. The models' own SendMessage calls are the same for every
  policy and are left out.
* DynamoDB on demand: $0.625 per million write request units and $0.125 per million read
  request units (after the November 2024 price cut); a failed conditional write still
  consumes its write unit.
* Always-on agents (``static``, ``keda``) run as pods on Fargate (EKS pods run on x86):
  $0.04048 per vCPU-hour and $0.004445 per GB-hour, one agent = 0.5 vCPU and 1 GB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["CostLedger", "Prices"]

SQS_CHUNK_BYTES = 65_536


@dataclass(frozen=True, slots=True, kw_only=True)
class Prices:
    """List prices in dollars; see the module docstring for where they come from."""

    lambda_gb_second_arm64: float = 0.0000133334
    lambda_gb_second_x86: float = 0.0000166667
    lambda_per_request: float = 0.20 / 1e6
    sqs_per_request: float = 0.40 / 1e6
    dynamodb_per_write_unit: float = 0.625 / 1e6
    dynamodb_per_read_unit: float = 0.125 / 1e6
    pod_vcpu_hour: float = 0.04048
    pod_gb_hour: float = 0.004445
    pod_vcpu: float = 0.5
    pod_memory_gb: float = 1.0

    def lambda_gb_second(self, architecture: str) -> float:
        """The GB-second price of ``architecture`` (``arm64`` or ``x86_64``)."""
        return self.lambda_gb_second_arm64 if architecture == "arm64" else self.lambda_gb_second_x86

    @property
    def pod_second(self) -> float:
        """What one agent pod costs per second."""
        hourly = self.pod_vcpu * self.pod_vcpu_hour + self.pod_memory_gb * self.pod_gb_hour
        return hourly / 3600.0


class CostLedger:
    """Counts what a run used; :meth:`breakdown` prices it."""

    def __init__(self, prices: Prices, *, record_bytes: int, architecture: str) -> None:
        self.prices = prices
        self.record_bytes = record_bytes
        self.architecture = architecture
        self.lambda_gb_seconds = 0.0
        self.lambda_requests = 0
        self.sqs_requests = 0
        self.dynamodb_write_units = 0.0
        self.dynamodb_read_units = 0.0
        self.pod_seconds = 0.0

    def sqs_call(self, records: int = 0, calls: int = 1) -> None:
        """Bill ``calls`` SQS requests carrying ``records`` messages between them."""
        if calls <= 0:
            return
        per_call = math.ceil(records / calls * self.record_bytes / SQS_CHUNK_BYTES)
        self.sqs_requests += calls * max(1, per_call)

    def lambda_run(self, seconds: float, memory_gb: float, invocations: int = 1) -> None:
        """Bill ``invocations`` of ``seconds`` each (billed per millisecond)."""
        billed = math.ceil(max(seconds, 0.001) * 1000.0) / 1000.0
        self.lambda_gb_seconds += billed * memory_gb * invocations
        self.lambda_requests += invocations

    def breakdown(self) -> dict[str, float]:
        """Dollars per item: compute, requests (Lambda), sqs, dynamodb and the total."""
        p = self.prices
        compute = self.lambda_gb_seconds * p.lambda_gb_second(self.architecture)
        compute += self.pod_seconds * p.pod_second
        requests = self.lambda_requests * p.lambda_per_request
        sqs = self.sqs_requests * p.sqs_per_request
        dynamodb = (
            self.dynamodb_write_units * p.dynamodb_per_write_unit
            + self.dynamodb_read_units * p.dynamodb_per_read_unit
        )
        return {
            "compute": compute,
            "requests": requests,
            "sqs": sqs,
            "dynamodb": dynamodb,
            "total": compute + requests + sqs + dynamodb,
        }
