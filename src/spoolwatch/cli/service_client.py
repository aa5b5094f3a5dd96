"""The admin commands' client of a running service's REST API (``--server URL``).

Every failure becomes one line a user can act on, raised as a spoolwatch error (httpx's
exceptions are translated here and nowhere else): :class:`ConfigError` when the call must be
fixed (a wrong or revoked token, a token without the ``admin`` scope, an unknown deployment,
input the service refused, with the service's own message and the CLI's option names), and
:class:`DestinationUnavailable` when the service cannot be reached or fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from spoolwatch.errors import ConfigError, DestinationUnavailable

__all__ = ["API_FLAGS", "ServiceClient"]

#: The CLI option for each field the service names in a 422.
API_FLAGS = {
    "label": "--name",
    "name": "--name",
    "scope": "--scope",
    "targetType": "--type",
    "targetName": "--target",
    "classNames": "--class-names",
    "featureTypes": "--feature-type",
    "trainingData": "--training-data",
    "id": "--id",
    "modelId": "--model-id",
    "accuracyMetric": "--accuracy-metric",
    "accuracyYellowPercent": "--accuracy-yellow",
    "accuracyRedPercent": "--accuracy-red",
    "accuracyBaselineValue": "--accuracy-baseline",
}


def _masked(url: httpx.URL) -> str:
    """``url`` with any password in it replaced by ``***``."""
    if not url.password:
        return str(url)
    return str(url.copy_with(password="***"))


def _detail(response: httpx.Response) -> str:
    """The service's message: ``detail`` as text, or each ``loc``/``msg`` of a 422 named by
    the CLI's option."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        parts = []
        for error in detail:
            if not isinstance(error, dict):
                parts.append(str(error))
                continue
            names = [str(p) for p in error.get("loc", []) if isinstance(p, str) and p != "body"]
            field = names[-1].split("[", 1)[0] if names else ""
            shown = API_FLAGS.get(field, field)
            parts.append(f"{shown}: {error.get('msg', '')}" if shown else str(error.get("msg")))
        return "; ".join(parts)
    return str(detail)


class ServiceClient:
    """Calls to ``/api/v2`` of the service at ``url`` with an admin ``token``."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 120.0) -> None:
        try:
            parsed = httpx.URL(url.strip())
        except httpx.InvalidURL as exc:
            raise ConfigError(f"--server: {url!r} is not a URL ({exc})") from None
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise ConfigError(
                f"--server: {_masked(parsed)!r} is not an http(s) URL (e.g. http://127.0.0.1:8080)"
            )
        base = str(parsed.copy_with(path=parsed.path.replace("/api/v2", "").rstrip("/") + "/"))
        self.shown = _masked(httpx.URL(base)).rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=base, headers=headers, timeout=timeout)

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> Any:
        """The decoded JSON answer of ``method path`` (``None`` for 204); a spoolwatch error
        with one clear line otherwise."""
        target = f"api/v2/{path.lstrip('/')}"
        try:
            response = self._client.request(method, target, json=json, data=data, files=files)
        except httpx.TimeoutException as exc:
            raise DestinationUnavailable(
                f"the service at {self.shown} did not answer in time ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise DestinationUnavailable(
                f"cannot reach the service at {self.shown}: {reason}"
            ) from None
        return self._answer(method, path, response)

    def _answer(self, method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        if status < 300:
            return None if status == 204 or not response.content else response.json()
        detail = _detail(response)
        if status == 401:
            raise ConfigError(
                f"the service at {self.shown} refused the token (401: {detail}); give an "
                "admin token in SPOOLWATCH_API_TOKEN or --token"
            )
        if status == 403:
            raise ConfigError(f"the token may not do this (403: {detail})")
        if status == 404 and detail == "Not Found":
            raise ConfigError(
                f"{self.shown} has no {method} /api/v2/{path.lstrip('/')} "
                "(is it a spoolwatch service of this version?)"
            )
        if status >= 500:
            raise DestinationUnavailable(
                f"the service at {self.shown} failed: HTTP {status}: {detail}", status=status
            )
        raise ConfigError(detail if status in {404, 409, 422} else f"HTTP {status}: {detail}")
