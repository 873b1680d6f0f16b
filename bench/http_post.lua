-- wrk script: one task per `POST /api/v1/tasks` (the echo agent), the request that
-- `imperium bench http` sends, from a load generator written in C.
--
--   IMPERIUM_RATE_LIMITS=native=100000000/minute DATABASE_URL=sqlite+aiosqlite:///b.db \
--     imperium serve --port 8000
--   wrk -t1 -c64 -d10s --latency -s bench/http_post.lua http://127.0.0.1:8000/api/v1/tasks
--
-- Every answer should be 201: wrk reports any other as "Non-2xx or 3xx responses". wrk is
-- a closed loop (each connection waits for its answer), so it measures the highest rate;
-- latency at a fixed rate is what `imperium bench http --rate 500` (an open loop) reports.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"type": "echo", "payload": {"n": 1}}'
