"""A NetCost gate's prices: what a failed text check and a second of waiting cost.

Net cost per image = cost + reworkCost when the image fails its text check + latencyCost x
seconds. A canary that costs more per image but fails its text check less often can cost less
per usable image; the cost and latency gates alone can only say "worse".
"""

from __future__ import annotations

from imagerollout.api.fields import ApiModel, decimal_field


class NetCostPrices(ApiModel):
    rework_cost: str = decimal_field(
        "Cost of reworking one image that fails its text check (a person redoing it, a retry), "
        "in the currency of the cost header or gpuSecondPrice.",
        "1000",
    )
    latency_cost: str = decimal_field(
        "Cost of one second of generation latency (0: latency is not priced).",
        "1000",
        default="0",
    )
