"""Which host a round-robin team booking goes to, among those free at its start: the rule a
customer can read (docs/booking-links.md, "Team links").

1. the fewest bookings of the type in the host-local ISO week of the start (those holding time:
   confirmed ones and pending requests), divided by the host's weight;
2. then whoever was assigned one least recently (never assigned: first);
3. then the lowest user id.

The caller holds every candidate's lock and read their bookings under it, so two guests
racing for the same hosts are assigned one after the other.
"""

from datetime import datetime, timezone
from fractions import Fraction

NEVER = datetime.min.replace(tzinfo=timezone.utc)


def assign(candidates, loads, last_assigned):
    """The host to take the booking and which rule decided: `candidates` (with .id and .weight)
    are the hosts free at the start, `loads` their bookings of the type that week by id,
    `last_assigned` when each was last assigned one (None: never)."""
    def rank(host):
        return Fraction(loads.get(host.id, 0), host.weight), last_assigned.get(host.id) or NEVER, host.id
    ranked = sorted(candidates, key=rank)
    if len(ranked) == 1:
        return ranked[0], "only_host_free"
    first, second = rank(ranked[0]), rank(ranked[1])
    reason = ("fewest_bookings" if first[0] < second[0] else
              "least_recently_assigned" if first[1] < second[1] else "lowest_id")
    return ranked[0], reason
