"""Offers, driven through the master harness: who gets them, declines, filters, timeouts."""

from __future__ import annotations

from harness import MasterHarness

from dcos_core.resources import Resources


def _offered(offer: dict[str, object]) -> Resources:
    return Resources.from_v1(offer["resources"])


async def test_a_subscribed_framework_is_offered_every_agent() -> None:
    """One offer per agent, holding all of the agent's resources, for the framework's role."""
    h = MasterHarness()
    a1 = await h.add_agent("cpus:4;mem:1024")
    a2 = await h.add_agent("cpus:2;mem:512")
    fw = await h.subscribe(role="web")
    assert [e["type"] for e in fw.events()] == ["SUBSCRIBED"]
    assert fw.events()[0]["subscribed"]["framework_id"]["value"] == fw.framework_id

    assert await h.allocate() == 2
    offers = {o["agent_id"]["value"]: o for o in fw.offers()}
    assert set(offers) == {a1, a2}
    assert _offered(offers[a2]).totals() == {"cpus": 2000, "mem": 512000}
    assert {o["allocation_info"]["role"] for o in offers.values()} == {"web"}
    assert offers[a1]["url"]["address"]["port"] == h.master.agents[a1].port
    # Nothing is left to offer until something comes back.
    assert await h.allocate() == 0


async def test_two_frameworks_share_the_agents() -> None:
    """Two frameworks of equal weight each get one of two equal agents (DRF)."""
    h = MasterHarness()
    await h.add_agent("cpus:2;mem:512")
    await h.add_agent("cpus:2;mem:512")
    f1 = await h.subscribe("one", role="a")
    f2 = await h.subscribe("two", role="b")
    await h.allocate()
    assert len(f1.offers()) == 1
    assert len(f2.offers()) == 1
    assert f1.offers()[0]["agent_id"] != f2.offers()[0]["agent_id"]


async def test_a_declined_offer_comes_back_after_its_refuse_filter() -> None:
    """DECLINE with refuse_seconds=30: no offer of that agent for 30 s, then it is offered again."""
    h = MasterHarness()
    await h.add_agent()
    fw = await h.subscribe()
    await h.allocate()
    [offer] = fw.offers()
    await h.decline(fw, [offer], refuse_seconds=30)
    assert h.master.offers == {}

    await h.advance(29)
    assert fw.offers() == []
    await h.advance(1)
    [again] = fw.offers()
    assert again["agent_id"] == offer["agent_id"]
    assert again["id"] != offer["id"]


async def test_decline_without_filters_uses_the_default_refuse_seconds() -> None:
    """The master's default_refuse_seconds (5 s here) applies to a plain DECLINE."""
    h = MasterHarness(default_refuse_seconds=5.0)
    await h.add_agent()
    fw = await h.subscribe()
    await h.allocate()
    await h.decline(fw, fw.offers())
    await h.advance(4.9)
    assert fw.offers() == []
    await h.advance(0.1)
    assert len(fw.offers()) == 1


async def test_suppress_stops_offers_and_revive_brings_them_back() -> None:
    h = MasterHarness()
    await h.add_agent()
    fw = await h.subscribe()
    await h.call(fw, "SUPPRESS", {})
    await h.allocate()
    assert fw.offers() == []
    await h.call(fw, "REVIVE", {})
    await h.allocate()
    assert len(fw.offers()) == 1


async def test_offers_time_out_and_are_rescinded() -> None:
    """With --offer_timeout, an offer not answered in time is rescinded and made again."""
    h = MasterHarness(offer_timeout=10.0)
    await h.add_agent()
    fw = await h.subscribe()
    await h.allocate()
    [first] = fw.offers()
    await h.advance(9, allocate=False)
    assert fw.events("RESCIND") == []
    await h.advance(1, allocate=False)
    assert [e["rescind"]["offer_id"] for e in fw.events("RESCIND")] == [first["id"]]
    assert fw.offers() == []
    await h.allocate()
    assert [o["agent_id"] for o in fw.offers()] == [first["agent_id"]]
