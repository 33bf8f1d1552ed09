"""The web dashboards in Debian's Chromium (Selenium + chromedriver, tests.support.browser) against the
running system after the demo's story, and their JSON in-process: each view drawn with a real
token shows the read models' numbers, a creator cannot open another creator's page, bad tokens
get the sign-in page, wrong roles a 403 page, absurd ranges a problem, and a year of one
creator's data loads in well under a second. Screenshots go to .cache/screenshots/."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from eventkit.auth import mint_token
from eventkit.codec import encode
from eventkit.db import create_pool, init_connection
from eventkit.deadletter import dead_letter_headers
from infra.node import dashboard_assets
from infra.paths import CACHE
from schemas.events.payout import DiamondsCredited, DiamondsReleased
from scripts import demo
from scripts.reconcile import reconcile
from scripts.reconcile_record import record as record_reconcile
from services.projections.api import create
from services.projections.dead_letters import DeadLetter
from services.projections.dead_letters import record as record_dead_letters
from services.projections.projector import Incoming, Projector
from tests.support.apps import api_client
from tests.support.browser import ensure_chromium
from tests.support.creators import envelope, gift_sent

SHOTS = CACHE / "screenshots"


def bearer(settings, user: str, roles: list[str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, user, roles)}"}


# -- in-process: who may read what, and bounds ------------------------------------------------


def credited(creator: str, stream: str, diamonds: int, when: datetime):
    return envelope(
        DiamondsCredited(
            creator_id=creator,
            gift_event_id=str(uuid.uuid4()),
            gift_id=f"g-{uuid.uuid4().hex[:8]}",
            stream_id=stream,
            coins=diamonds,
            diamonds_per_coin="1",
            reserve_percent="10",
            diamonds=diamonds,
            held=diamonds // 10,
            earned_after=diamonds,
        ),
        creator,
        when,
    )


async def project(pool, envelopes) -> None:
    projector = Projector(pool)
    for start in range(0, len(envelopes), 1000):
        chunk = envelopes[start : start + 1000]
        await projector.apply(
            [Incoming(encode(e), b"k", "t", 0, start + i) for i, e in enumerate(chunk)]
        )


async def test_roles_ranges_and_a_year_of_one_creator_under_a_second(prepared, pools):
    creator = f"creator-{uuid.uuid4().hex[:6]}"
    # a year of data: three credits a day over the 365 days of 2025, on 12 streams
    events = [
        credited(
            creator, f"s-{d % 12}", 10 + k, datetime(2025, 1, 1, 12, tzinfo=UTC) + timedelta(d)
        )
        for d in range(365)
        for k in range(3)
    ]
    await project(pools["projections"], events)
    dashboard_assets()  # what `python -m infra.node install` puts where the read API serves it
    async with api_client(create, prepared) as http:
        me = bearer(prepared, creator, ["creator"])
        started = time.perf_counter()
        r = await http.get("/v1/dashboard/creator?from=2025-01-01&to=2025-12-31", headers=me)
        took = time.perf_counter() - started
        assert r.status_code == 200, r.text
        body = r.json()
        assert took < 1.0, f"a year of one creator took {took:.3f}s"
        days = body["panels"]["days"]["rows"]
        assert (
            len(days) == 365
            and body["panels"]["days"]["view"] == "analytics.creator_daily_earnings"
        )
        assert sum(x["diamonds_earned"] for x in days) == 365 * 33
        assert body["panels"]["totals"]["rows"][0]["diamonds_earned"] == 365 * 33
        assert len(body["panels"]["streams"]["rows"]) == 12

        # nobody sees another creator's figures; roles decide the views
        r = await http.get(
            f"/v1/dashboard/creator?creator_id={creator}",
            headers=bearer(prepared, "creator-b", ["creator"]),
        )
        assert r.status_code == 403 and creator not in r.text
        assert (
            await http.get("/v1/dashboard/creator", headers=bearer(prepared, "fan-1", ["fan"]))
        ).status_code == 403
        assert (await http.get("/v1/dashboard/analyst", headers=me)).status_code == 403
        assert (
            await http.get("/v1/dashboard/ops", headers=bearer(prepared, "a-1", ["analyst"]))
        ).status_code == 403
        assert (
            await http.get("/v1/dashboard/analyst", headers=bearer(prepared, "a-1", ["analyst"]))
        ).status_code == 200
        assert (
            await http.get("/v1/dashboard/ops", headers=bearer(prepared, "o-1", ["admin"]))
        ).status_code == 200
        for path in ("/v1/dashboard/creator", "/v1/dashboard/analyst", "/v1/dashboard/ops"):
            assert (await http.get(path)).status_code == 401
            forged = {"Authorization": "Bearer eyJhbGciOiJFZERTQSJ9.e30.AAAA"}
            assert (await http.get(path, headers=forged)).status_code == 401

        # absurd ranges: typed problems, never run
        # (a malformed date is the schema's 422; a well-formed one outside the window a 409)
        for query, status, code in [
            ("from=2025-01-01&to=2026-12-31", 409, "invalid-range"),
            ("from=2025-03-01&to=2025-01-01", 409, "invalid-range"),
            ("from=0001-01-01", 409, "invalid-range"),
            ("from=yesterday", 422, "validation-error"),
        ]:
            r = await http.get(f"/v1/dashboard/creator?{query}", headers=me)
            assert r.status_code == status, (query, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["type"].endswith(code), r.json()

        # the page and its assets come from this origin
        assert "echarts.min.js" in (await http.get("/dashboard")).text
        js = await http.get("/dashboard/static/echarts.min.js")
        assert js.status_code == 200 and len(js.content) > 100_000
        assert (await http.get("/dashboard/static/nope.js")).status_code == 404


def held(creator: str, diamonds: int, release_at: datetime, when: datetime):
    """A credit whose `diamonds` are all held until `release_at`."""
    return envelope(
        DiamondsCredited(
            creator_id=creator,
            gift_event_id=str(uuid.uuid4()),
            gift_id=f"g-{uuid.uuid4().hex[:8]}",
            coins=diamonds * 10,
            diamonds_per_coin="1",
            reserve_percent="10",
            diamonds=diamonds * 10,
            held=diamonds,
            release_at=release_at,
            earned_after=diamonds * 10,
        ),
        creator,
        when,
    )


async def test_the_reserve_gifts_per_minute_dead_letters_and_reconcile_panels(prepared, pools):
    pool = pools["projections"]
    creator, stream = f"creator-{uuid.uuid4().hex[:6]}", f"live-{uuid.uuid4().hex[:6]}"
    t0 = datetime(2025, 6, 1, 20, 0, 5, tzinfo=UTC)
    week = timedelta(days=7)
    released = envelope(DiamondsReleased(creator_id=creator, diamonds=30, held_after=70), creator)
    events = [
        # three lots held a week; the first released since (the worker releases oldest first)
        held(creator, 30, t0 + week, t0),
        held(creator, 50, t0 + week + timedelta(hours=1), t0 + timedelta(hours=1)),
        held(creator, 20, t0 + week + timedelta(hours=2), t0 + timedelta(hours=2)),
        released,
        # a live stream: 2 gifts in its first minute, none in the second, 1 in the third
        gift_sent(creator, 5, stream=stream, time=t0),
        gift_sent(creator, 7, stream=stream, time=t0 + timedelta(seconds=50)),
        gift_sent(creator, 11, stream=stream, time=t0 + timedelta(minutes=2)),
    ]
    await project(pool, events)
    await project(pool, events)  # a redelivery changes nothing (the event ids repeat)
    consumer = f"c-{uuid.uuid4().hex[:6]}"
    part = 1000 + uuid.uuid4().int % 1_000_000
    letters = [
        DeadLetter(part, i, t0, dead_letter_headers(reason, "src", 0, i, consumer))
        for i, reason in enumerate(["not JSON: a", "not JSON: b", "signature: bad"])
    ]
    await record_dead_letters(pool, letters)

    class Report:
        checks = [("a check", 12, []), ("another", 3, ["x is off by 1", "y is off by 2"])]
        discrepancies = ["x is off by 1", "y is off by 2"]

    async with pool.acquire() as conn:
        await init_connection(conn)
        await record_reconcile(conn, Report())

    async with api_client(create, prepared) as http:
        me = bearer(prepared, creator, ["creator"])
        body = (
            await http.get("/v1/dashboard/creator?from=2025-06-01&to=2025-06-01", headers=me)
        ).json()
        reserve = body["panels"]["reserve"]
        assert reserve["view"] == "analytics.reserve_lots"
        assert [(r["release_at"][:16], r["diamonds"]) for r in reserve["rows"]] == [
            ("2025-06-08T21:00", 50),
            ("2025-06-08T22:00", 20),
        ]
        assert body["panels"]["totals"]["rows"][0]["diamonds_held"] == 70

        analyst = bearer(prepared, "analyst-1", ["analyst"])
        r = await http.get(
            f"/v1/dashboard/analyst?from=2025-06-01&to=2025-06-01&stream_id={stream}",
            headers=analyst,
        )
        gpm = r.json()["panels"]["gifts_per_minute"]
        assert gpm["view"] == "analytics.gifts_per_minute" and not gpm["capped"]
        assert [(x["minute"][11:16], x["gifts"], x["coins"]) for x in gpm["rows"]] == [
            ("20:00", 2, 12),
            ("20:02", 1, 11),
        ]
        # outside the range: nothing; the stream is a parameter like any other, capped and typed
        r = await http.get(
            f"/v1/dashboard/analyst?from=2025-06-02&to=2025-06-02&stream_id={stream}",
            headers=analyst,
        )
        assert r.json()["panels"]["gifts_per_minute"]["rows"] == []
        r = await http.get("/v1/dashboard/analyst?stream_id=a%20b", headers=analyst)
        assert r.status_code == 422

        ops = (await http.get("/v1/dashboard/ops", headers=bearer(prepared, "o", ["admin"]))).json()
        reasons = {
            (x["reason"], x["messages"])
            for x in ops["panels"]["dead_letter_reasons"]["rows"]
            if x["consumer"] == consumer
        }
        assert reasons == {("not JSON", 2), ("signature", 1)}
        assert ops["panels"]["dead_letter_reasons"]["view"] == "analytics.dead_letters"
        rec = ops["panels"]["reconcile"]
        assert rec["view"] == "analytics.reconcile_runs" and rec["run"]["discrepancies"] == 2
        assert [(c["check"], c["examined"], c["found"]) for c in rec["rows"]] == [
            ("a check", 12, 0),
            ("another", 3, 2),
        ]
        assert ops["missing"] == []


# -- in Chromium, against the running system ---------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    chromium, driver = ensure_chromium()
    dashboard_assets()  # npm ci of the locked ECharts before the first page asks for it
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,1600")
    chrome = webdriver.Chrome(options=options, service=Service(driver))
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield chrome
    chrome.quit()


def open_view(chrome, base: str, token: str | None, hash_: str, state: str) -> None:
    chrome.get(f"{base}/dashboard")
    chrome.execute_script(
        "arguments[0] ? sessionStorage.setItem('coinstream.token', arguments[0])"
        " : sessionStorage.clear()",
        token,
    )
    chrome.get(f"{base}/dashboard#{hash_}")
    chrome.refresh()
    app = chrome.find_element(By.ID, "app")
    try:
        WebDriverWait(chrome, 20).until(lambda c: app.get_attribute("data-state") == state)
    except TimeoutException:
        logs = chrome.get_log("browser")
        raise AssertionError(
            f"{hash_}: {app.get_attribute('data-state')!r}, not {state!r}: {app.text[:500]} {logs}"
        ) from None


def shoot(chrome, name: str) -> None:
    """A screenshot of the whole page (the window made as tall as it), into SHOTS."""
    width, height = chrome.get_window_size()["width"], chrome.get_window_size()["height"]
    tall = chrome.execute_script("return document.documentElement.scrollHeight")
    chrome.set_window_size(width, max(height, tall + 120))
    time.sleep(0.5)  # the charts redraw at the new size
    chrome.save_screenshot(str(SHOTS / name))
    chrome.set_window_size(width, height)


def table(chrome, panel: str) -> list[dict[str, str]]:
    rows = chrome.find_elements(By.CSS_SELECTOR, f"[data-panel={panel}] tbody tr")
    return [
        {td.get_attribute("data-col"): td.text for td in row.find_elements(By.TAG_NAME, "td")}
        for row in rows
    ]


async def until(fetch, predicate, timeout: float = 60):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate(got := await fetch()):
        assert asyncio.get_running_loop().time() < deadline, f"last answer: {got}"
        await asyncio.sleep(0.3)
    return got


async def test_the_three_views_in_chromium_draw_the_read_models(system, browser):
    settings = system.settings
    seen = await demo.main(
        settings,
        system.url("recharge"),
        system.url("gifting"),
        system.url("payout"),
        say=lambda *a: None,
    )
    creator, base = seen["creator"], system.url("projections")
    creator_token = mint_token(settings, creator, ["creator"])
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        await until(
            lambda: http.get("/v1/earnings", headers={"Authorization": f"Bearer {creator_token}"}),
            lambda r: r.json()["diamonds_paid"] == 2000,
        )
    pool = await create_pool(settings.database_for("projections"))
    try:
        totals = await pool.fetchrow(
            "SELECT * FROM analytics.creator_earnings WHERE creator_id = $1", creator
        )
        days = await pool.fetch(
            "SELECT day, diamonds_earned FROM analytics.creator_daily_earnings"
            " WHERE creator_id = $1 ORDER BY day",
            creator,
        )
        today = datetime.now(UTC).date()
        revenue = await pool.fetch(
            "SELECT day, country, currency, channel, net_minor FROM analytics.revenue_daily"
            " WHERE day BETWEEN $1 AND $2 ORDER BY day, country, currency, channel,"
            " settlement_currency",
            today - timedelta(29),
            today,
        )
        reserve = await pool.fetchrow(
            "SELECT still_held FROM analytics.creator_reserves WHERE creator_id = $1", creator
        )
        lots = await pool.fetch(
            "SELECT release_at, diamonds FROM analytics.reserve_lots WHERE creator_id = $1"
            " ORDER BY release_at",
            creator,
        )
        minutes = {
            r["stream_id"]: r["n"]
            for r in await pool.fetch(
                "SELECT stream_id, count(*) AS n FROM analytics.gifts_per_minute"
                " WHERE minute >= $1::date GROUP BY stream_id",
                today - timedelta(29),
            )
        }
    finally:
        await pool.close()

    # creator, signed in through the form: the figures drawn are the read model's
    open_view(browser, base, None, "/creator", "signin")
    browser.find_element(By.ID, "token").send_keys(creator_token)
    browser.find_element(By.ID, "signin").click()
    WebDriverWait(browser, 20).until(
        lambda c: c.find_element(By.ID, "app").get_attribute("data-state") == "creator"
    )
    for stat in (
        "diamonds_earned",
        "diamonds_available",
        "diamonds_held",
        "diamonds_pending",
        "diamonds_paid",
    ):
        shown = browser.find_element(By.CSS_SELECTOR, f"[data-stat={stat}] b").text
        assert int(shown) == totals[stat], stat
    assert [(r["day"], int(r["diamonds_earned"])) for r in table(browser, "days")] == [
        (str(r["day"]), r["diamonds_earned"]) for r in days
    ]
    assert table(browser, "payouts")[0]["diamonds"] == "2000"
    # the reserve: what is still held, lot by lot; the next release is the oldest of them
    # (the demo's 300 held until the reserve window ends: nothing released yet)
    assert reserve["still_held"] == totals["diamonds_held"] == 300
    drawn_lots = table(browser, "reserve")
    assert sum(int(r["diamonds"]) for r in drawn_lots) == 300
    assert [int(r["diamonds"]) for r in drawn_lots] == [x["diamonds"] for x in lots]
    stat = browser.find_element(By.CSS_SELECTOR, "[data-stat=next_release]")
    assert stat.find_element(By.TAG_NAME, "b").text == str(lots[0]["diamonds"])
    next_release = stat.text
    assert lots[0]["release_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M") in next_release
    assert browser.find_elements(By.CSS_SELECTOR, "[data-panel=days] canvas")
    shoot(browser, "dashboard-creator.png")
    browser.set_window_size(390, 1600)  # a phone: nothing wider than the screen
    open_view(browser, base, creator_token, "/creator", "creator")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390 + 1
    browser.save_screenshot(str(SHOTS / "dashboard-creator-phone.png"))
    browser.set_window_size(1280, 1600)

    # another creator's page: a 403 page, none of their figures
    other = mint_token(settings, f"creator-{uuid.uuid4().hex[:6]}", ["creator"])
    open_view(browser, base, other, f"/creator/{creator}", "forbidden")
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-stat]")
    assert str(totals["diamonds_earned"]) not in browser.find_element(By.ID, "app").text
    # a fresh creator: a clear empty state
    open_view(browser, base, other, "/creator", "creator")
    assert browser.find_element(By.ID, "empty").is_displayed()
    # forged, expired and missing tokens: the sign-in page and no data
    expired = mint_token(settings, creator, ["creator"], ttl_seconds=-120)
    for bad in ("not-a-token", creator_token[:-6] + "AAAAAA", expired, None):
        open_view(browser, base, bad, "/creator", "signin")
        assert not browser.find_elements(By.CSS_SELECTOR, "[data-stat]")
    # a fan on the analyst view: 403 page
    open_view(browser, base, mint_token(settings, seen["fan"]), "/analyst", "forbidden")

    # analyst: revenue rows as analytics.revenue_daily has them; CSV names the view
    analyst = mint_token(settings, "analyst-1", ["analyst"])
    open_view(browser, base, analyst, "/analyst", "analyst")
    drawn = table(browser, "revenue")
    assert [
        (r["day"], r["country"], r["currency"], r["channel"], int(r["net_minor"])) for r in drawn
    ] == [
        (str(r["day"]), r["country"], r["currency"], r["channel"], r["net_minor"]) for r in revenue
    ]
    link = browser.find_element(By.CSS_SELECTOR, "[data-panel=revenue] a.csv")
    assert link.get_attribute("download") == "analytics.revenue_daily.csv"
    assert "day%2Ccountry%2Ccurrency%2Cchannel" in link.get_attribute("href")
    for key in ("funnel", "commission", "liabilities", "top_creators"):
        assert (
            browser.find_element(By.CSS_SELECTOR, f"[data-panel={key}]")
            .get_attribute("data-view")
            .startswith("analytics.")
        )
    # gifts per minute of the latest stream (the demo's, live): the read model's minutes
    stream = browser.find_element(By.ID, "stream_id").get_attribute("value")
    assert stream in minutes, (stream, minutes)
    drawn = table(browser, "gifts_per_minute")
    assert len(drawn) == minutes[stream] and sum(int(r["gifts"]) for r in drawn) >= 1
    assert (
        browser.find_element(By.CSS_SELECTOR, "[data-panel=gifts_per_minute]").get_attribute(
            "data-view"
        )
        == "analytics.gifts_per_minute"
    )
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-missing]")
    shoot(browser, "dashboard-analyst.png")
    open_view(browser, base, analyst, "/analyst?from=1999-01-01&to=2025-01-01", "problem")

    # ops: the projections' lag per partition, the processes' own /metrics, dead letters by
    # reason (from the topic) and the last reconcile run, as the tables have them
    report = await reconcile(settings)
    pool = await create_pool(settings.database_for("projections"))
    try:
        reasons = await pool.fetch(
            "SELECT consumer, reason, messages FROM analytics.dead_letters"
            " ORDER BY messages DESC, consumer, topic, reason"
        )
    finally:
        await pool.close()
    open_view(browser, base, mint_token(settings, "ops-1", ["admin"]), "/ops", "ops")
    assert table(browser, "lag")
    for key in ("group_lag", "outbox", "red", "dead_letters", "processes"):
        assert browser.find_elements(By.CSS_SELECTOR, f"[data-panel={key}]"), key
    assert [
        (r["consumer"], r["reason"], int(r["messages"]))
        for r in table(browser, "dead_letter_reasons")
    ] == [(r["consumer"], r["reason"], r["messages"]) for r in reasons]
    shown = browser.find_element(By.CSS_SELECTOR, "[data-panel=reconcile]")
    assert int(shown.get_attribute("data-discrepancies")) == len(report.discrepancies)
    assert [r["check"] for r in table(browser, "reconcile")] == [n for n, _, _ in report.checks]
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-missing]")
    shoot(browser, "dashboard-ops.png")
