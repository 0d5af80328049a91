"""Client tests against a real batond: every route, the answers' fields, errors.

The server runs with --idle-timeout-ms 500 so that the keep-alive reconnect is
exercised by a short sleep.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
import time
import unittest
import uuid

from baton import (BadRequest, BatonError, Client, Conflict, ConnectionFailed, Forbidden,
                   Job, NotFound, RateLimited, Unauthenticated, Unavailable)
from baton.models import Queue

from .server import REPO, Server, wait_until

srv: Server


def setUpModule() -> None:
    global srv
    srv = Server("--idle-timeout-ms", "500").start()


def tearDownModule() -> None:
    srv.stop()


def uq(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self.c = self.mk(srv.key, timeout=10)

    def tearDown(self) -> None:
        self.c.close()

    def mk(self, key: str, **kw) -> Client:
        return self.mk_url(srv.url, key, **kw)

    def mk_url(self, url: str, key: str, **kw) -> Client:
        c = Client(url, key, **kw)
        self.addCleanup(c.close)
        return c


class TestSurface(Base):
    def test_every_openapi_operation_has_a_method(self) -> None:
        with open(os.path.join(REPO, "docs", "openapi.json")) as f:
            doc = json.load(f)
        ops = [o["operationId"] for p in doc["paths"].values() for m, o in p.items()
               if m in ("get", "put", "post", "patch", "delete")]
        self.assertEqual(len(ops), 53)
        missing = [snake(o) for o in ops if not callable(getattr(Client, snake(o), None))]
        self.assertEqual(missing, [])

    def test_models_have_every_field_of_the_schemas(self) -> None:
        import baton.models as m
        with open(os.path.join(REPO, "docs", "openapi.json")) as f:
            schemas = json.load(f)["components"]["schemas"]
        pairs = {"Job": m.Job, "Queue": m.Queue, "Schedule": m.Schedule, "CronRun": m.CronRun,
                 "Timer": m.Timer, "ApiKey": m.ApiKey, "AuditEntry": m.AuditEntry,
                 "Worker": m.WorkerRecord, "Scheduler": m.Scheduler, "Attempt": m.Attempt,
                 "StatsPoint": m.StatsPoint,
                 "Step": m.Step, "Progress": m.Progress, "Backoff": m.Backoff,
                 "CronJobTemplate": m.CronJobTemplate, "Event": m.Event}
        for name, cls in pairs.items():
            fields = {f.name for f in dataclasses.fields(cls)}
            props = set(schemas[name].get("properties", {}))
            self.assertEqual(props - fields, set(), name)

    def test_unknown_members_land_in_extra(self) -> None:
        j = Job.from_dict({"id": "1", "state": "queued", "a_future_member": {"x": 1},
                           "backoff": {"type": "fixed", "base_ms": 5, "max_ms": 5, "new": 2}})
        self.assertEqual(j.id, "1")
        self.assertEqual(j.extra, {"a_future_member": {"x": 1}})
        self.assertEqual(j.backoff.extra, {"new": 2})
        self.assertEqual(j.to_dict()["a_future_member"], {"x": 1})


class TestSessions(Base):
    def test_sign_in_read_and_sign_out(self) -> None:
        s = self.c.create_session()
        self.assertTrue(s["cookie"].startswith("baton_session="))
        self.assertEqual(len(s["csrf_token"]), 64)
        self.assertEqual(s["session"]["tenant"], "default")
        cur = self.c.get_session(s["cookie"])
        self.assertEqual(cur["key_id"], s["session"]["key_id"])
        with self.assertRaises(Forbidden) as e:
            self.c.delete_session(s["cookie"], "0" * 64)
        self.assertEqual(e.exception.code, "csrf_required")
        self.c.delete_session(s["cookie"], s["csrf_token"])
        with self.assertRaises(Unauthenticated):
            self.c.get_session(s["cookie"])


class TestJobs(Base):
    def test_enqueue_every_field_and_get(self) -> None:
        q = uq()
        parent = self.c.enqueue(q, "p")
        job = self.c.enqueue(q, "welcome", {"user": 7}, priority="high", delay_ms=60000,
                             max_attempts=2, backoff={"type": "fixed", "base_ms": 100,
                                                      "max_ms": 100},
                             lease_ms=5000, timeout_ms=10000, key="k-1", on_key="keep",
                             unique_while="pending", request_id="rq-1", execution_id="ex-1",
                             traceparent="00-abc-def-01", depends_on=[int(parent.id)],
                             on_parent_failure="run", group="g1")
        self.assertIsInstance(job.id, str)
        self.assertEqual(job.state, "pending")
        got = self.c.get_job(job.id)
        self.assertEqual(got.extra, {}, "the server sent members the model lacks")
        self.assertEqual((got.queue, got.type, got.payload, got.priority), (q, "welcome",
                                                                           {"user": 7}, "high"))
        self.assertEqual((got.max_attempts, got.lease_ms, got.timeout_ms), (2, 5000, 10000))
        self.assertEqual(got.backoff.type, "fixed")
        self.assertEqual((got.key, got.group, got.request_id, got.execution_id),
                         ("k-1", "g1", "rq-1", "ex-1"))
        self.assertEqual(got.depends_on, [parent.id])
        self.assertEqual(got.on_parent_failure, "run")
        self.assertFalse(got.terminal)
        self.assertEqual(got.attempts, [])

    def test_idempotency_duplicate_and_conflict(self) -> None:
        q = uq()
        a = self.c.enqueue(q, "t", {"n": 1}, idempotency_key="idem-" + q)
        b = self.c.enqueue(q, "t", {"n": 1}, idempotency_key="idem-" + q)
        self.assertFalse(a.duplicate)
        self.assertTrue(b.duplicate)
        self.assertEqual(a.id, b.id)
        with self.assertRaises(Conflict) as cm:
            self.c.enqueue(q, "t", {"n": 2}, idempotency_key="idem-" + q)
        self.assertEqual((cm.exception.status, cm.exception.code), (409, "idempotency_conflict"))

    def test_key_replace_and_minimal(self) -> None:
        q = uq()
        a = self.c.enqueue(q, "t", {"v": 1}, key="dk", delay_ms=60000)
        b = self.c.enqueue(q, "t", {"v": 2}, key="dk", on_key="replace", delay_ms=60000)
        self.assertTrue(b.replaced)
        self.assertEqual((b.id, b.version, b.payload), (a.id, 2, {"v": 2}))
        m = self.c.enqueue(q, "t", minimal=True)
        self.assertEqual(m.state, "queued")
        self.assertIsNone(m.queue)  # return=minimal: id, state and version only
        self.assertEqual(self.c.get_job(m.id).queue, q)

    def test_errors_carry_status_code_field(self) -> None:
        with self.assertRaises(BadRequest) as cm:
            self.c.enqueue("bad queue!", "t")
        e = cm.exception
        self.assertEqual((e.status, e.code, e.field), (400, "name_invalid", "queue"))
        self.assertTrue(e.message)
        self.assertTrue(e.request_id)
        with self.assertRaises(NotFound) as cm2:
            self.c.get_job("987654321")
        self.assertEqual((cm2.exception.status, cm2.exception.code), (404, "not_found"))
        with self.assertRaises(BadRequest) as cm3:
            self.c.get_job("abc")
        self.assertEqual((cm3.exception.code, cm3.exception.field), ("invalid_id", "id"))
        with self.assertRaises(Unauthenticated) as cm4:
            self.mk("bk_k0000000000000000_" + "0" * 32).get_job("1")
        self.assertEqual((cm4.exception.status, cm4.exception.code), (401, "unauthenticated"))
        reader = self.c.create_key("reader-" + uq(), ["jobs:read"])
        with self.assertRaises(Forbidden) as cm5:
            self.mk(reader.secret).enqueue(uq(), "t")
        self.assertEqual((cm5.exception.status, cm5.exception.code), (403, "forbidden"))
        q = uq()
        queued = self.c.enqueue(q, "t")
        with self.assertRaises(Conflict) as cm6:
            self.c.retry_job(queued.id)
        self.assertEqual(cm6.exception.code, "invalid_state")

    def test_already_running_names_the_holder(self) -> None:
        q = uq()
        a = self.c.enqueue(q, "t", key="only-one", unique_while="active")
        with self.assertRaises(Conflict) as cm:
            self.c.enqueue(q, "t", key="only-one", unique_while="active")
        self.assertEqual((cm.exception.code, cm.exception.field, cm.exception.job_id),
                         ("already_running", "key", a.id))

    def test_batch_enqueue_and_list_crossing_pages(self) -> None:
        q = uq()
        jobs = self.c.enqueue_jobs([{"queue": q, "type": "t", "payload": {"i": i}}
                                    for i in range(25)])
        ids = [j.id for j in jobs]
        self.assertEqual([j.payload["i"] for j in jobs], list(range(25)))
        listed = [j.id for j in self.c.list_jobs(queue=q, limit=10)]
        self.assertEqual(listed, ids)
        desc = [j.id for j in self.c.list_jobs(queue=q, order="desc", limit=7)]
        self.assertEqual(desc, list(reversed(ids)))
        self.assertEqual(len(list(self.c.list_jobs(queue=q, state=["queued", "dead"],
                                                   limit=4))), 25)
        with self.assertRaises(BadRequest) as cm:
            list(self.c.list_jobs(state="nope"))
        self.assertEqual(cm.exception.field, "state")
        with self.assertRaises(BadRequest) as cm2:
            self.c.enqueue_jobs([{"queue": q, "type": "t"}, {"queue": q, "type": "t",
                                                             "delay": 5}])
        self.assertEqual((cm2.exception.code, cm2.exception.field),
                         ("unknown_field", "jobs[1].delay"))

    def test_wait_job(self) -> None:
        q = uq()
        job = self.c.enqueue(q, "t")

        def work() -> None:
            time.sleep(0.3)
            (claimed,) = self.c.claim_jobs(q, "waiter", max=1, wait_ms=2000)
            self.c.complete_job(claimed.id, claimed.lease, {"done": 1})

        t = threading.Thread(target=work)
        t.start()
        done = self.c.wait_job(job.id, timeout_ms=10000)
        t.join(10)
        self.assertEqual((done.state, done.result), ("completed", {"done": 1}))
        other = self.c.enqueue(q, "t", delay_ms=60000)
        t0 = time.monotonic()
        still = self.c.wait_job(other.id, timeout_ms=400)
        took = time.monotonic() - t0
        self.assertEqual(still.state, "scheduled")
        self.assertGreaterEqual(took, 0.35)
        self.assertLess(took, 5)

    def test_events(self) -> None:
        q = uq()
        job = self.c.enqueue(q, "t")
        page = self.c.list_events(queue=q, type="job.*")
        self.assertEqual([(e.type, e.subject["id"]) for e in page.events],
                         [("job.enqueued", job.id)])
        self.assertEqual(page.next, page.events[-1].id)

        def later() -> None:
            time.sleep(0.3)
            self.c.cancel_job(job.id)

        t = threading.Thread(target=later)
        t.start()
        t0 = time.monotonic()
        page = self.c.list_events(queue=q, after=page.next, wait_ms=5000)
        t.join(10)
        self.assertEqual([e.type for e in page.events], ["job.cancelled"])
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)
        self.assertFalse(self.c.update_queue(q, job_events=False).job_events)

    def test_work_routes(self) -> None:
        q = uq()
        a, b = self.c.enqueue_jobs([{"queue": q, "type": "t"}, {"queue": q, "type": "t"}])
        got = self.c.claim_jobs(q, "w-raw", max=2, lease_ms=5000,
                                info={"host": "h", "pid": 1, "labels": {"zone": "z"}})
        self.assertEqual(sorted(j.id for j in got), sorted([a.id, b.id]))
        self.assertTrue(all(j.lease and j.state == "running" for j in got))
        ja, jb = sorted(got, key=lambda j: int(j.id))
        hb = self.c.heartbeat_job(ja.id, ja.lease, progress=42)
        self.assertFalse(hb.cancel_requested)
        self.assertTrue(hb.lease_until)
        self.assertEqual(self.c.get_job(ja.id).progress.percent, 42)
        done = self.c.complete_job(ja.id, ja.lease, {"r": 1})
        self.assertEqual(done.state, "completed")
        again = self.c.complete_job(ja.id, ja.lease, {"r": 1})
        self.assertTrue(again.repeat)
        with self.assertRaises(Conflict) as cm:
            self.c.fail_job(jb.id, "not-the-lease", "x")
        self.assertEqual(cm.exception.code, "lease_mismatch")
        res = self.c.settle_batch([
            {"id": jb.id, "lease": jb.lease, "outcome": "fail", "error": "boom",
             "retryable": False},
            {"id": int(ja.id), "lease": ja.lease, "outcome": "fail", "error": "late"}])
        self.assertEqual([r.ok for r in res], [True, False])
        self.assertEqual(res[1].error["code"], "already_settled")
        self.assertEqual(self.c.get_job(jb.id).state, "dead")
        w = self.c.get_worker("w-raw")
        self.assertIn(q, w.queues)
        self.assertEqual(w.info["labels"], {"zone": "z"})
        self.assertIn("w-raw", [x.id for x in self.c.list_workers(limit=1)])

    def test_job_actions(self) -> None:
        q = uq()
        j = self.c.enqueue(q, "t", {"a": 1}, delay_ms=60000)
        e = self.c.edit_job(j.id, priority="critical", payload=None)
        self.assertEqual((e.priority, e.payload, e.version), ("critical", None, 2))
        with self.assertRaises(BadRequest) as cm:
            self.c.edit_job(j.id)
        self.assertEqual(cm.exception.code, "missing_field")
        p = self.c.promote_job(j.id)
        self.assertEqual(p.state, "queued")
        c = self.c.cancel_job(j.id)
        self.assertEqual((c.state, c.cancel_reason), ("cancelled", "cancelled"))
        r = self.c.retry_job(j.id)
        self.assertEqual(r.state, "queued")
        self.c.cancel_job(j.id)
        gone = self.c.cancel_job(j.id, purge=True)
        self.assertTrue(gone.purged)
        with self.assertRaises(NotFound):
            self.c.get_job(j.id)
        self.c.enqueue_jobs([{"queue": q, "type": "t"}] * 5)
        res = self.c.bulk_jobs("cancel", {"queue": q, "state": "queued"}, limit=2,
                               all_pages=True)
        self.assertEqual((res["matched"], res["changed"], res["next"]), (5, 5, None))
        with self.assertRaises(BadRequest) as cm2:
            self.c.bulk_jobs("cancel", {"sate": "queued"})
        self.assertEqual(cm2.exception.field, "filter.sate")

    def test_request_id_scope(self) -> None:
        q = uq()
        rid = "r-py-" + q
        with self.c.using_request_id(rid):
            j = self.c.enqueue(q, "t")
        self.assertEqual(j.request_id, rid)
        self.assertEqual([x.id for x in self.c.list_jobs(request_id=rid)], [j.id])
        self.assertNotEqual(self.c.enqueue(q, "t").request_id, rid)


class TestStats(Base):
    def test_counts_and_bad_step(self) -> None:
        q = uq("st")
        for _ in range(3):
            self.c.enqueue(q, "t")
        s = self.c.get_stats(queue=q, window_ms=120000)
        self.assertEqual(s.queue, q)
        self.assertEqual(s.step_ms, 60000)
        self.assertEqual(len(s.points), 2)
        self.assertTrue(s.from_.endswith(":00.000Z"))
        self.assertEqual(sum(p.enqueued for p in s.points), 3)
        self.assertEqual(s.to_dict()["from"], s.from_)
        self.assertIsNone(self.c.get_stats().queue)
        with self.assertRaises(BadRequest) as cm:
            self.c.get_stats(step_ms=1000)
        self.assertEqual(cm.exception.code, "step_ms_out_of_range")
        self.assertEqual(cm.exception.field, "step_ms")


class TestTransport(Base):
    def test_keepalive_reconnect(self) -> None:
        self.c.health()
        self.c.get_scheduler()
        before = self.c.transport.connects
        time.sleep(0.9)  # the server closes the idle connection after 500 ms
        self.assertEqual(self.c.get_scheduler().role, "leader")
        self.assertEqual(self.c.transport.connects, before + 1)
        self.assertGreaterEqual(self.c.transport.reconnects, 1)

    def test_connection_failed(self) -> None:
        with self.assertRaises(ConnectionFailed) as cm:
            self.mk_url("http://127.0.0.1:1", "x", timeout=2).health()
        self.assertEqual(cm.exception.status, 0)

    def test_rate_limited_retry_after(self) -> None:
        k = self.c.create_key("limited-" + uq(), ["jobs:read"],
                              rate_limit={"max": 1, "per_ms": 1000})
        job = self.c.enqueue(uq(), "t")
        c0 = self.mk(k.secret, max_retries=0)
        c0.get_job(job.id)
        with self.assertRaises(RateLimited) as cm:
            c0.get_job(job.id)
        e = cm.exception
        self.assertEqual((e.status, e.code), (429, "rate_limited"))
        self.assertGreaterEqual(e.retry_after, 1)
        c2 = self.mk(k.secret, max_retries=2)
        t0 = time.monotonic()
        c2.get_job(job.id)  # the bucket is empty: 429, wait, then 200
        self.assertGreaterEqual(c2.transport.retries, 1)
        self.assertGreater(time.monotonic() - t0, 0.3)

    def test_queue_full_503_retry(self) -> None:
        q = uq()
        self.c.update_queue(q, max_depth=1)
        first = self.c.enqueue(q, "t")
        with self.assertRaises(Unavailable) as cm:
            self.mk(srv.key, max_retries=0).enqueue(q, "t")
        e = cm.exception
        self.assertEqual((e.status, e.code, e.retry_after), (503, "queue_full", 1.0))
        t0 = time.monotonic()
        with self.assertRaises(Unavailable):
            self.mk(srv.key, max_retries=3, max_retry_wait=0.5).enqueue(q, "t")
        self.assertLess(time.monotonic() - t0, 0.9)  # Retry-After 1 s > 0.5: no wait
        timer = threading.Timer(0.3, lambda: self.c.cancel_job(first.id))
        timer.start()
        c3 = self.mk(srv.key, max_retries=3)
        second = c3.enqueue(q, "t")
        timer.join()
        self.assertEqual(second.state, "queued")
        self.assertGreaterEqual(c3.transport.retries, 1)


class TestQueues(Base):
    def test_settings_dead_letters_drain_delete(self) -> None:
        q = uq()
        qq = self.c.update_queue(q, paused=True, concurrency=3, rate={"max": 5, "per_ms": 1000},
                                 retention={"completed_ms": 60000})
        self.assertIsInstance(qq, Queue)
        self.assertEqual((qq.paused, qq.concurrency, qq.rate.max), (True, 3, 5))
        qq = self.c.update_queue(q, paused=False, concurrency=None)
        self.assertEqual((qq.paused, qq.concurrency), (False, None))
        with self.assertRaises(BadRequest) as cm:
            self.c.update_queue(q, concurrency=0)
        self.assertEqual((cm.exception.code, cm.exception.field),
                         ("setting_out_of_range", "concurrency"))
        j = self.c.enqueue(q, "t", max_attempts=1)
        (cl,) = self.c.claim_jobs(q, "w-dead", max=1)
        self.c.fail_job(cl.id, cl.lease, "broken")
        dead = list(self.c.list_dead_jobs(q, limit=1))
        self.assertEqual([(d.id, d.last_error) for d in dead], [(j.id, "broken")])
        self.assertEqual(self.c.replay_dead_jobs(q, ids=[j.id])["replayed"], 1)
        (cl,) = self.c.claim_jobs(q, "w-dead", max=1)
        self.c.fail_job(cl.id, cl.lease, "broken again", retryable=False)
        self.assertEqual(self.c.purge_dead_jobs(q)["purged"], 1)
        self.c.enqueue_jobs([{"queue": q, "type": "t"}] * 3)
        with self.assertRaises(Conflict) as cm2:
            self.c.delete_queue(q)
        self.assertEqual(cm2.exception.code, "queue_not_empty")
        self.assertEqual(self.c.drain_queue(q), {"cancelled": 3, "more": False})
        self.assertEqual(self.c.get_queue(q).counts.cancelled, 3)
        self.assertTrue(self.c.delete_queue(q)["deleted"])
        with self.assertRaises(NotFound):
            self.c.get_queue(q)

    def test_list_queues_crosses_pages(self) -> None:
        names = sorted(uq("lq") for _ in range(3))
        for n in names:
            self.c.enqueue(n, "t")
        listed = [x.name for x in self.c.list_queues(limit=1)]
        self.assertEqual([n for n in listed if n in names], names)


class TestKeysAuditTenants(Base):
    def test_keys_tenants_audit(self) -> None:
        t = uq("tenant")
        k = self.c.create_key("other-" + t, ["jobs:write", "jobs:read"], tenant=t)
        self.assertEqual((k.tenant, k.state), (t, "active"))
        self.assertTrue(k.secret.startswith("bk_"))
        other = self.mk(k.secret)
        job = other.enqueue("shared", "t")
        self.assertEqual(other.get_job(job.id).id, job.id)
        with self.assertRaises(NotFound):
            self.c.get_job(job.id)  # another tenant's job is 404, even for the admin
        self.assertIn(k.id, [x.id for x in self.c.list_keys(tenant="*", limit=2)])
        rotated = self.c.rotate_key(k.id, grace_ms=0)
        self.assertNotEqual(rotated.secret, k.secret)
        self.mk(rotated.secret).get_job(job.id)
        with self.assertRaises(Unauthenticated):
            self.mk(k.secret).get_job(job.id)
        self.assertEqual(self.c.revoke_key(k.id).state, "revoked")
        with self.assertRaises(Unauthenticated):
            self.mk(rotated.secret).get_job(job.id)
        with self.assertRaises(Conflict) as cm:
            self.c.rotate_key(k.id)
        self.assertEqual((cm.exception.code, cm.exception.field), ("key_revoked", "id"))
        targets = [e.target for e in self.c.list_audit(action="keys.create", tenant="*")]
        self.assertIn(k.id, targets)


class TestCronTimersFlows(Base):
    def test_cron(self) -> None:
        p = self.c.preview_cron("*/5 * * * *", count=3, from_="2026-01-01T00:00:00Z")
        self.assertEqual(p["fires"], ["2026-01-01T00:05:00.000Z", "2026-01-01T00:10:00.000Z",
                                      "2026-01-01T00:15:00.000Z"])
        self.assertFalse(self.c.preview_cron("61 * * * *")["valid"])
        key = uq("cron")
        q = uq()
        s = self.c.put_cron(key, "0 3 * * *", {"queue": q, "type": "rebuild",
                                               "payload": {"a": 1}},
                            timezone="Europe/Berlin", description="nightly")
        self.assertTrue(s.created)
        self.assertEqual((s.job.queue, s.timezone, s.overlap), (q, "Europe/Berlin", "skip"))
        s2 = self.c.put_cron(key, "0 4 * * *", {"queue": q, "type": "rebuild"})
        self.assertFalse(s2.created)
        self.assertEqual(self.c.get_cron(key).cron, "0 4 * * *")
        self.assertIn(key, [x.key for x in self.c.list_cron(limit=1)])
        self.assertEqual(self.c.pause_cron(key, note="maint").pause_note, "maint")
        self.assertFalse(self.c.resume_cron(key).paused)
        run = self.c.run_cron(key, payload={"b": 2})
        self.assertEqual(run.trigger, "manual")
        self.assertEqual(self.c.get_job(run.job_id).payload, {"b": 2})
        with self.assertRaises(Conflict) as cm:
            self.c.run_cron(key)
        self.assertEqual(cm.exception.code, "already_running")
        self.assertEqual([r.id for r in self.c.list_cron_runs(key, limit=1)], [run.id])
        with self.assertRaises(BadRequest) as cm2:
            self.c.put_cron(uq("cron"), "0 0 30 2 *", {"queue": q, "type": "t"})
        self.assertEqual(cm2.exception.code, "cron_never_fires")
        reg = self.c.apply_cron_registry([{"key": key + "-b", "cron": "0 5 * * *",
                                           "job": {"queue": q, "type": "t"}}])
        self.assertEqual(reg["created"], [key + "-b"])
        self.assertEqual(self.c.delete_cron(key + "-b"), {"deleted": True})
        with self.assertRaises(NotFound):
            self.c.get_cron(key + "-b")
        sch = self.c.get_scheduler()
        self.assertEqual(sch.role, "leader")
        self.assertGreaterEqual(sch.schedules, 1)

    def test_timers(self) -> None:
        pre = uq("tm")
        t = self.c.put_timer(pre + ":a", "drafts", "autopick", {"pick": 1}, delay_ms=3600000)
        self.assertEqual((t.version, t.state), (1, "scheduled"))
        t2 = self.c.put_timer(pre + ":a", "drafts", "autopick", {"pick": 2}, delay_ms=3600000,
                              if_version=1)
        self.assertEqual(t2.version, 2)
        with self.assertRaises(Conflict) as cm:
            self.c.put_timer(pre + ":a", "drafts", "autopick", delay_ms=1000, if_version=1)
        self.assertEqual(cm.exception.code, "version_mismatch")
        self.c.put_timer(pre + ":b", "drafts", "autopick", delay_ms=3600000)
        self.c.put_timer(pre + ":c", "drafts", "autopick", delay_ms=3600000)
        self.assertEqual([x.key for x in self.c.list_timers(prefix=pre, limit=2)],
                         [pre + ":a", pre + ":b", pre + ":c"])
        self.assertEqual(self.c.cancel_timer(pre + ":a", if_version=2).state, "cancelled")
        q = uq()
        self.c.put_timer(pre + ":now", q, "fire", {"x": 1}, fire_at="2020-01-01T00:00:00Z")
        fired = wait_until(lambda: self.c.get_timer(pre + ":now").job_id, timeout=10)
        self.assertTrue(fired)
        job = self.c.get_job(fired)
        self.assertEqual((job.timer.key, job.timer.version, job.payload),
                         (pre + ":now", 1, {"x": 1}))
        # A move that must not come after the fire (a user's pick): refused once fired.
        with self.assertRaises(Conflict) as cm2:
            self.c.put_timer(pre + ":now", q, "pick", delay_ms=0, if_version=1, if_scheduled=True)
        self.assertEqual((cm2.exception.code, cm2.exception.field),
                         ("invalid_state", "if_scheduled"))
        self.assertEqual(self.c.get_timer(pre + ":now").version, 1)

    def test_flows(self) -> None:
        q = uq()
        f = self.c.create_flow([{"ref": "a", "queue": q, "type": "fetch"},
                                {"ref": "b", "queue": q, "type": "load", "depends_on": ["a"]}])
        self.assertEqual(f.state, "running")
        self.assertEqual([(j.ref, j.state) for j in f.jobs], [("a", "queued"), ("b", "pending")])
        (a,) = self.c.claim_jobs(q, "w-flow", max=2)
        self.c.complete_job(a.id, a.lease, {"rows": 3})
        (b,) = self.c.claim_jobs(q, "w-flow", max=2, wait_ms=2000)
        self.assertEqual([(p.id, p.result) for p in b.parents], [(a.id, {"rows": 3})])
        self.c.complete_job(b.id, b.lease)
        self.assertEqual(self.c.get_flow(f.id).state, "completed")
        with self.assertRaises(BadRequest) as cm:
            self.c.create_flow([{"ref": "a", "queue": q, "type": "t", "depends_on": ["zz"]}])
        self.assertEqual(cm.exception.code, "unknown_ref")


class TestOperations(Base):
    def test_health_ready_metrics(self) -> None:
        self.assertEqual(self.c.health(), {"status": "ok"})
        self.assertEqual(self.c.ready()["status"], "ready")
        text = self.c.metrics()
        self.assertIn("baton_", text)
        reader = self.c.create_key("m-" + uq(), ["jobs:read"])
        with self.assertRaises(Forbidden):
            self.mk(reader.secret).metrics()
        self.assertIsInstance(BatonError(400, "x", "y"), Exception)


if __name__ == "__main__":
    unittest.main()
