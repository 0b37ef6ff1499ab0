"""spec.trafficRouting: how the canary's share of traffic is carried, one provider each.

Exactly one field is set (CEL). Every provider edits only the weights of the primary and
canary backends in a user-owned object, except `replicas`, which has no router at all and
approximates the weight by the replica ratio of the two Deployments.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from imagerollout.api.fields import DNS_LABEL, DNS_SUBDOMAIN, ApiModel, cel, exactly_one, quoted

PROVIDERS = ("gatewayAPI", "inferencePool", "istio", "replicas")


def _name(what: str, max_length: int = 253, pattern: str = DNS_SUBDOMAIN) -> Any:
    return Field(description=what, min_length=1, max_length=max_length, pattern=pattern)


class HTTPRouteRef(ApiModel):
    name: str = _name(
        "Name of a user-owned HTTPRoute in the rollout's namespace. Only the weights of its "
        "backendRefs to <rollout>-primary and <rollout>-canary change."
    )


class GatewayAPIRouting(ApiModel):
    http_route: HTTPRouteRef = Field(description="The HTTPRoute whose weights move.")


class InferencePoolRouting(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.primaryPool != self.canaryPool",
                    "primaryPool and canaryPool must differ",
                    f"'primaryPool and canaryPool must differ, both are ' + "
                    f"{quoted('self.primaryPool')}",
                    field_path=".canaryPool",
                )
            ]
        }
    )
    http_route: HTTPRouteRef = Field(
        description="A user-owned HTTPRoute with a rule whose backendRefs are the two "
        "InferencePools (group inference.networking.k8s.io, kind InferencePool)."
    )
    primary_pool: str = _name(
        "The InferencePool (inference.networking.k8s.io/v1) serving the stable model: it "
        "selects the <rollout>-primary pods.",
        63,
        DNS_LABEL,
    )
    canary_pool: str = _name(
        "The InferencePool serving the canary: it selects the target Deployment's pods.",
        63,
        DNS_LABEL,
    )


class VirtualServiceRef(ApiModel):
    name: str = _name(
        "Name of a user-owned VirtualService (networking.istio.io/v1) in the rollout's "
        "namespace. Only the weights of its primary and canary destinations change."
    )
    routes: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="Names of the HTTP routes (spec.http[].name) whose weights move; empty: "
        "every HTTP route that lists both destinations.",
    )


class DestinationRuleRef(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.primarySubset != self.canarySubset",
                    "primarySubset and canarySubset must differ",
                    f"'primarySubset and canarySubset must differ, both are ' + "
                    f"{quoted('self.primarySubset')}",
                    field_path=".canarySubset",
                )
            ]
        }
    )
    name: str = _name(
        "A user-owned DestinationRule whose host the VirtualService routes to. The operator "
        "keeps the labels of its two subsets on the primary and canary pods."
    )
    primary_subset: str = Field(
        "primary", min_length=1, max_length=63, pattern=DNS_LABEL, description="Stable subset."
    )
    canary_subset: str = Field(
        "canary", min_length=1, max_length=63, pattern=DNS_LABEL, description="Canary subset."
    )


class IstioRouting(ApiModel):
    virtual_service: VirtualServiceRef = Field(description="The VirtualService to edit.")
    destination_rule: DestinationRuleRef | None = Field(
        None,
        description="Route by subsets of one host instead of to the <rollout>-primary and "
        "<rollout>-canary Services.",
    )


class ServiceRef(ApiModel):
    name: str = _name("Name of a Service in the rollout's namespace.", 63, DNS_LABEL)


class ReplicasRouting(ApiModel):
    service: ServiceRef | None = Field(
        None,
        description="The Service users reach, which must select both the primary and the "
        "canary pods (a label both carry, not the Deployment's selector). Checked when set.",
    )


class TrafficRouting(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                exactly_one(
                    PROVIDERS,
                    f"exactly one traffic provider must be set (supported: {', '.join(PROVIDERS)})",
                )
            ]
        }
    )
    gateway_api: GatewayAPIRouting | None = Field(
        None, alias="gatewayAPI", description="Gateway API HTTPRoute weights."
    )
    inference_pool: InferencePoolRouting | None = Field(
        None,
        description="Gateway API HTTPRoute weights between two InferencePools (Gateway API "
        "Inference Extension).",
    )
    istio: IstioRouting | None = Field(None, description="Istio VirtualService weights.")
    replicas: ReplicasRouting | None = Field(
        None,
        description="No router: the weight is approximated by the replica ratio of primary "
        "and canary behind one Service; status says how far the ratio is from the step.",
    )
