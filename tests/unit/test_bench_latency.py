"""`bench/aws_hooks.Latency`: every call takes at least its p50; moto's (or the meter's) time
beyond it is taken out only for calls that overlapped no other."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.stub import Stubber

from bench.aws_hooks import Latency
from bench.aws_model import call_ms

PUT_S = call_ms("PutItem") / 1000
ITEM = {"pk": {"S": "P"}, "sk": {"S": "S"}}


class SlowMeter:
    """Stands in for the write meter's time per call (its reads before and after a write)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = 0

    def start_call(self) -> None:
        self.started += 1

    def call_seconds(self) -> float:
        return self.seconds


def stubbed(calls: int, service_s: float = 0.0) -> tuple[object, Stubber]:
    """A client answered by a stub, after `service_s` (as moto would take)."""
    client = boto3.client(
        "dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    if service_s:
        client.meta.events.register("before-parameter-build.dynamodb", lambda **_: time.sleep(service_s))
    stubber = Stubber(client)
    for _ in range(calls):
        stubber.add_response("put_item", {})
    stubber.activate()
    return client, stubber


def test_a_call_takes_at_least_its_p50() -> None:
    client, _ = stubbed(3)
    latency = Latency().install(client)
    started = time.perf_counter()
    for _ in range(3):
        client.put_item(TableName="t", Item=ITEM)
    assert time.perf_counter() - started >= 3 * PUT_S
    figures = latency.figures()
    assert figures["attempts"] == {"dynamodb.PutItem": 3}
    assert figures["injected_s"] == pytest.approx(3 * PUT_S, abs=0.005)
    assert figures["taken_out_s"] == 0 and figures["overlapped_calls"] == 0


def test_serial_calls_slower_than_their_p50_have_the_excess_taken_out() -> None:
    client, _ = stubbed(2)
    meter = SlowMeter(PUT_S + 0.02)  # 20 ms beyond the p50 each
    latency = Latency(meter).install(client)  # type: ignore[arg-type]
    for _ in range(2):
        client.put_item(TableName="t", Item=ITEM)
    assert meter.started == 2
    assert latency.taken_out_s == pytest.approx(0.04)
    assert latency.injected_s == 0


def test_overlapping_calls_keep_their_excess() -> None:
    client, _ = stubbed(4, service_s=0.05)
    meter = SlowMeter(PUT_S + 0.02)
    latency = Latency(meter).install(client)  # type: ignore[arg-type]
    barrier = threading.Barrier(4, timeout=5)

    def put() -> None:
        barrier.wait()
        client.put_item(TableName="t", Item=ITEM)

    threads = [threading.Thread(target=put) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures = latency.figures()
    assert figures["overlapped_calls"] >= 2  # at least two of the four met in flight
    assert figures["taken_out_s"] + figures["overlapped_excess_kept_s"] == pytest.approx(0.08)
    assert figures["overlapped_excess_kept_s"] >= 0.04
