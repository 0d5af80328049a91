-- wrk_enqueue.lua: the "enqueue, one job per request" row of DESIGN §9 driven
-- by wrk, a client much lighter than libcurl, so the figure shows the server
-- rather than the client. Each request is POST /v1/jobs with one small job
-- ({"n": <sequence>}); the connection count (-c) is the number in flight.
--
--   wrk -t2 -c64 -d10s -s bench/wrk_enqueue.lua http://127.0.0.1:7700
--
-- The API key is $BATON_KEY (else $BATON_API_KEY), sent as
-- "Authorization: Bearer <key>"; without one every answer is a 401, counted
-- as non2xx. The queue is $WRK_QUEUE (default "wrk-enqueue"). At the end it prints one
-- line with the acknowledged jobs/s (2xx answers only) and the latency
-- percentiles, in the same shape as the C benchmarks.

local queue = os.getenv("WRK_QUEUE") or "wrk-enqueue"
local counter = 0

wrk.method = "POST"
wrk.path = "/v1/jobs"
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BATON_KEY")
if key == nil or key == "" then key = os.getenv("BATON_API_KEY") end
if key ~= nil and key ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. key
end
-- WRK_PREFER=return=minimal sends "Prefer: return=minimal" (docs/api.md): the
-- answer is id, state and version only, as libbaton asks for when its caller
-- takes no job.
local prefer = os.getenv("WRK_PREFER")
if prefer ~= nil and prefer ~= "" then
	wrk.headers["Prefer"] = prefer
end

function setup(thread)
	-- Give every wrk thread its own sequence range so payloads stay distinct.
	thread:set("base", math.random(0, 1000000) * 1000000)
end

function request()
	counter = counter + 1
	local body = string.format('{"queue":"%s","type":"bench","payload":{"n":%d}}',
		queue, (base or 0) + counter)
	return wrk.format("POST", "/v1/jobs", nil, body)
end

function done(summary, latency, requests)
	local seconds = summary.duration / 1e6
	local errors = summary.errors
	local bad = errors.status + errors.connect + errors.read + errors.write + errors.timeout
	local ok = summary.requests - errors.status
	io.write(string.format(
		"wrk_enqueue requests=%d non2xx=%d socket_errors=%d elapsed=%.3f s throughput=%.0f jobs/s\n",
		summary.requests, errors.status,
		bad - errors.status, seconds, ok / seconds))
	io.write(string.format(
		"wrk_enqueue latency p50=%.3f ms p90=%.3f ms p99=%.3f ms max=%.3f ms mean=%.3f ms\n",
		latency:percentile(50) / 1000, latency:percentile(90) / 1000,
		latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
end
