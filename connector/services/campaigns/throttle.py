"""Send tokens for campaign chunks: a campaign's own throttle and the deployment's
SEND_RATE, counted in Redis so every worker on every machine shares them.

Fixed windows on the runtime's clock (the virtual one in tests): window `n` of a rate
N/per is [n*per, (n+1)*per). Tokens of every limit are taken in one Lua script, so two
workers never both take the last ones. A fixed window lets up to 2N through around a
window's edge; within any one window it is never more than N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis

# KEYS: one counter per limit. ARGV: wanted, then (limit, ttl ms) per key.
# Returns the tokens granted, then each key's room before the grant.
_TAKE = """
local grant = tonumber(ARGV[1])
local rooms = {}
for i, key in ipairs(KEYS) do
  local room = tonumber(ARGV[2 * i]) - tonumber(redis.call('GET', key) or '0')
  rooms[i] = room
  if room < grant then grant = room end
end
if grant < 0 then grant = 0 end
if grant > 0 then
  for i, key in ipairs(KEYS) do
    redis.call('INCRBY', key, grant)
    redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
  end
end
local result = {grant}
for i = 1, #rooms do result[i + 1] = rooms[i] end
return result
"""

CAMPAIGN_KEY = "connector:campaign:{}:rate:{}"
SEND_RATE_KEY = "connector:send-rate:{}"


@dataclass(frozen=True)
class Grant:
    """Tokens taken now, and when a limit that ran out opens its next window (None: none
    ran out); `keys` are the windows they were taken from."""

    tokens: int
    retry_at: datetime | None
    keys: tuple[str, ...] = ()


def take_tokens(redis: Redis, campaign_id: int, want: int, now: datetime, *,
                throttle: tuple[int, float] | None,
                send_rate: tuple[int, float] | None) -> Grant:
    """Up to `want` tokens under every limit given (none: all of them)."""
    limits: list[tuple[str, int, float]] = []
    at = now.timestamp()
    if throttle is not None:
        count, per = throttle
        limits.append((CAMPAIGN_KEY.format(campaign_id, math.floor(at / per)), count, per))
    if send_rate is not None:
        count, per = send_rate
        limits.append((SEND_RATE_KEY.format(math.floor(at / per)), count, per))
    if not limits or want <= 0:
        return Grant(max(want, 0), None)
    args: list[int] = [want]
    for _key, count, per in limits:
        # The counter outlives its window a little: clocks of machines differ.
        args += [count, int(per * 1000) * 2 + 60_000]
    granted, *rooms = redis.eval(_TAKE, len(limits), *[key for key, _, _ in limits], *args)
    granted, keys = int(granted), tuple(key for key, _, _ in limits)
    if granted >= want:
        return Grant(granted, None, keys)
    ends = [(math.floor(at / per) + 1) * per
            for (_key, _count, per), room in zip(limits, rooms, strict=True)
            if int(room) <= granted]
    retry_at = datetime.fromtimestamp(max(ends), UTC) if ends else None
    return Grant(granted, retry_at, keys)


def give_back(redis: Redis, grant: Grant, unused: int) -> None:
    """Return tokens a chunk did not use (fewer recipients were left than granted), for
    the other campaigns sharing SEND_RATE."""
    if unused <= 0 or not grant.keys:
        return
    with redis.pipeline() as pipe:
        for key in grant.keys:
            pipe.decrby(key, unused)
        pipe.execute()
