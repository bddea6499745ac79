"""The local gateway's routing: the routes of `loyalty_engine.wiring`, matched as API Gateway
matches them.

`{param}` is one segment; a literal segment wins over a `{param}` one; the path given is
percent-encoded and the path parameters are decoded. An unknown path, or a method no route
has there, is a 404 route_not_found (as the deployed API answers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from local_stack.gateway_http import GatewayError
from loyalty_engine.wiring import ApiRoute, Function


@dataclass(frozen=True)
class RouteMatch:
    route: ApiRoute
    function: Function
    path_parameters: dict[str, str]


class Router:
    """The wiring's routes; a literal segment wins over a `{param}` one, as on API Gateway."""

    def __init__(self, functions: Iterable[Function]):
        self._routes: list[tuple[re.Pattern[str], tuple[int, ...], ApiRoute, Function]] = []
        for function in functions:
            for route in function.routes:
                pattern, rank = self._compile(route.path)
                self._routes.append((pattern, rank, route, function))

    @staticmethod
    def _compile(template: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
        parts, rank = [], []
        for segment in template.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
                rank.append(1)
            else:
                parts.append(re.escape(segment))
                rank.append(0)
        return re.compile("^/" + "/".join(parts) + "/?$"), tuple(rank)

    def match(self, method: str, path: str) -> RouteMatch:
        """The route for METHOD path, or GatewayError 404."""
        candidates = []
        for pattern, rank, route, function in self._routes:
            found = pattern.match(path)
            if found:
                candidates.append((rank, route, function, found))
        if not candidates:
            raise GatewayError(404, "route_not_found", f"no route for {path}")
        best = min(rank for rank, *_ in candidates)
        candidates = [c for c in candidates if c[0] == best]
        for _, route, function, found in candidates:
            if route.method == method:
                parameters = {name: unquote(value) for name, value in found.groupdict().items()}
                return RouteMatch(route, function, parameters)
        # As deployed: API Gateway has no such method there, and infra maps that to 404 too.
        allowed = ", ".join(sorted({route.method for _, route, _, _ in candidates}))
        raise GatewayError(
            404,
            "route_not_found",
            f"no route for {method} {candidates[0][1].path} (routes there: {allowed})",
        )
