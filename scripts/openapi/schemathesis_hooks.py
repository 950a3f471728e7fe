"""Schemathesis hooks of the API fuzz (scripts/openapi/fuzz_gateway.py loads them through SCHEMATHESIS_HOOKS).

Random UUIDs never name a business that exists, so the generated business ids, sync-log ids and doctor paths are
mixed with real ones: the fuzzing token's own business and another business (with its sync logs). The check
`merchant_stays_in_its_business` fails any answer of a merchant's run that let it act on, or read, the other business:
a 2xx to a request naming it, or a 2xx body holding its id, its shop or one of its sync logs.

The script passes what exists through the environment: FUZZ_ROLE (merchant | ops), FUZZ_OWN_BUSINESS,
FUZZ_OTHER_BUSINESS, FUZZ_OTHER_SHOP, FUZZ_OWN_RUNS and FUZZ_OTHER_RUNS (comma-separated sync-log ids) and
FUZZ_DEAD_LETTERS (ids of poison jobs buried on ecommerce-orders, for the retry operation).
"""

import os
from urllib.parse import parse_qs, urlsplit

import schemathesis
from hypothesis import strategies

ROLE = os.environ.get("FUZZ_ROLE", "ops")
OWN = os.environ["FUZZ_OWN_BUSINESS"]
OTHER = os.environ["FUZZ_OTHER_BUSINESS"]
OTHER_SHOP = os.environ["FUZZ_OTHER_SHOP"]
OWN_RUNS = [run for run in os.environ.get("FUZZ_OWN_RUNS", "").split(",") if run]
OTHER_RUNS = [run for run in os.environ.get("FUZZ_OTHER_RUNS", "").split(",") if run]
DEAD_LETTERS = [job for job in os.environ.get("FUZZ_DEAD_LETTERS", "").split(",") if job]


def _path(context) -> str:
    return context.operation.path if context.operation is not None else ""


@schemathesis.hook
def flatmap_query(context, query):
    """`businessId` as generated, the token's own business, or the other one (when the operation takes one)."""
    parameters = {parameter.name for parameter in context.operation.query} if context.operation is not None else set()
    if "businessId" not in parameters or query is None:
        return strategies.just(query)
    return strategies.sampled_from([query, {**query, "businessId": OWN}, {**query, "businessId": OTHER}])


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    """A business path's `{id}` as generated, own or other; a sync log's `{id}` as generated, one of each business's;
    a dead letter's `{queue}`/`{id}` as generated or one of the buried poison jobs."""
    if path_parameters is None or "id" not in path_parameters:
        return strategies.just(path_parameters)
    path = _path(context)
    if path == "/ops/api/dead-letters/{queue}/{id}/retry":
        buried = [{**path_parameters, "queue": "ecommerce-orders", "id": job} for job in DEAD_LETTERS]
        return strategies.sampled_from([path_parameters, *buried])
    if path.startswith("/ops/api/businesses/"):
        choices = [path_parameters["id"], OWN, OTHER]
    elif path == "/ecommerce/sync/logs/{id}":
        choices = [path_parameters["id"], *OWN_RUNS, *OTHER_RUNS]
    else:
        return strategies.just(path_parameters)
    return strategies.sampled_from([{**path_parameters, "id": choice} for choice in choices])


@schemathesis.check
def merchant_stays_in_its_business(ctx, response, case):
    """A merchant's token never acts on or reads another business."""
    if ROLE != "merchant" or not 200 <= response.status_code < 300:
        return None
    url = urlsplit(response.request.url)
    named = set(parse_qs(url.query).get("businessId", [])) | set(url.path.split("/"))
    others = {OTHER, *OTHER_RUNS}
    if named & others:
        raise AssertionError(f"a merchant's token got {response.status_code} for {response.request.method} {url.path}?{url.query}, which names another business")
    body = response.content.decode("utf-8", "replace")
    leaked = [marker for marker in (OTHER, OTHER_SHOP, *OTHER_RUNS) if marker in body]
    if leaked:
        raise AssertionError(f"a merchant's answer to {response.request.method} {url.path} holds another business's {leaked}")
    return True
