"""Webhooks' pure rules: signatures (and the receivers' check), URL and address rules (SSRF),
the retry schedule, subscriptions' settings, secrets and views."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from loyalty_engine.events.models import KINDS
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.webhooks import signing
from loyalty_engine.webhooks.models import (
    RotateSecretRequest,
    SubscriptionSpec,
    new_subscription,
    replaced,
    rotated,
    subscription_id_for,
    view_of,
)
from loyalty_engine.webhooks.retries import SQS_MAX_DELAY_S, RetrySchedule, hop_delay
from loyalty_engine.webhooks.urls import address_allowed, check_url

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
BODY = '{"event_id":"e-1","kind":"points.earned"}'


# ------------------------------------------------------------------ signatures


def test_signature_is_stripes_scheme_hmac_sha256_over_timestamp_dot_body():
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_abc", b"1796000000." + BODY.encode(), hashlib.sha256).hexdigest()
    assert signing.sign("whsec_abc", 1796000000, BODY) == expected
    assert signing.signature_header(["whsec_abc"], 1796000000, BODY) == f"t=1796000000,v1={expected}"


def test_a_receiver_verifies_a_signed_body_and_refuses_tampering_replay_and_other_secrets():
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(secret) > 40
    header = signing.signature_header([secret], 1796000000, BODY)
    assert signing.verify(header, BODY, secret, now=1796000010) == 1796000000
    assert signing.verify(header, BODY.encode(), secret, now=1796000000) == 1796000000
    with pytest.raises(signing.SignatureError, match="no signature matches"):
        signing.verify(header, BODY.replace("e-1", "e-2"), secret, now=1796000000)
    with pytest.raises(signing.SignatureError, match="no signature matches"):
        signing.verify(header, BODY, signing.new_secret(), now=1796000000)
    with pytest.raises(signing.SignatureError, match="tolerance"):
        signing.verify(header, BODY, secret, now=1796000000 + 301)
    for broken in ("", "t=abc,v1=00", "v1=00", f"t=1796000000,v0={'0' * 64}"):
        with pytest.raises(signing.SignatureError):
            signing.verify(broken, BODY, secret, now=1796000000)


def test_during_a_rotation_grace_both_secrets_verify():
    old, new = signing.new_secret(), signing.new_secret()
    header = signing.signature_header([new, old], 1796000000, BODY)
    assert header.count("v1=") == 2
    for secret in (old, new):
        assert signing.verify(header, BODY, secret, now=1796000000)
    with pytest.raises(ValueError):
        signing.signature_header([], 1, BODY)


# ------------------------------------------------------------------ URLs and addresses


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address refused, not bound)
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "192.0.2.1",
        # 6to4 (2002::/16) carries an IPv4 address in its bits 16-48: a private one stays refused
        "2002:7f00:1::1",
        "2002:a9fe:a9fe::1",
        "2002:a00:1::",
        # IPv6 site-local (fec0::/10): deprecated, still routed inside some networks
        "fec0::1",
        "feff::1",
    ],
)
def test_private_local_reserved_multicast_and_metadata_addresses_are_refused(address):
    assert not address_allowed(address)


def test_public_addresses_are_allowed_and_the_local_stack_allows_loopback_but_never_metadata():
    assert address_allowed("93.184.216.34") and address_allowed("2606:2800:220:1:248:1893:25c8:1946")
    assert address_allowed("2002:5db8:d822::1")  # 6to4 of a public address (93.184.216.34)
    assert address_allowed(ipaddress.ip_address("8.8.8.8"))
    assert address_allowed("127.0.0.1", allow_private=True)
    assert address_allowed("10.0.0.1", allow_private=True)
    assert not address_allowed("169.254.169.254", allow_private=True)
    assert not address_allowed("fd00:ec2::254", allow_private=True)
    assert not address_allowed("224.0.0.1", allow_private=True)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.com/in", "webhook_url_not_https"),
        ("ftp://hooks.example.com/in", "invalid_webhook_url"),
        ("https:///in", "invalid_webhook_url"),
        ("https://user:pw@hooks.example.com/in", "invalid_webhook_url"),
        ("https://hooks.example.com/in#frag", "invalid_webhook_url"),
        ("https://hooks.example.com:99999/in", "invalid_webhook_url"),
        ("https://hooks.example.com/in put", "invalid_webhook_url"),
        # not ASCII outside the host: no request line can carry it (every delivery raised)
        ("https://hooks.example.com/caf\u00e9", "invalid_webhook_url"),
        ("https://hooks.example.com/in?q=\u00e9", "invalid_webhook_url"),
        ("https://hooks.example.com/in\u2028", "invalid_webhook_url"),
        ("https://127.0.0.1/in", "webhook_url_forbidden"),
        ("https://[::1]/in", "webhook_url_forbidden"),
        ("https://169.254.169.254/latest/meta-data", "webhook_url_forbidden"),
        ("https://[fd00:ec2::254]/", "webhook_url_forbidden"),
        ("https://[fec0::1]/in", "webhook_url_forbidden"),
        ("https://localhost/in", "webhook_url_forbidden"),
        ("https://api.localhost/in", "webhook_url_forbidden"),
        ("https://intranet/in", "webhook_url_forbidden"),
        ("https://metadata.google.internal/", "webhook_url_forbidden"),
        # IPv4 shorthands a resolver takes as addresses: loopback and the metadata address
        ("https://127.1/in", "webhook_url_forbidden"),
        ("https://0177.0.0.1/in", "webhook_url_forbidden"),
        ("https://0x7f.0.0.1/in", "webhook_url_forbidden"),
        ("https://2130706433/in", "webhook_url_forbidden"),
        ("https://169.254.43518/latest/meta-data", "webhook_url_forbidden"),
        ("https://10.1/in", "webhook_url_forbidden"),
        # host names in other scripts that the resolver's IDNA step makes a forbidden address or
        # name: full-width and circled digits, ideographic and full-width full stops
        ("https://\uff11\uff12\uff17.0.0.1/in", "webhook_url_forbidden"),
        ("https://\u2460\u2461\u2466\u30020\u30020\u30021/in", "webhook_url_forbidden"),
        ("https://169.254.169.254\uff0e/latest", "webhook_url_forbidden"),
        ("https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/in", "webhook_url_forbidden"),
        ("https://" + "\u00e9" * 70 + ".example.com/in", "invalid_webhook_url"),  # a label over 63
    ],
)
def test_obviously_bad_urls_are_refused_at_create_time(url, code):
    with pytest.raises(InvalidRequest) as refused:
        check_url(url)
    assert refused.value.code == code
    assert refused.value.details == [{"in": "body", "field": "url", "reason": code}]


def test_good_urls_pass_and_the_local_stack_allows_http_to_loopback():
    assert check_url("https://hooks.example.com/loyalty?x=1") == "https://hooks.example.com/loyalty?x=1"
    assert check_url("https://93.184.216.34:8443/in")
    assert check_url("https://cafe.example.com/in")  # hex letters in a name: not an address
    assert check_url("http://127.0.0.1:8081/in", allow_http=True, allow_private=True)
    assert check_url("http://localhost:8081/in", allow_http=True, allow_private=True)
    with pytest.raises(InvalidRequest):
        check_url("http://169.254.169.254/", allow_http=True, allow_private=True)


# ------------------------------------------------------------------ retries


def test_backoff_has_full_jitter_under_an_exponential_cap():
    schedule = RetrySchedule(base_s=30, cap_s=3600, window_s=86400)
    rng = random.Random(7)
    for attempt, bound in ((1, 30), (2, 60), (5, 480), (8, 3600), (30, 3600)):
        waits = [schedule.wait(attempt, rng) for _ in range(200)]
        assert all(0 <= wait <= bound for wait in waits)
        assert max(waits) > bound * 0.8 and min(waits) < bound * 0.2  # spread over [0, bound]


def test_retries_go_on_for_at_least_the_window_then_give_up():
    schedule = RetrySchedule(base_s=30, cap_s=3600, window_s=86400)
    rng = random.Random(1)
    first = now = 1_796_000_000.0
    attempt = 1
    while (due := schedule.next_due(first, now, attempt, rng)) is not None:
        assert due >= now
        now, attempt = due, attempt + 1
    assert now - first >= 86400, "gave up before 24 h"
    assert now - first < 86400 + 3600
    assert 20 < attempt < 200


def test_waits_longer_than_sqs_allows_are_hops_of_900_s():
    assert hop_delay(1000.0, 0.0) == SQS_MAX_DELAY_S
    assert hop_delay(100.2, 0.0) == 101
    assert hop_delay(5.0, 10.0) == 0


# ------------------------------------------------------------------ subscriptions


def spec(**overrides) -> SubscriptionSpec:
    return SubscriptionSpec.model_validate(
        {"url": "https://hooks.example.com/in", "kinds": ["points.earned", "tier.upgraded"]} | overrides
    )


def test_kinds_are_the_domain_events_kinds_or_star():
    assert spec(kinds=["points.earned", "points.earned"]).kinds == ["points.earned"]
    assert spec(kinds=["points.earned", "*"]).kinds == ["*"]
    with pytest.raises(ValidationError, match="unknown event kinds"):
        spec(kinds=["points.stolen"])
    with pytest.raises(ValidationError):
        spec(kinds=[])
    with pytest.raises(ValidationError):
        SubscriptionSpec.model_validate({"url": "https://a.example.com/", "kinds": ["*"], "secret": "x"})
    made = new_subscription("wh_X", spec(kinds=["*"]), NOW, "print")
    assert all(made.wants(kind) for kind in KINDS)
    assert not made.model_copy(update={"enabled": False}).wants("points.earned")
    picky = new_subscription("wh_X", spec(), NOW, "print")
    assert picky.wants("tier.upgraded") and not picky.wants("points.burned")


def test_the_secret_is_generated_server_side_and_never_in_the_view():
    made = new_subscription("wh_X", spec(), NOW, "print")
    other = new_subscription("wh_X", spec(), NOW, "print")
    assert made.secret != other.secret and made.secret.startswith("whsec_")
    view = view_of(made, NOW).model_dump()
    assert "secret" not in view and made.secret not in str(view)


def test_ids_derive_from_the_idempotency_key_per_group():
    assert subscription_id_for("demo", "k") == subscription_id_for("demo", "k")
    assert subscription_id_for("demo", "k") != subscription_id_for("demo-b", "k")
    assert subscription_id_for("demo", "k").startswith("wh_") and len(subscription_id_for("demo", "k")) == 29


def test_a_rotation_keeps_the_old_secret_for_its_grace_only():
    made = new_subscription("wh_X", spec(), NOW, "print")
    turned = rotated(made, 3600, NOW, "p2", "rot-1")
    assert turned.secret != made.secret and turned.version == made.version + 1
    assert turned.signing_secrets(NOW) == [turned.secret, made.secret]
    assert turned.signing_secrets(NOW + timedelta(seconds=3600)) == [turned.secret]
    assert view_of(turned, NOW).previous_secret_until == NOW + timedelta(hours=1)
    assert view_of(turned, NOW + timedelta(hours=2)).previous_secret_until is None
    at_once = rotated(made, 0, NOW, "p2", "rot-2")
    assert at_once.signing_secrets(NOW) == [at_once.secret]
    with pytest.raises(ValidationError):
        RotateSecretRequest.model_validate({"grace_seconds": 7 * 86400 + 1})


def test_replacing_with_the_same_settings_changes_nothing():
    made = new_subscription("wh_X", spec(), NOW, "print")
    assert replaced(made, spec(), NOW + timedelta(hours=1)) is made
    changed = replaced(made, spec(enabled=False), NOW + timedelta(hours=1))
    assert (changed.enabled, changed.version, changed.secret) == (False, 2, made.secret)


def test_the_dispatcher_reads_a_groups_subscriptions_once_per_ttl():
    from loyalty_engine.webhooks.delivery import SubscriptionCache

    class Store:
        reads: list[str] = []

        def all(self, group):
            self.reads.append(group)
            return [new_subscription("wh_X", spec(), NOW, "p")] if group == "demo" else []

    now = [0.0]
    store = Store()
    cache = SubscriptionCache(store, ttl_s=10, clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(100):
        assert [s.subscription_id for s in cache.of("demo")] == ["wh_X"]
    assert cache.of("demo-b") == []
    assert store.reads == ["demo", "demo-b"]
    now[0] = 10.0
    cache.of("demo")
    assert store.reads == ["demo", "demo-b", "demo"]
    uncached = SubscriptionCache(store, ttl_s=0, clock=lambda: now[0])  # type: ignore[arg-type]
    uncached.of("demo"), uncached.of("demo")
    assert store.reads[-2:] == ["demo", "demo"]
