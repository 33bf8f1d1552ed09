"""Pixel Shop: a tiny partner app that sells its own items for Coinstream coins and rewards
quests with coins (docs/partners.md). Standard library plus httpx.

    COINSTREAM_URL=http://127.0.0.1:8002 PARTNER_CLIENT_ID=pc_... PARTNER_CLIENT_SECRET=... \\
        python examples/partner_shop/shop.py --port 8800

Its own HTTP API (JSON):
- GET  /items                          the shop's catalog, prices in coins
- POST /link   {"user", "consent_token"}  a shop user links their Coinstream consent
- POST /buy    {"user", "item_id", "order_id"}  sells the item: debits the user's coins
- POST /reward {"user", "quest_id", "coins"}    credits coins for a finished quest

It gets an access token with its client credentials (OAuth2 client credentials, HTTP Basic),
keeps it until shortly before it expires, and gets a new one when Coinstream says it expired.
Each order and each quest is sent with an Idempotency-Key made from its own id, so a retried
request (a timeout, a double click) debits or credits once.
"""

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

CATALOG = {
    "sword-of-dawn": {"title": "Sword of Dawn", "coins": 50},
    "pixel-hat": {"title": "Pixel Hat", "coins": 20},
}


class Coinstream:
    """The partner API, as this shop uses it."""

    def __init__(self, url: str, client_id: str, client_secret: str):
        self.http = httpx.Client(base_url=url, timeout=10)
        self.auth = (client_id, client_secret)
        self.token: str | None = None
        self.expires = 0.0
        self.lock = threading.Lock()

    def access_token(self, fresh: bool = False) -> str:
        with self.lock:
            if fresh or self.token is None or time.time() > self.expires - 30:
                r = self.http.post(
                    "/oauth/token", data={"grant_type": "client_credentials"}, auth=self.auth
                )
                r.raise_for_status()
                body = r.json()
                self.token, self.expires = body["access_token"], time.time() + body["expires_in"]
            return self.token

    def call(self, path: str, body: dict, key: str) -> httpx.Response:
        for fresh in (False, True):  # once more with a new token if this one expired
            r = self.http.post(
                path,
                json=body,
                headers={
                    "Authorization": f"Bearer {self.access_token(fresh)}",
                    "Idempotency-Key": key,
                },
            )
            expired = r.status_code == 401 and r.json().get("type", "").endswith(
                ("/partner-token-expired", "/partner-secret-rotated")
            )
            if not expired:
                return r
        return r


class Shop:
    def __init__(self, coinstream: Coinstream):
        self.coinstream = coinstream
        self.consents: dict[str, str] = {}  # shop user -> their consent token

    def link(self, body: dict) -> tuple[int, dict]:
        self.consents[body["user"]] = body["consent_token"]
        return 200, {"linked": body["user"]}

    def buy(self, body: dict) -> tuple[int, dict]:
        item = CATALOG.get(body["item_id"])
        token = self.consents.get(body["user"])
        if item is None or token is None:
            return 404, {"error": "no such item, or the user has not linked Coinstream"}
        r = self.coinstream.call(
            "/v1/partner/debits",
            {"consent_token": token, "item_id": body["item_id"], **item},
            key=f"order-{body['order_id']}",
        )
        return r.status_code, r.json()

    def reward(self, body: dict) -> tuple[int, dict]:
        token = self.consents.get(body["user"])
        if token is None:
            return 404, {"error": "the user has not linked Coinstream"}
        r = self.coinstream.call(
            "/v1/partner/credits",
            {
                "consent_token": token,
                "reference": body["quest_id"],
                "reason": f"Quest {body['quest_id']} done",
                "coins": body["coins"],
            },
            key=f"quest-{body['user']}-{body['quest_id']}",
        )
        return r.status_code, r.json()


def handler(shop: Shop) -> type[BaseHTTPRequestHandler]:
    routes = {"/link": shop.link, "/buy": shop.buy, "/reward": shop.reward}

    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path == "/items":
                self.answer(200, CATALOG)
            else:
                self.answer(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            route = routes.get(self.path)
            if route is None:
                self.answer(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                self.answer(*route(body))
            except (KeyError, ValueError) as exc:
                self.answer(400, {"error": f"bad request: {exc}"})

        def log_message(self, *args) -> None:  # quiet
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8800)
    a = parser.parse_args()
    coinstream = Coinstream(
        os.environ["COINSTREAM_URL"],
        os.environ["PARTNER_CLIENT_ID"],
        os.environ["PARTNER_CLIENT_SECRET"],
    )
    server = ThreadingHTTPServer(("127.0.0.1", a.port), handler(Shop(coinstream)))
    print(f"pixel shop on http://127.0.0.1:{a.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
