-- wrk script: GET /v1/claims/24312/<random wallet of 1..N> (N from WALLETS, default 1000000).
local n = tonumber(os.getenv("WALLETS") or "1000000")
math.randomseed(os.time())
request = function()
  local i = math.random(1, n)
  return wrk.format("GET", string.format("/v1/claims/24312/0x000000000000000000000000%016x", i))
end
