"""Everything pytest-xdist: the controller hands its run directory and server to the workers,
takes in what they recorded, and (under ``--llm-shards``) schedules shard k of every sharded
test on one worker and runs the meeting service where the shards agree on one start and
measure their clocks' offsets from the controller's. Registered only when xdist is present."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmserver.plugin.state import TARGET_KEY, recorder, run_dir, settings, shard_of

if TYPE_CHECKING:
    from pytest_llmserver.stress import MeetingService

MEETING_KEY: pytest.StashKey[MeetingService] = pytest.StashKey()


def shard_scope(nodeid: str) -> str:
    """The scheduling unit of a test: ``llm-shard<k>`` for shard k, else the test itself."""
    shard = shard_of(nodeid)
    return nodeid if shard is None else f"llm-shard{shard}"


def make_shard_scheduler(config: pytest.Config, log: Any) -> Any:
    """An xdist scheduler that keeps each shard index's tests on one worker (xdist's scope
    scheduling with our scopes; the largest scopes, the shard groups, go out first, one to a
    worker)."""
    from xdist.scheduler import LoadScopeScheduling

    class ShardScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return shard_scope(nodeid)

    return ShardScheduling(config, log)


class XdistHooks:
    """The xdist hooks of the plugin (registered from ``pytest_configure``)."""

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        """Controller: workers write into this run's directory and use its server."""
        config = node.config
        if settings(config).target.server is None:
            return
        node.workerinput["llm_run_dir"] = str(run_dir(config))
        if settings(config).stress.shards > 1:
            if MEETING_KEY not in config.stash:
                from pytest_llmserver.stress import MeetingService

                host = settings(config).stress.meeting_host
                config.stash[MEETING_KEY] = MeetingService(host).__enter__()
            node.workerinput["llm_meeting"] = config.stash[MEETING_KEY].address
        target = config.stash.get(TARGET_KEY, None)
        if target is not None:
            node.workerinput["llm_target"] = target.to_dict()

    @pytest.hookimpl
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """Under ``--llm-shards`` with xdist's default distribution, the shard scheduler."""
        if settings(config).stress.shards < 2 or config.getoption("dist") != "load":
            return None
        return make_shard_scheduler(config, log)

    @pytest.hookimpl
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Controller: stop the meeting service."""
        service = config.stash.get(MEETING_KEY, None)
        if service is not None:
            service.close()

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """Controller: take in what the worker recorded."""
        exported = getattr(node, "workeroutput", {}).get("llm_results")
        if exported:
            from pytest_llmserver.run import absorb  # the run's merge loads the engines

            absorb(recorder(node.config), exported)
