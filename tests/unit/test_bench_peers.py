"""The naive peer of `make bench` is our own gift path without batching: it must keep importing
the gifting API's request and response models as they move (it once broke silently)."""

from bench.peers import naive_app
from services.gifting.gifts import GiftCreate, GiftPublic


def test_naive_peer_serves_the_same_gift_contract():
    assert naive_app.GiftCreate is GiftCreate and naive_app.GiftPublic is GiftPublic


def test_naive_peer_builds_its_app():
    app = naive_app.create("postgresql://u:p@127.0.0.1:1/none", "naive.topic")
    assert any(getattr(r, "path", "") == "/v1/gifts" for r in app.routes)
